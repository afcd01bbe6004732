//! The search view as the store presents it: open it beside the store,
//! search, and map hits to item metadata.

use std::path::Path;
use std::sync::Arc;

use super::{CatchUp, SearchHit, SearchIndex, SearchOptions, stall_timeout};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::store::{ItemMeta, Store};

/// Name of the search index folder inside the data directory.
pub const SEARCH_DIR_NAME: &str = "search";

/// Opens the search view of a store's log. A store without a working search
/// view still opens: the view is derived, and reads and writes do not need
/// it. The failure is logged and every search reports it.
pub(crate) fn open_for_store(data_dir: &Path, log: &Arc<Log>, read_only: bool) -> Option<Arc<SearchIndex>> {
    let search_dir = data_dir.join(SEARCH_DIR_NAME);
    let options = SearchOptions::default();
    let opened = if read_only {
        SearchIndex::open_read_only(&search_dir, log, options)
    } else {
        SearchIndex::open(&search_dir, log, options)
    };
    match opened {
        Ok(index) => Some(Arc::new(index)),
        Err(error) => {
            tracing::error!(dir = %search_dir.display(), %error, "search index unavailable");
            None
        }
    }
}

impl Store {
    /// Items matching a tantivy query (`type:sensor_reading AND tags:raw_data`,
    /// free text, `timestamp:[2026-01-01T00:00:00Z TO *]`, `meta.site:lab-a`),
    /// best first, as of next-offset `as_of_next_offset`. The default is the
    /// point the store's other reads answer for, so latest versions of live
    /// items, including every write acknowledged before the call: it first
    /// waits for the index to cover them. A point before the compaction
    /// horizon is refused, as for every as-of read.
    pub fn search(&self, query: &str, limit: usize, as_of_next_offset: Option<u64>) -> Result<Vec<ItemMeta>> {
        self.search_hits(query, limit, as_of_next_offset)?
            .into_iter()
            .map(|hit| self.metadata(&hit.id, Some(hit.version)))
            .collect()
    }

    /// Like [`Store::search`], returning the raw hits with their scores.
    pub fn search_hits(&self, query: &str, limit: usize, as_of_next_offset: Option<u64>) -> Result<Vec<SearchHit>> {
        let index = self.search_index()?;
        // The views and the log can each be ahead of the other for a moment
        // (a write applies to the views before the log publishes it; a
        // read-only store's log follows the writer, its views do not), so
        // "now" is the point both have reached.
        let log_next = self.log().next_offset();
        let now = self.read_views().state.next_offset.min(log_next);
        let bound = as_of_next_offset.unwrap_or(now);
        if let Some((horizon_offset, horizon_us)) = self.compaction_horizon()
            && bound < horizon_offset
        {
            // The index may still hold versions compaction dropped (it is
            // not rewritten), and a rebuilt one would not: neither is exact.
            return Err(Error::BeforeHorizon {
                what: format!("search as of next offset {bound}"),
                earliest_exact_as_of: crate::store::earliest_exact_as_of(horizon_offset),
                horizon_time: crate::store::format_timestamp(horizon_us),
            });
        }
        index.wait_for(bound.min(log_next), stall_timeout())?;
        // The index is not rewritten by compaction, so it can still call a
        // version current that compaction expired or purged (and, after a
        // purge, beside a new put of the same id). The views know: a hit
        // counts only if it is the put they hold current at the bound. Such
        // leftovers are rare, so fetching more when some were dropped is cheap.
        let mut fetch_count = limit;
        loop {
            let hits = index.search(query, fetch_count, Some(bound))?;
            let doc_count = usize::try_from(index.doc_count()).unwrap_or(usize::MAX);
            let exhausted = hits.len() < fetch_count || fetch_count >= doc_count;
            let mut kept: Vec<SearchHit> = {
                let views = self.read_views();
                hits.into_iter().filter(|hit| views.is_current_put(&hit.id, hit.offset, bound)).collect()
            };
            if exhausted || kept.len() >= limit {
                kept.truncate(limit);
                return Ok(kept);
            }
            fetch_count = fetch_count.saturating_mul(4).min(doc_count);
        }
    }

    /// Blocks until searches see every record below `next_offset`, for as
    /// long as the index makes progress (see [`crate::limits::SEARCH_STALL_TIMEOUT_MS`]).
    pub fn search_wait_for(&self, next_offset: u64) -> Result<()> {
        self.search_index()?.wait_for(next_offset, stall_timeout())
    }

    /// Waits until a search as of next-offset `as_of_next_offset` (default:
    /// the point [`Store::search`] answers for) would not wait, telling
    /// `on_progress` how far the index has come meanwhile: what the CLI
    /// shows as a progress bar after a large import. A later search then
    /// answers at once.
    pub fn search_catch_up(&self, as_of_next_offset: Option<u64>, on_progress: impl FnMut(&CatchUp)) -> Result<()> {
        let index = self.search_index()?;
        let log_next = self.log().next_offset();
        let now = self.read_views().state.next_offset.min(log_next);
        let bound = as_of_next_offset.unwrap_or(now).min(log_next);
        index.wait_for_with_progress(bound, stall_timeout(), on_progress)
    }

    /// The search view, or why there is none.
    pub fn search_index(&self) -> Result<&SearchIndex> {
        let index = self.search.as_deref().and_then(|follower| follower.downcast_ref::<SearchIndex>());
        index.ok_or(Error::View {
            what: "search index",
            detail: format!(
                "it could not be opened in {} (the reason was logged); reopen the store to retry",
                self.dir().join(SEARCH_DIR_NAME).display()
            ),
        })
    }
}
