//! The query indices: live items by type, source, tag and time, and the
//! items whose earlier versions had each type, source and tag (with the
//! live ones, the as-of candidates).
//!
//! They are derived from the item table, but a checkpoint stores them
//! (bitmaps in roaring's own format): rebuilding them on open appended to
//! thousands of bitmaps in turn, a cache miss per append, and took half of
//! the open of a million items.

use roaring::RoaringBitmap;

use super::{ItemEvent, Items, NONE, TagSets, TimeIndex};

/// Bitmaps of item numbers by type, source and tag id.
#[derive(Debug, Clone, Default)]
pub struct ByAttribute {
    /// By type id.
    pub by_type: Vec<RoaringBitmap>,
    /// By source id.
    pub by_source: Vec<RoaringBitmap>,
    /// By tag id.
    pub by_tag: Vec<RoaringBitmap>,
}

impl ByAttribute {
    /// Adds or removes `item_no` in the bitmaps of `event`'s type, source and tags.
    fn update(&mut self, tagsets: &TagSets, item_no: u32, event: &ItemEvent, insert: bool) {
        let update = |bitmaps: &mut Vec<RoaringBitmap>, id: u32| {
            if id != NONE {
                let bitmap = bitmap_at(bitmaps, id);
                if insert {
                    // Not `try_push`, though new items carry the highest
                    // number yet: on a dense container it finds the maximum
                    // by scanning up to 1,024 words from the end, where an
                    // insert sets one bit.
                    bitmap.insert(item_no);
                } else {
                    bitmap.remove(item_no);
                }
            }
        };
        update(&mut self.by_type, event.type_id);
        update(&mut self.by_source, event.source_id);
        for &tag in tagsets.tags(event.tagset_id) {
            update(&mut self.by_tag, tag);
        }
    }

    /// Every bitmap, types then sources then tags, for a checkpoint.
    pub fn groups(&self) -> [&Vec<RoaringBitmap>; 3] {
        [&self.by_type, &self.by_source, &self.by_tag]
    }
}

/// The indices queries answer from.
#[derive(Debug, Clone, Default)]
pub struct Indices {
    /// Live items by the type, source and tags of their latest version.
    pub current: ByAttribute,
    /// Live items.
    pub live: RoaringBitmap,
    /// Live items by the timestamp of their latest version.
    pub by_time: TimeIndex,
    /// Items with a version that is no longer their latest event (later put
    /// or deleted) by its type, source and tags. With `current` they name
    /// every item that ever had each: a version is indexed once, in
    /// `current` while it is the latest and here after, so that a new
    /// item's put updates half as many bitmaps.
    pub past: ByAttribute,
}

impl Indices {
    /// The indices of `items`, built by a pass over every event.
    ///
    /// Appending to the bitmaps item by item would cost a cache miss per
    /// append (thousands of bitmaps, each append on another one). Instead
    /// each group's `(attribute, item)` pairs are collected in item order
    /// and every bitmap is built from its own sorted run at once.
    pub fn build(items: &Items, tagsets: &TagSets) -> Self {
        let (mut current, mut past) = (Pairs::default(), Pairs::default());
        let (mut live, mut by_time) = (Vec::with_capacity(items.len()), Vec::with_capacity(items.len()));
        for (item_no, row) in items.iter().enumerate() {
            let item_no = u32::try_from(item_no).expect("fewer than 4 billion items");
            let (_, earlier) = row.events.as_slice().split_last().expect("an item row has an event");
            for event in earlier {
                if !event.is_delete() {
                    past.add(tagsets, item_no, event);
                }
            }
            let last = row.last();
            if last.is_expired() {
                // As `unindex_item` did when it expired.
                past.add(tagsets, item_no, last);
            } else if !last.is_delete() {
                current.add(tagsets, item_no, last);
                live.push(item_no);
                by_time.push((last.timestamp_us, item_no));
            }
        }
        Indices {
            current: current.into_bitmaps(),
            live: sorted_bitmap(live),
            by_time: TimeIndex::from_entries(by_time),
            past: past.into_bitmaps(),
        }
    }

    /// Adds a live item's latest version, `latest`.
    pub fn index_item(&mut self, tagsets: &TagSets, item_no: u32, latest: &ItemEvent) {
        self.current.update(tagsets, item_no, latest, true);
        self.live.insert(item_no);
        self.by_time.push(latest.timestamp_us, item_no);
    }

    /// Moves a live item's latest version, `latest`, from the current
    /// indices to the past ones, before its next event is applied.
    pub fn unindex_item(&mut self, tagsets: &TagSets, items: &Items, item_no: u32, latest: &ItemEvent) {
        self.current.update(tagsets, item_no, latest, false);
        self.past.update(tagsets, item_no, latest, true);
        self.live.remove(item_no);
        if self.by_time.mark_stale() {
            // The item is out of `live` now, so its own entry goes with the stale ones.
            let live = &self.live;
            self.by_time.compact(|time_us, n| live.contains(n) && items.latest(n).timestamp_us == time_us);
        }
    }
}

/// `(attribute id, item number)` pairs for one [`ByAttribute`], added in
/// item number order.
#[derive(Default)]
struct Pairs {
    types: Vec<(u32, u32)>,
    sources: Vec<(u32, u32)>,
    tags: Vec<(u32, u32)>,
}

impl Pairs {
    fn add(&mut self, tagsets: &TagSets, item_no: u32, event: &ItemEvent) {
        if event.type_id != NONE {
            self.types.push((event.type_id, item_no));
        }
        if event.source_id != NONE {
            self.sources.push((event.source_id, item_no));
        }
        self.tags.extend(tagsets.tags(event.tagset_id).iter().map(|&tag| (tag, item_no)));
    }

    fn into_bitmaps(self) -> ByAttribute {
        ByAttribute {
            by_type: bitmaps_by_attribute(&self.types),
            by_source: bitmaps_by_attribute(&self.sources),
            by_tag: bitmaps_by_attribute(&self.tags),
        }
    }
}

/// One bitmap per attribute id, from pairs in item number order (a pair
/// may repeat). A counting sort by attribute is stable, so each
/// attribute's run of items stays in order.
fn bitmaps_by_attribute(pairs: &[(u32, u32)]) -> Vec<RoaringBitmap> {
    let Some(max_id) = pairs.iter().map(|&(id, _)| id as usize).max() else { return Vec::new() };
    let mut run_starts = vec![0usize; max_id + 2];
    for &(id, _) in pairs {
        run_starts[id as usize + 1] += 1;
    }
    for id in 1..run_starts.len() {
        run_starts[id] += run_starts[id - 1];
    }
    let mut sorted = vec![0u32; pairs.len()];
    let mut next = run_starts.clone();
    for &(id, item_no) in pairs {
        sorted[next[id as usize]] = item_no;
        next[id as usize] += 1;
    }
    run_starts.windows(2).map(|run| sorted_bitmap(dedup_sorted(&sorted[run[0]..run[1]]))).collect()
}

/// The distinct values of an ascending run.
fn dedup_sorted(run: &[u32]) -> impl Iterator<Item = u32> + '_ {
    run.iter().enumerate().filter(|&(i, n)| i == 0 || run[i - 1] != *n).map(|(_, &n)| n)
}

fn sorted_bitmap(ascending: impl IntoIterator<Item = u32>) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter(ascending).expect("item numbers are collected in ascending order")
}

fn bitmap_at(bitmaps: &mut Vec<RoaringBitmap>, id: u32) -> &mut RoaringBitmap {
    let index = id as usize;
    if bitmaps.len() <= index {
        bitmaps.resize_with(index + 1, RoaringBitmap::new);
    }
    &mut bitmaps[index]
}
