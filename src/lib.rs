//! recstore: an event-sourced, append-only log store for versioned data items.
//!
//! Every write (a new item version, a delete, a dataset) is a record
//! appended to the [`log`]; everything else is a view rebuilt by replaying
//! it. Start with [`Store`].
//!
//! Layers, each importing only those below it (checked by
//! `tests/layering.rs`):
//! - [`storage`]: the storage seam: files on disk, or in memory with power
//!   loss simulated.
//! - [`log`]: segments, frames, the manifest, recovery, group commit, reads.
//! - [`records`]: what the item records mean: their codec, the indexed
//!   metadata fields, the pure retention rules.
//! - [`store`]: items, versions, datasets, lineage, the views, checkpoints;
//!   the [`Store`] type.
//! - [`search`]: the tantivy view, following the store's log.
//! - The facade (`facade.rs`): [`Store::open`], which joins the store and
//!   the views above it.
//! - Over the facade: [`timetravel`] (as-of reads and restores),
//!   [`compaction`] (the log rewrite and its pins), [`subscribe`] (tailing
//!   the log, consumer groups) and [`export`].
//! - The surfaces over the library: [`cli`] and [`server`].
//!
//! Beside them, imported from anywhere and importing no layer above their
//! own: [`limits`] (every bound), the error kinds, the crate [`error`] (over
//! the log), and small helpers (base64, the background-thread priority).

mod background;
mod base64;
pub mod cli;
pub mod compaction;
pub mod error;
mod error_kind;
pub mod export;
mod facade;
#[doc(hidden)]
pub mod fuzzing;
mod json_object;
pub mod limits;
pub mod log;
pub mod records;
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
