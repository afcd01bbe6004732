//! recstore: an event-sourced, append-only log store for versioned data items.
//!
//! Every write (a new item version, a delete, a dataset) is a record
//! appended to the [`log`]; everything else is a view rebuilt by replaying
//! it. Start with [`Store`].
//!
//! Layers, each depending only on those below it:
//! - [`storage`]: file I/O with a fault-injection seam.
//! - [`log`]: segments, frames, recovery, group commit, reads.
//! - [`store`]: items, versions, datasets, lineage, the views, checkpoints.
//! - Over the store: [`search`] (the tantivy view), [`timetravel`] (as-of
//!   reads and restores), [`compaction`] (retention) and [`subscribe`]
//!   (tailing the log, consumer groups).
//! - The surfaces over the library: [`cli`] and [`server`].

mod background;
mod base64;
pub mod cli;
pub mod compaction;
pub mod error;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
mod json_object;
pub mod limits;
pub mod log;
pub mod search;
pub mod server;
pub mod storage;
pub mod store;
pub mod subscribe;
pub mod timetravel;

pub use error::{Error, ErrorKind, Result};
pub use log::SyncMode;
pub use store::{
    Data, Dataset, DatasetRef, DatasetSummary, Direction, HistoryEntry, ItemData, ItemMeta, ItemRef, LineageEntry,
    Metadata, NewItem, PrunedMark, Query, QueryCursor, Store, StoreOptions, StoreStats,
};
pub use subscribe::{EventStream, LogEvent};

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
