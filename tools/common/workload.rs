//! Issue 3's workload ("Speed and memory"), shared by the benchmarks that
//! store it, so that their figures are about the same items.
//!
//! Owns the seeded generator and the shape of an item: about 512 bytes of
//! compact JSON (`seq`, `revision`, a sensor name, eight numbers, and a
//! random-letter `note` padded to the size), one of 10 types and one of
//! 1,000 sources (uniform), 1 to 3 distinct of 50 tags drawn with weights
//! 1/(k+1) (so that some tag is on about 10% of the items), and for one item
//! in five, 1 or 2 parents among the earlier items. Then N/4 updates, each a
//! new version of a uniformly drawn item with new data and the same metadata.
//! Item `index` and update `update_index` are pure functions of their
//! number, so two stores see identical items without keeping them.
//! Also the type+tag query of about 1% selectivity that the benchmarks
//! time on it.

use recstore::{Data, Metadata, NewItem, Query, StoreStats};
use serde_json::{Value, json};

pub const DATA_SIZE_BYTES: usize = 512;
pub const TYPE_COUNT: u64 = 10;
pub const SOURCE_COUNT: u64 = 1_000;
pub const TAG_COUNT: usize = 50;
/// One item in this many has parents.
pub const PARENT_ONE_IN: u64 = 5;
/// The seed of every benchmark that stores this workload: changing it
/// changes their items, and their figures stop being comparable to old runs.
pub const SEED: u64 = 0x7265_6373_746f_7265;

/// Independent random streams: one per purpose, so that drawing more of one
/// (say, more point gets) does not move another (the items).
pub const STREAM_METADATA: u64 = 1;
pub const STREAM_DATA: u64 = 2;
pub const STREAM_UPDATE: u64 = 3;
pub const STREAM_GET: u64 = 4;
pub const STREAM_DELETE: u64 = 5;
/// Of the live items, the fraction one type+tag query should return.
pub const QUERY_SELECTIVITY: f64 = 0.01;

/// Free for a benchmark's own draws (as-of points, query picks, ...).
pub const STREAM_BENCH: u64 = 16;

/// xorshift64, seeded through splitmix64 so that nearby seeds diverge.
pub struct Rng(u64);

impl Rng {
    /// Draw `index` of `stream` under the workload's [`SEED`].
    pub fn new(stream: u64, index: u64) -> Self {
        Self::seeded(SEED, stream, index)
    }

    /// The same generator under another seed, for a benchmark whose items
    /// differ from this workload's and must stay as they were.
    pub fn seeded(seed: u64, stream: u64, index: u64) -> Self {
        let mut z = (seed ^ stream.rotate_left(40) ^ index).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..bound` (the modulo bias is below 1e-12 for our bounds).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One generated item version, in plain fields so that a benchmark can
/// write it to SQL, CSV or HTTP as easily as to the store.
pub struct Item {
    pub id: String,
    pub data: Value,
    pub item_type: String,
    pub source_id: String,
    pub tags: Vec<String>,
    pub parents: Vec<String>,
}

impl Item {
    /// What `Store::put` takes.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            id: Some(self.id.clone()),
            item_type: Some(self.item_type.clone()),
            source_id: Some(self.source_id.clone()),
            tags: self.tags.clone(),
            parents: self.parents.clone(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn new_item(self) -> NewItem {
        let metadata = self.metadata();
        NewItem { data: Data::Json(self.data), metadata }
    }

    /// The metadata object without the id (a SQL baseline's `meta` column).
    pub fn meta_json(&self) -> Value {
        json!({ "type": self.item_type, "source_id": self.source_id, "tags": self.tags, "parents": self.parents })
    }

    /// The metadata object as the HTTP API and `recstore import` take it.
    pub fn metadata_json(&self) -> Value {
        let mut metadata = self.meta_json();
        metadata["id"] = Value::String(self.id.clone());
        metadata
    }

    /// `{"data": ..., "metadata": ...}`: a `POST /v1/items` body, and one
    /// line of the import format.
    pub fn body_json(&self) -> Value {
        json!({ "data": self.data, "metadata": self.metadata_json() })
    }
}

/// The generator. It holds only the tag weights and the item count that
/// updates draw from.
pub struct Workload {
    item_count: usize,
    /// Tags follow 1/(k+1) weights, so that some tag is on about 10% of the
    /// items and a type+tag query lands near 1% selectivity.
    tag_weights_cumulative: Vec<f64>,
}

impl Workload {
    /// `item_count` is N: the items that updates pick from.
    pub fn new(item_count: usize) -> Self {
        let mut total = 0.0;
        let tag_weights_cumulative = (0..TAG_COUNT)
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0);
                total
            })
            .collect();
        Self { item_count, tag_weights_cumulative }
    }

    pub fn item_count(&self) -> usize {
        self.item_count
    }

    pub fn id(index: usize) -> String {
        format!("item-{index:08}")
    }

    /// The first version of item `index`.
    pub fn item(&self, index: usize) -> Item {
        self.version(index, 0)
    }

    /// Update `update_index`: a new version of an existing item, with new
    /// data and the item's metadata (so the query selectivity stays put).
    pub fn update(&self, update_index: usize) -> Item {
        self.version(self.update_target(update_index), update_index + 1)
    }

    /// The item that update `update_index` writes a new version of.
    pub fn update_target(&self, update_index: usize) -> usize {
        Rng::new(STREAM_UPDATE, update_index as u64).below(self.item_count as u64) as usize
    }

    pub fn new_item(&self, index: usize) -> NewItem {
        self.item(index).new_item()
    }

    pub fn new_update(&self, update_index: usize) -> NewItem {
        self.update(update_index).new_item()
    }

    /// `count` ids drawn uniformly from the N items, the same on every run.
    pub fn random_ids(&self, count: usize) -> Vec<String> {
        let mut rng = Rng::new(STREAM_GET, 0);
        (0..count).map(|_| Self::id(rng.below(self.item_count as u64) as usize)).collect()
    }

    /// Item `index` with the data of `revision` (0 is the first version).
    fn version(&self, index: usize, revision: usize) -> Item {
        let mut rng = Rng::new(STREAM_METADATA, index as u64);
        let item_type = format!("type-{}", rng.below(TYPE_COUNT));
        let source_id = format!("source-{:04}", rng.below(SOURCE_COUNT));
        let tags = self.tags(&mut rng);
        let parents = if index > 0 && rng.below(PARENT_ONE_IN) == 0 {
            (0..1 + rng.below(2)).map(|_| Self::id(rng.below(index as u64) as usize)).collect()
        } else {
            Vec::new()
        };
        Item { id: Self::id(index), data: Self::data(index, revision), item_type, source_id, tags, parents }
    }

    /// 1 to 3 distinct tags by weight.
    fn tags(&self, rng: &mut Rng) -> Vec<String> {
        let tag_count = 1 + rng.below(3) as usize;
        let mut tags: Vec<String> = Vec::with_capacity(tag_count);
        while tags.len() < tag_count {
            let total = self.tag_weights_cumulative[TAG_COUNT - 1];
            let k = self.tag_weights_cumulative.partition_point(|&c| c < rng.unit() * total);
            let tag = format!("tag-{:02}", k.min(TAG_COUNT - 1));
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }

    /// About 512 bytes of compact JSON.
    pub fn data(index: usize, revision: usize) -> Value {
        let mut rng = Rng::new(STREAM_DATA, (index as u64) << 24 ^ revision as u64);
        let values: Vec<f64> = (0..8).map(|_| (rng.unit() * 100_000.0).round() / 100.0).collect();
        let mut object = json!({
            "seq": index,
            "revision": revision,
            "sensor": format!("sensor-{:04}", rng.below(5_000)),
            "unit": "celsius",
            "values": values,
        });
        let size_bytes = serde_json::to_vec(&object).map_or(0, |bytes| bytes.len());
        // `,"note":""` is 10 bytes.
        let note_len = DATA_SIZE_BYTES.saturating_sub(size_bytes + 10);
        let note: String = (0..note_len).map(|_| char::from(b'a' + rng.below(26) as u8)).collect();
        object["note"] = Value::String(note);
        object
    }
}

/// The type+tag query closest to [`QUERY_SELECTIVITY`] of the live items:
/// types are uniform over ten, so a tag on about 10% of the items.
/// `type_index` picks the type (cycling through them).
pub fn type_tag_query(stats: &StoreStats, type_index: usize) -> Result<Query, &'static str> {
    let types: Vec<&String> = stats.by_type.keys().collect();
    let item_type = types.get(type_index % types.len().max(1)).ok_or("the store has no types")?;
    let wanted = stats.items_live as f64 * QUERY_SELECTIVITY * types.len() as f64;
    let tag = stats
        .by_tag
        .iter()
        .min_by(|a, b| (*a.1 as f64 - wanted).abs().total_cmp(&(*b.1 as f64 - wanted).abs()))
        .map(|(tag, _)| tag.clone())
        .ok_or("the store has no tags")?;
    Ok(Query { item_type: Some((*item_type).clone()), tags: vec![tag], ..Query::default() })
}
