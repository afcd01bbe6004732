//! The store's compaction API: run one, run them on an interval, read the
//! horizon, and what a run reports.

use std::sync::{Arc, Mutex, PoisonError, Weak, mpsc};
use std::time::Duration;

use serde::Serialize;

use super::worker;
use crate::background;
use crate::error::{Error, Result};
use crate::log::CompactionPass;
use crate::records::retention::{Policy, ReasonCounts};
use crate::store::Store;
use crate::store::views::ItemEvent;
use crate::store::views::prune::PruneCount;

/// What a compaction would drop if it ran now ([`Store::compaction_preview`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CompactionPreview {
    /// The policy, with its cutoff as an absolute time.
    pub policy: Policy,
    /// Records below this offset would be eligible: everything written so far.
    pub eligible_end: u64,
    /// Records the policy would newly drop, by reason (tombstones included).
    pub records_dropped: ReasonCounts,
    /// Of those, tombstones (purge only).
    pub tombstones_dropped: u64,
    /// The compaction horizon it would set, `(offset, timestamp_us)`:
    /// as-of reads before it would fail. `None` if nothing would be dropped.
    pub horizon: Option<(u64, u64)>,
}

impl CompactionPreview {
    pub(super) fn new(policy: Policy, eligible_end: u64, count: &PruneCount) -> Self {
        Self {
            policy,
            eligible_end,
            records_dropped: count.dropped,
            tombstones_dropped: count.tombstones,
            horizon: count.horizon,
        }
    }
}

/// How far a running compaction has come, reported after each sealed
/// segment it read (and rewrote, if anything in it changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionProgress {
    /// Sealed segments finished so far.
    pub segments_done: usize,
    /// Sealed segments this compaction reads in all.
    pub segments_total: usize,
}

/// What one compaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CompactionReport {
    /// The policy it ran, with its cutoff as an absolute time.
    pub policy: Policy,
    /// Records below this offset were eligible (everything written before it started).
    pub eligible_end: u64,
    /// Sealed segments read.
    pub segments_scanned: u64,
    /// Bytes of those segments: the input of the compaction.
    pub bytes_scanned: u64,
    /// Segments written anew.
    pub segments_rewritten: u64,
    /// Segments removed because nothing in them survived (purge only).
    pub segments_removed: u64,
    /// Size of the rewritten and removed segments before.
    pub bytes_before: u64,
    /// Their size after.
    pub bytes_after: u64,
    /// Records this policy newly dropped, by reason (tombstones included).
    pub records_dropped: ReasonCounts,
    /// Of those, tombstones (purge only).
    pub tombstones_dropped: u64,
    /// Puts replaced by audit stubs in the log.
    pub stubs_written: u64,
    /// Records removed from the log, leaving gaps (purge only).
    pub records_removed: u64,
    /// The store's compaction horizon afterwards, `(offset, timestamp_us)`.
    pub horizon: Option<(u64, u64)>,
    /// Wall-clock time the compaction took, in microseconds.
    pub duration_us: u64,
}

impl CompactionReport {
    pub(super) fn new(
        policy: Policy,
        eligible_end: u64,
        count: &PruneCount,
        pass: &CompactionPass,
        horizon: Option<(u64, u64)>,
        duration: Duration,
    ) -> Self {
        let removed = |r: &&crate::log::SegmentRewrite| r.size_bytes_after == 0;
        Self {
            policy,
            eligible_end,
            segments_scanned: pass.segments_scanned,
            bytes_scanned: pass.bytes_scanned,
            segments_rewritten: pass.rewrites.iter().filter(|r| !removed(r)).count() as u64,
            segments_removed: pass.rewrites.iter().filter(removed).count() as u64,
            bytes_before: pass.rewrites.iter().map(|r| r.size_bytes_before).sum(),
            bytes_after: pass.rewrites.iter().map(|r| r.size_bytes_after).sum(),
            records_dropped: count.dropped,
            tombstones_dropped: count.tombstones,
            stubs_written: pass.rewrites.iter().map(|r| r.records_replaced).sum(),
            records_removed: pass.rewrites.iter().map(|r| r.records_dropped).sum(),
            horizon,
            duration_us: u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
        }
    }

    /// Disk bytes the compaction gave back.
    pub fn bytes_reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }

    /// The wall-clock time it took.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.duration_us)
    }
}

impl Store {
    /// Compacts the log: drops what `policy` says from the sealed segments,
    /// leaving audit stubs (unless `policy.purge`), and returns what it did.
    /// A version that the latest version of a dataset pins is never dropped;
    /// one that only older dataset versions pin is treated like any other
    /// (the rules: segments-format.md, "Retention rules").
    ///
    /// It first seals the active segment, so everything written before the
    /// call is eligible. Writes, reads and log followers carry on while it
    /// runs; writes wait only while the segment is sealed and while the
    /// compaction record is appended. Running it again with the same policy
    /// changes nothing more; running it after a crash interrupted an earlier
    /// one finishes that one's work.
    ///
    /// ```
    /// use recstore::{Data, Metadata, Store, StoreOptions, compaction::Policy};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// let id = Metadata { id: Some("x".into()), ..Default::default() };
    /// for value in 0..4 {
    ///     store.put(Data::Json(value.into()), id.clone())?;
    /// }
    /// let report = store.compact(Policy::keep_everything().max_versions(Some(2)))?;
    /// assert_eq!(report.records_dropped.max_versions, 2);
    /// assert!(matches!(store.get_version("x", 1), Err(recstore::Error::Pruned { .. })));
    /// assert_eq!(store.get("x")?.json()?, serde_json::json!(3));
    /// assert_eq!(store.history("x")?.len(), 4, "history still lists pruned versions");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&self, policy: Policy) -> Result<CompactionReport> {
        self.compact_with_progress(policy, |_| {})
    }

    /// What [`Store::compact`] with `policy` would drop if it ran now,
    /// changing nothing: no segment is sealed, no record written. A
    /// compaction started later may drop more (newer versions supersede
    /// older ones) or less (a dataset put meanwhile pins a version).
    ///
    /// ```
    /// use recstore::{Data, Metadata, Store, StoreOptions, compaction::Policy};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// let id = Metadata { id: Some("x".into()), ..Default::default() };
    /// for value in 0..4 {
    ///     store.put(Data::Json(value.into()), id.clone())?;
    /// }
    /// let preview = store.compaction_preview(Policy::keep_everything().max_versions(Some(2)))?;
    /// assert_eq!(preview.records_dropped.max_versions, 2);
    /// assert_eq!(store.get_version("x", 1)?.json()?, serde_json::json!(0), "nothing changed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compaction_preview(&self, policy: Policy) -> Result<CompactionPreview> {
        worker::preview(self, policy)
    }

    /// [`Store::compact`], calling `on_progress` (from the compaction's own
    /// thread) after each sealed segment, for a progress bar.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use recstore::{Data, Metadata, Store, StoreOptions, compaction::Policy};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// store.put(Data::Json(1.into()), Metadata { id: Some("x".into()), ..Default::default() })?;
    /// let segments_done = AtomicUsize::new(0);
    /// let report = store.compact_with_progress(Policy::default(), |progress| {
    ///     segments_done.store(progress.segments_done, Ordering::Relaxed);
    /// })?;
    /// assert_eq!(segments_done.into_inner() as u64, report.segments_scanned);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact_with_progress(
        &self,
        policy: Policy,
        on_progress: impl Fn(CompactionProgress) + Sync,
    ) -> Result<CompactionReport> {
        // Compaction is background work: on a busy machine it should take
        // longer rather than slow down the writers (see `crate::background`).
        let compact = || worker::compact(self, policy, &on_progress);
        let report = background::run_at_lower_priority("recstore-compact", compact)
            .map_err(|source| Error::Io { context: "start the compaction thread".into(), source })??;
        tracing::info!(
            segments_rewritten = report.segments_rewritten,
            segments_removed = report.segments_removed,
            bytes_reclaimed = report.bytes_reclaimed(),
            records_dropped = report.records_dropped.total(),
            duration_us = report.duration_us,
            "compaction finished"
        );
        Ok(report)
    }

    /// `(offset, timestamp_us)` of the compaction horizon: as-of reads at
    /// bounds below the offset (or at times before the timestamp) may meet
    /// pruned or purged history. `None` until a compaction dropped anything.
    pub fn compaction_horizon(&self) -> Option<(u64, u64)> {
        self.read_views().state.compaction_horizon
    }

    /// Compacts every `interval` with the policy `policy()` returns at that
    /// moment (so a cutoff in days moves with the clock), on a thread of its
    /// own, until the handle is dropped. A failed run is logged and the
    /// next one tries again.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use recstore::{Store, StoreOptions, compaction::Policy};
    /// let dir = tempfile::tempdir()?;
    /// let store = Arc::new(Store::open(dir.path(), StoreOptions::default())?);
    /// let background = store.spawn_background_compaction(Duration::from_secs(3600), Policy::default);
    /// drop(background); // stops it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_background_compaction(
        self: &Arc<Self>,
        interval: Duration,
        policy: impl Fn() -> Policy + Send + 'static,
    ) -> BackgroundCompaction {
        self.spawn_background_compaction_observed(interval, policy, |_| {})
    }

    /// [`Store::spawn_background_compaction`], calling `on_result` (from the
    /// compaction thread) with each run's outcome, for metrics.
    pub fn spawn_background_compaction_observed(
        self: &Arc<Self>,
        interval: Duration,
        policy: impl Fn() -> Policy + Send + 'static,
        on_result: impl Fn(std::result::Result<&CompactionReport, &Error>) + Send + 'static,
    ) -> BackgroundCompaction {
        let (stop, stopped) = mpsc::channel::<()>();
        let last = Arc::new(Mutex::new(None));
        let store: Weak<Store> = Arc::downgrade(self);
        let thread_last = Arc::clone(&last);
        let spawned = std::thread::Builder::new().name("recstore-compaction".into()).spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let Some(store) = store.upgrade() else { return };
                let result = store.compact(policy());
                on_result(result.as_ref());
                if let Err(error) = &result {
                    tracing::error!(%error, "background compaction failed; it runs again after the interval");
                }
                *thread_last.lock().unwrap_or_else(PoisonError::into_inner) = Some(result.map_err(|e| e.to_string()));
            }
        });
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(error) => {
                tracing::error!(%error, "could not start the background compaction thread");
                None
            }
        };
        BackgroundCompaction { stop: Some(stop), thread, last }
    }

    /// The error a read of this version's data gets if compaction pruned it.
    pub(crate) fn pruned_error(&self, id: &str, event: &ItemEvent) -> Option<Error> {
        event.stored.pruned?;
        let horizon_offset = self.compaction_horizon().map_or(0, |(offset, _)| offset);
        Some(Error::Pruned { id: id.to_string(), version: event.version, horizon_offset })
    }
}

/// A background compaction thread; dropping the handle stops it (waiting
/// for a run in progress to finish).
pub struct BackgroundCompaction {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    last: Arc<Mutex<Option<std::result::Result<CompactionReport, String>>>>,
}

impl BackgroundCompaction {
    /// The outcome of the latest run, if one finished.
    pub fn last_result(&self) -> Option<std::result::Result<CompactionReport, String>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for BackgroundCompaction {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the background compaction thread panicked");
        }
    }
}
