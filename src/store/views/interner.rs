//! Small integer ids for repeated strings (types, sources, tags) and tag sets,
//! so an item row stores 4-byte ids instead of strings. The reverse maps
//! hash with hashbrown's default hasher: a replay interns several names
//! per put, and SipHash made that a visible cost.

use hashbrown::HashMap;

use serde::{Deserialize, Serialize};

/// Marks "no value" in an item row's type or source id.
pub const NONE: u32 = u32::MAX;

/// Maps strings to dense ids and back.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Interner {
    names: Vec<Box<str>>,
    #[serde(skip)]
    ids: HashMap<Box<str>, u32>,
}

impl Interner {
    /// The id of `name`, assigning the next one if it is new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 4 billion distinct names");
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name`, if it was ever seen.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of `id`.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Rebuilds the reverse map after deserialising.
    pub fn reindex(&mut self) {
        self.ids = self.names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
    }
}

/// Interns sorted sets of tag ids: most items share a few tag combinations.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct TagSets {
    sets: Vec<Box<[u32]>>,
    #[serde(skip)]
    ids: HashMap<Box<[u32]>, u32>,
}

impl TagSets {
    /// The id of this set of tag ids, which it sorts and deduplicates in
    /// place: the caller's buffer, reused from put to put, spares a replay
    /// an allocation per put for the sets it has seen before.
    pub fn intern(&mut self, tags: &mut Vec<u32>) -> u32 {
        tags.sort_unstable();
        tags.dedup();
        if let Some(&id) = self.ids.get(tags.as_slice()) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).expect("fewer than 4 billion tag sets");
        let tags: Box<[u32]> = tags.as_slice().into();
        self.sets.push(tags.clone());
        self.ids.insert(tags, id);
        id
    }

    /// The tag ids of set `id`.
    pub fn tags(&self, id: u32) -> &[u32] {
        &self.sets[id as usize]
    }

    /// Rebuilds the reverse map after deserialising.
    pub fn reindex(&mut self) {
        self.ids = self.sets.iter().enumerate().map(|(i, s)| (s.clone(), i as u32)).collect();
    }
}
