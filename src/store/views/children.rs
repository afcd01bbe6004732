//! The lineage children map: for each parent, the `(item number, version)`
//! of every put that named it in `parents`, in the order they were applied.
//!
//! A `HashMap<String, Vec<_>>` cost about 43 bytes an item at a million
//! items (a copy of the parent's id, a vector and its heap block). Here a
//! parent that is a stored item is found by its item number in a dense
//! array of list heads (4 bytes an item), and each link is 12 bytes in one
//! shared vector, chained to the parent's previous link. Parents that were
//! never stored (a link may name any id) are kept by name until their first
//! put, which adopts their list.

use hashbrown::HashMap;

/// No link: the end of a chain, or a parent without children.
const NO_LINK: u32 = u32::MAX;

/// One child of one parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Item number of the child.
    pub child_item_no: u32,
    /// The child's version that named the parent.
    pub child_version: u32,
    /// Index of the parent's previous link, or `u32::MAX` (none).
    pub previous: u32,
}

/// Children of every parent.
#[derive(Debug, Clone, Default)]
pub struct Children {
    /// Newest link of each parent by item number (`u32::MAX`: none); shorter
    /// than the item table when the last items have no children.
    heads: Vec<u32>,
    /// Newest link of each parent that is not a stored item.
    by_name: HashMap<Box<str>, u32>,
    links: Vec<Link>,
}

/// A parent, as [`Children::parents`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// A stored item.
    Item(u32),
    /// An id no item has (yet).
    Name(Box<str>),
}

impl Children {
    /// Adds a child to the parent with item number `parent_item_no`.
    pub fn add_to_item(&mut self, parent_item_no: u32, child_item_no: u32, child_version: u32) {
        let index = parent_item_no as usize;
        if self.heads.len() <= index {
            self.heads.resize(index + 1, NO_LINK);
        }
        self.heads[index] = self.push_link(self.heads[index], child_item_no, child_version);
    }

    /// Adds a child to a parent that is not a stored item.
    pub fn add_to_name(&mut self, parent_id: &str, child_item_no: u32, child_version: u32) {
        let previous = self.by_name.get(parent_id).copied().unwrap_or(NO_LINK);
        let head = self.push_link(previous, child_item_no, child_version);
        self.by_name.insert(parent_id.into(), head);
    }

    fn push_link(&mut self, previous: u32, child_item_no: u32, child_version: u32) -> u32 {
        let index = u32::try_from(self.links.len()).expect("fewer than 4 billion lineage links");
        assert!(index != NO_LINK, "fewer than 4 billion lineage links");
        self.links.push(Link { child_item_no, child_version, previous });
        index
    }

    /// A new item `item_no` takes over the children linked to its id by name.
    pub fn adopt(&mut self, id: &str, item_no: u32) {
        // Most stores never name a parent before storing it: skip the hash.
        if self.by_name.is_empty() {
            return;
        }
        if let Some(head) = self.by_name.remove(id) {
            let index = item_no as usize;
            if self.heads.len() <= index {
                self.heads.resize(index + 1, NO_LINK);
            }
            assert_eq!(self.heads[index], NO_LINK, "a new item has no children by number yet");
            self.heads[index] = head;
        }
    }

    /// Children of item `parent_item_no`, oldest first.
    pub fn of_item(&self, parent_item_no: u32) -> Vec<(u32, u32)> {
        self.chain(self.heads.get(parent_item_no as usize).copied().unwrap_or(NO_LINK))
    }

    /// Children of `parent_id`, which is not a stored item, oldest first.
    pub fn of_name(&self, parent_id: &str) -> Vec<(u32, u32)> {
        self.chain(self.by_name.get(parent_id).copied().unwrap_or(NO_LINK))
    }

    fn chain(&self, mut link: u32) -> Vec<(u32, u32)> {
        let mut children = Vec::new();
        while link != NO_LINK {
            let Link { child_item_no, child_version, previous } = self.links[link as usize];
            children.push((child_item_no, child_version));
            link = previous;
        }
        children.reverse();
        children
    }

    /// Every parent with its children, oldest first.
    pub fn parents(&self) -> impl Iterator<Item = (Parent, Vec<(u32, u32)>)> + '_ {
        let items = self.heads.iter().enumerate().filter(|(_, head)| **head != NO_LINK);
        let items = items.map(|(n, &head)| (Parent::Item(u32::try_from(n).unwrap_or(u32::MAX)), self.chain(head)));
        let names = self.by_name.iter().map(|(name, &head)| (Parent::Name(name.clone()), self.chain(head)));
        items.chain(names)
    }

    /// Rebuilds the map through `map`, which gives each link's new parent
    /// and child, or `None` to drop it: after a purge removed versions or
    /// renumbered items.
    pub fn rebuild(&mut self, mut map: impl FnMut(&Parent, (u32, u32)) -> Option<(Parent, (u32, u32))>) {
        let old = std::mem::take(self);
        for (parent, children) in old.parents() {
            for child in children {
                match map(&parent, child) {
                    Some((Parent::Item(n), (child_no, version))) => self.add_to_item(n, child_no, version),
                    Some((Parent::Name(name), (child_no, version))) => self.add_to_name(&name, child_no, version),
                    None => {}
                }
            }
        }
    }

    /// The map's parts, for a checkpoint: heads by item number, heads by
    /// name, and the links.
    pub fn parts(&self) -> (&[u32], &HashMap<Box<str>, u32>, &[Link]) {
        (&self.heads, &self.by_name, &self.links)
    }

    /// A map from the parts [`Children::parts`] gave, after checking that
    /// every head and link points at a link before it.
    pub fn from_parts(heads: Vec<u32>, by_name: HashMap<Box<str>, u32>, links: Vec<Link>) -> Result<Self, String> {
        let in_range = |link: u32| link == NO_LINK || (link as usize) < links.len();
        if let Some(head) = heads.iter().chain(by_name.values()).find(|&&h| !in_range(h)) {
            return Err(format!("lineage head {head} past {} links", links.len()));
        }
        // Each link points backwards, so no chain can loop.
        for (index, link) in links.iter().enumerate() {
            if link.previous != NO_LINK && link.previous as usize >= index {
                return Err(format!("lineage link {index} points forward to {}", link.previous));
            }
        }
        Ok(Self { heads, by_name, links })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap as StdHashMap;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    type Model = StdHashMap<String, Vec<(u32, u32)>>;

    fn key(parent: &Parent, ids: &[String]) -> String {
        match parent {
            Parent::Item(n) => ids[*n as usize].clone(),
            Parent::Name(name) => name.to_string(),
        }
    }

    proptest! {
        /// Parents named before and after they are stored, against a map by id.
        #[test]
        fn children_match_a_map_by_id(ops in vec((0u8..12, 0u32..5, any::<bool>()), 1..80)) {
            let (mut children, mut model, mut ids) = (Children::default(), Model::new(), Vec::<String>::new());
            for (parent, version, store_parent) in ops {
                let parent_id = format!("p{parent}");
                if store_parent && !ids.contains(&parent_id) {
                    ids.push(parent_id.clone());
                    children.adopt(&parent_id, (ids.len() - 1) as u32);
                }
                let child_no = ids.len() as u32;
                match ids.iter().position(|id| *id == parent_id) {
                    Some(n) => children.add_to_item(n as u32, child_no, version),
                    None => children.add_to_name(&parent_id, child_no, version),
                }
                model.entry(parent_id).or_default().push((child_no, version));
            }
            for (id, expected) in &model {
                let got = match ids.iter().position(|i| i == id) {
                    Some(n) => children.of_item(n as u32),
                    None => children.of_name(id),
                };
                prop_assert_eq!(&got, expected);
            }
            let listed: Model = children.parents().map(|(p, c)| (key(&p, &ids), c)).collect();
            prop_assert_eq!(&listed, &model);
            children.rebuild(|parent, (child, version)| (version % 2 == 0).then(|| (parent.clone(), (child, version))));
            for (id, expected) in &model {
                let even: Vec<_> = expected.iter().copied().filter(|(_, v)| v % 2 == 0).collect();
                let got = match ids.iter().position(|i| i == id) {
                    Some(n) => children.of_item(n as u32),
                    None => children.of_name(id),
                };
                prop_assert_eq!(got, even);
            }
            let (heads, by_name, links) = children.parts();
            prop_assert!(Children::from_parts(heads.to_vec(), by_name.clone(), links.to_vec()).is_ok());
        }
    }
}
