//! The id → item number map, keeping each id once.
//!
//! A `HashMap<Box<str>, u32>` would hold a second copy of every id beside
//! the one in the item table: a pointer, a length and a heap block, about
//! 50 bytes an item. This table holds item numbers only and compares
//! against the ids in the item table, so an item costs 5 bytes a bucket here.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::Items;

/// Item numbers, found by the id in their row.
#[derive(Debug, Default)]
pub struct IdIndex {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl IdIndex {
    /// An empty index with room for `item_count` items.
    pub fn with_capacity(item_count: usize) -> Self {
        Self { table: HashTable::with_capacity(item_count), hasher: DefaultHashBuilder::default() }
    }

    /// Makes room for `additional` more items without growing: growing
    /// rehashes every id, a cache miss each in the item table.
    pub fn reserve(&mut self, items: &Items, additional: usize) {
        let hasher = &self.hasher;
        self.table.reserve(additional, |&n| hasher.hash_one(items.id(n)));
    }

    /// Gives back the room beyond what the items need, if it is more than
    /// three times as much: shrinking rehashes every id, a cache miss each
    /// (6% of a full replay's time), and an index of 5 bytes a bucket can
    /// afford a table up to four times too large until the next open.
    pub fn shrink_if_oversized(&mut self, items: &Items) {
        if self.table.capacity() > 4 * self.table.len() {
            let hasher = &self.hasher;
            self.table.shrink_to_fit(|&n| hasher.hash_one(items.id(n)));
        }
    }

    /// The item number of `id`.
    pub fn get(&self, items: &Items, id: &str) -> Option<u32> {
        self.table.find(self.hasher.hash_one(id), |&n| items.id(n) == id).copied()
    }

    /// Adds `item_no`, whose row (already in `items`) holds an id not yet indexed.
    pub fn insert(&mut self, items: &Items, item_no: u32) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(items.id(item_no));
        debug_assert!(self.get(items, items.id(item_no)).is_none(), "each id is indexed once");
        self.table.insert_unique(hash, item_no, |&n| hasher.hash_one(items.id(n)));
    }
}
