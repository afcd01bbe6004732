//! A query's results read a page at a time, so that a caller streaming a
//! million hits with their data holds one page, never the whole answer.
//!
//! Owns [`QueryCursor`]: the matching item numbers, chosen once under the
//! views' read lock (a compressed bitmap, a few bytes per hit), and the
//! bound they were chosen at. Each page takes the lock again only to turn
//! item numbers into ids and events, then reads metadata and data from the
//! log without it. Never holds the views' lock while reading the log or
//! while the caller writes a page out.

use roaring::RoaringBitmap;

use super::Store;
use super::item::ItemMeta;
use super::query::{Query, QueryHit};
use super::read::LATEST;
use super::views::{ItemEvent, Views};
use crate::error::{Error, Result};

/// The results of one query, handed out a page at a time in the order
/// [`Store::query`] returns them, each as of the moment the cursor was made
/// (or of its as-of bound): a version stored later is not seen, as if the
/// whole answer had been read at once.
///
/// ```
/// use recstore::{Data, Metadata, Query, Store, StoreOptions};
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreOptions::default())?;
/// for n in 0..5 {
///     store.put(Data::Json(n.into()), Metadata { item_type: Some("t".into()), ..Default::default() })?;
/// }
/// let mut cursor = store.query_cursor(&Query { item_type: Some("t".into()), ..Default::default() })?;
/// let mut seen = 0;
/// loop {
///     let page = cursor.next_items(&store, 2, true)?;
///     if page.is_empty() {
///         break;
///     }
///     seen += page.len();
/// }
/// assert_eq!(seen, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct QueryCursor {
    /// Item numbers not handed out yet, in order.
    remaining: roaring::bitmap::IntoIter,
    /// The first offset the results do not see.
    bound: u64,
    /// The views' renumber count when the numbers were chosen.
    renumber_count: u64,
    /// Results handed out so far.
    returned_count: u64,
}

impl Store {
    /// A cursor over the results of `query` (its `offset` and `limit`
    /// applied), for reading them a page at a time.
    pub fn query_cursor(&self, query: &Query) -> Result<QueryCursor> {
        self.query_cursor_at(query, LATEST)
    }

    pub(crate) fn query_cursor_at(&self, query: &Query, bound: u64) -> Result<QueryCursor> {
        let views = self.read_views();
        let limit = query.limit.unwrap_or(usize::MAX);
        let next_offset = views.state.next_offset;
        let matching: RoaringBitmap = if bound >= next_offset {
            query.matching(&views).iter().skip(query.offset).take(limit).collect()
        } else {
            let accepted = |n: &u32| views.row(*n).last_before(bound).is_some_and(|e| query.accepts(&views, e));
            query.candidates_before(&views, bound).filter(accepted).skip(query.offset).take(limit).collect()
        };
        Ok(QueryCursor {
            remaining: matching.into_iter(),
            bound: bound.min(next_offset),
            renumber_count: views.renumber_count(),
            returned_count: 0,
        })
    }
}

impl std::fmt::Debug for QueryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryCursor")
            .field("remaining_count", &self.remaining.len())
            .field("bound", &self.bound)
            .field("returned_count", &self.returned_count)
            .finish_non_exhaustive()
    }
}

impl QueryCursor {
    /// How many results are left to hand out.
    pub fn remaining_count(&self) -> usize {
        self.remaining.len()
    }

    /// The next ids, versions and offsets, at most `count_max` of them;
    /// empty once every result was handed out.
    pub fn next_hits(&mut self, store: &Store, count_max: usize) -> Result<Vec<QueryHit>> {
        let events = self.next_events(store, count_max)?;
        Ok(events.into_iter().map(|(id, e)| QueryHit { id, version: e.version, offset: e.offset }).collect())
    }

    /// The next results' metadata, as [`Store::query`] gives it.
    pub fn next_metas(&mut self, store: &Store, count_max: usize) -> Result<Vec<ItemMeta>> {
        let events = self.next_events(store, count_max)?;
        events.iter().map(|(id, event)| store.read_meta(id, event)).collect()
    }

    /// The next results as the JSON objects [`Store::item_json`] gives:
    /// metadata, with `data` or `data_base64` when `with_data`.
    pub fn next_items(&mut self, store: &Store, count_max: usize, with_data: bool) -> Result<Vec<serde_json::Value>> {
        let hits = self.next_hits(store, count_max)?;
        hits.iter().map(|hit| store.item_json_at(&hit.id, Some(hit.version), with_data, self.bound)).collect()
    }

    /// Up to `count_max` item numbers turned into ids and their events at
    /// the bound, under one short hold of the views' read lock.
    fn next_events(&mut self, store: &Store, count_max: usize) -> Result<Vec<(String, ItemEvent)>> {
        let views = store.read_views();
        if views.renumber_count() != self.renumber_count {
            return Err(Error::QueryCursorStale { returned_count: self.returned_count });
        }
        // An item a purge emptied is passed over, so that a page comes back
        // empty only at the end.
        let mut page = Vec::with_capacity(count_max.min(self.remaining.len()));
        while page.len() < count_max {
            let Some(item_no) = self.remaining.next() else { break };
            page.extend(event_at(&views, item_no, self.bound));
        }
        self.returned_count += page.len() as u64;
        Ok(page)
    }
}

/// Item `item_no`'s id and its state below `bound`. None only when a purge
/// since the cursor was made removed every version it had then (without
/// renumbering): a query run now would not list it either.
fn event_at(views: &Views, item_no: u32, bound: u64) -> Option<(String, ItemEvent)> {
    let row = views.row(item_no);
    row.last_before(bound).map(|event| (row.id.to_string(), *event))
}
