//! Compaction and retention: dropping old item versions from sealed
//! segments while every surviving record keeps its offset.
//!
//! Owns the dataset pins that the retention policy honours (`pins`; the
//! policy itself is pure and sits below the store, in
//! [`crate::records::retention`]), the worker that runs one compaction
//! (`worker`: seal, plan, record, rewrite) and the store API
//! ([`Store::compact`](crate::Store::compact), background runs, the
//! horizon). It relies on two seams it does not own: the views apply
//! compaction records and audit stubs (`store::views::prune`), and the log
//! swaps rewritten segment files ([`crate::log::Log::compact_sealed`]).
//!
//! A compaction, in order:
//! 1. seals the active segment under the store's writer lock, so every
//!    record before it is in a sealed segment and applied to the views;
//! 2. gathers the item versions that each dataset's latest version pins
//!    (`pins`), which the policy keeps whatever its rules say;
//! 3. counts what the policy drops (views read lock, in chunks);
//! 4. appends a compaction record (policy, eligible range, horizon, pins),
//!    applies it to the views (which mark or forget what it drops) and
//!    fsyncs it;
//! 5. rewrites each sealed segment whose records the views no longer hold as
//!    they are: a pruned put becomes an audit stub, a purged record a gap.
//!
//! Step 5 reads its decisions from the views, not from the policy, so it
//! also finishes any earlier compaction that a crash interrupted. The log
//! format of stubs, gaps and the crash argument are in `segments-format.md`
//! ("Compaction").

mod pins;
mod store_api;
mod worker;

pub use crate::records::retention::{Policy, Reason, ReasonCounts};
pub use store_api::{BackgroundCompaction, CompactionPreview, CompactionProgress, CompactionReport};
