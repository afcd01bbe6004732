//! Time travel: reads as of any point in the log's history, and
//! point-in-time restore into a new store.
//!
//! Owns the meaning of "as of": a point is a log offset (the state after
//! the batch holding that record) or a time (the state after every record
//! stamped at or before it). Both resolve to a *bound*, the offset below
//! which records are visible, and every read takes a bound: the views keep
//! each item's version chain by offset, so an as-of read is a binary search,
//! never a replay. This module never writes to the source store.

mod restore;

pub use restore::RestoreReport;

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::store::{
    Dataset, DatasetSummary, Direction, HistoryEntry, ItemData, ItemMeta, LineageEntry, Query, QueryHit, Store,
    StoreStats, parse_time,
};

/// A point in the log's history.
///
/// ```
/// use recstore::timetravel::AsOf;
/// assert_eq!("@42".parse::<AsOf>()?, AsOf::Offset(42));
/// assert!(matches!("2026-11-25T10:00:00Z".parse::<AsOf>()?, AsOf::Time { .. }));
/// # Ok::<(), recstore::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The state after the record at this offset (and the rest of its batch).
    Offset(u64),
    /// The state after every record stamped at or before this time.
    Time {
        /// Microseconds since the Unix epoch.
        timestamp_us: u64,
    },
}

impl FromStr for AsOf {
    type Err = Error;

    /// Parses `@OFFSET` or an RFC 3339 time.
    fn from_str(text: &str) -> Result<Self> {
        match text.strip_prefix('@') {
            Some(offset) => offset
                .parse()
                .map(AsOf::Offset)
                .map_err(|_| Error::invalid(format!("{text:?}: after @ comes a log offset, like @123"))),
            None => parse_time(text).map(|timestamp_us| AsOf::Time { timestamp_us }),
        }
    }
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Offset(offset) => write!(f, "@{offset}"),
            AsOf::Time { timestamp_us } => f.write_str(&crate::store::format_timestamp(*timestamp_us)),
        }
    }
}

impl Store {
    /// The time `when` names, in microseconds since the epoch: itself, or
    /// the timestamp of the record at an offset. What `since`, `until` and
    /// a compaction's `before` take, so that `@OFFSET` means the same
    /// everywhere.
    pub fn timestamp_of(&self, when: AsOf) -> Result<u64> {
        match when {
            AsOf::Time { timestamp_us } => Ok(timestamp_us),
            AsOf::Offset(offset) if offset >= self.log().next_offset() => Err(Error::invalid(format!(
                "@{offset} is past the end of the log (next offset {})",
                self.log().next_offset()
            ))),
            AsOf::Offset(offset) => Ok(self.log().read(offset)?.timestamp_us),
        }
    }

    /// The bound (first invisible offset) that `as_of` means for this log.
    pub fn resolve_as_of(&self, as_of: AsOf) -> Result<u64> {
        let log = self.log();
        let bound = match as_of {
            AsOf::Offset(offset) if offset >= log.next_offset() => {
                return Err(Error::invalid(format!(
                    "as-of @{offset} is past the end of the log (next offset {})",
                    log.next_offset()
                )));
            }
            AsOf::Offset(offset) => log.batch_end(offset)?,
            AsOf::Time { timestamp_us } => log.offset_at_time(timestamp_us.saturating_add(1))?,
        };
        self.check_horizon(as_of, bound)?;
        Ok(bound)
    }

    /// Reads as of a point in history.
    ///
    /// ```
    /// use recstore::{Data, Metadata, Store, StoreOptions, timetravel::AsOf};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// let id = Metadata { id: Some("x".into()), ..Default::default() };
    /// let first = store.put(Data::Json(1.into()), id.clone())?;
    /// store.put(Data::Json(2.into()), id)?;
    /// let then = store.at(AsOf::Offset(first.offset))?;
    /// assert_eq!(then.get("x")?.json()?, serde_json::json!(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(&self, as_of: AsOf) -> Result<StoreAt<'_>> {
        Ok(StoreAt { store: self, bound: self.resolve_as_of(as_of)? })
    }

    /// Reads as of `as_of`, or of now when `None`: the shape every surface uses.
    pub fn at_or_latest(&self, as_of: Option<AsOf>) -> Result<StoreAt<'_>> {
        match as_of {
            Some(as_of) => self.at(as_of),
            None => Ok(StoreAt { store: self, bound: u64::MAX }),
        }
    }

    /// As-of reads are exact only after the compaction horizon.
    fn check_horizon(&self, as_of: AsOf, bound: u64) -> Result<()> {
        match self.compaction_horizon() {
            Some((offset, timestamp_us)) if bound < offset => Err(Error::BeforeHorizon {
                what: format!("as-of {as_of}"),
                earliest_exact_as_of: crate::store::earliest_exact_as_of(offset),
                horizon_time: crate::store::format_timestamp(timestamp_us),
            }),
            _ => Ok(()),
        }
    }
}

/// The store as of one point: every read sees exactly the records below
/// [`StoreAt::bound`].
pub struct StoreAt<'a> {
    store: &'a Store,
    bound: u64,
}

impl StoreAt<'_> {
    /// The first offset this view does not see (`u64::MAX` for "now").
    pub fn bound(&self) -> u64 {
        self.bound
    }

    /// The item's version current then.
    pub fn get(&self, id: &str) -> Result<ItemData> {
        self.store.get_at(id, None, self.bound)
    }

    /// A version that existed then.
    pub fn get_version(&self, id: &str, version: u32) -> Result<ItemData> {
        self.store.get_at(id, Some(version), self.bound)
    }

    /// Metadata of the version current then, or of `version`.
    pub fn metadata(&self, id: &str, version: Option<u32>) -> Result<ItemMeta> {
        self.store.metadata_at(id, version, self.bound)
    }

    /// An item version's metadata as a JSON object, with `data` when asked.
    pub fn item_json(&self, id: &str, version: Option<u32>, with_data: bool) -> Result<serde_json::Value> {
        self.store.item_json_at(id, version, with_data, self.bound)
    }

    /// The item's history up to then.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        self.store.history_at(id, self.bound)
    }

    /// Items that matched then, with the versions current then.
    pub fn query(&self, query: &Query) -> Result<Vec<ItemMeta>> {
        self.store.query_at(query, self.bound)
    }

    /// Ids and versions that matched then.
    pub fn query_hits(&self, query: &Query) -> Result<Vec<QueryHit>> {
        self.store.query_hits_at(query, self.bound)
    }

    /// A cursor over the items that matched then, to read a page at a time.
    pub fn query_cursor(&self, query: &Query) -> Result<crate::store::QueryCursor> {
        self.store.query_cursor_at(query, self.bound)
    }

    /// How many items matched then.
    pub fn count(&self, query: &Query) -> Result<u64> {
        self.store.count_at(query, self.bound)
    }

    /// The dataset as it was then.
    pub fn dataset(&self, name: &str, version: Option<u32>) -> Result<Dataset> {
        self.store.dataset_at(name, version, self.bound)
    }

    /// The dataset as one JSON object, as it was then.
    pub fn dataset_json(&self, name: &str, version: Option<u32>, with_data: bool) -> Result<serde_json::Value> {
        self.store.dataset_json_at(name, version, with_data, self.bound)
    }

    /// Datasets that existed then.
    pub fn list_datasets(&self) -> Vec<DatasetSummary> {
        self.store.list_datasets_at(self.bound)
    }

    /// Lineage as the links stood then.
    pub fn lineage(&self, id: &str, direction: Direction, depth: u32) -> Result<Vec<LineageEntry>> {
        self.store.lineage_at(id, direction, depth, self.bound)
    }

    /// Full-text and field search over the versions current then.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<ItemMeta>> {
        let bound = (self.bound != u64::MAX).then_some(self.bound);
        self.store.search(query, limit, bound)
    }

    /// Counts as they were then.
    pub fn stats(&self) -> StoreStats {
        self.store.stats_at(self.bound)
    }
}
