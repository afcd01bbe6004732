//! The item records: what the item store's records mean, shared by every
//! layer that reads them.
//!
//! Owns the payload layouts of each record kind and their codec
//! ([`codec`], "Item records" in `segments-format.md`), the metadata fields
//! the views and the search index read from a put ([`IndexedFields`]), and
//! the pure retention rules whose reason codes are bytes on disk
//! ([`retention`]). The store, the search index and compaction all build on
//! it. It sits right above the log and must never import a layer above it:
//! no views, no store, no I/O of its own.

pub mod codec;
mod fields;
pub mod retention;
mod zstd_section;

pub use fields::IndexedFields;
