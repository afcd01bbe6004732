//! The restore half of `timetravel_bench`: `Store::restore` as of a point,
//! timed from the call to its return, against a plain copy of the same log
//! bytes on the same file system, run just before and just after it.
//!
//! The restore's steps are also done one by one into a scratch directory
//! first (copy the log prefix, open the copy, which replays it into the
//! views, and close it, which writes the checkpoint), to show where its time
//! goes. Then the restored store is opened again, and it must answer as the
//! source does as of the point.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use recstore::store::LOG_DIR_NAME;
use recstore::timetravel::{AsOf, RestoreReport};
use recstore::{Query, Store};
use serde_json::{Value, json};

use super::BenchResult;
use super::common::report::drift;

/// The two copies differ by more than this factor: the disk changed speed
/// meanwhile, so the ratio against them is suspect.
pub const COPY_DRIFT_MAX: f64 = 1.5;

pub struct RestoreRun {
    pub report: RestoreReport,
    pub elapsed: Duration,
    /// Plain copies of the same bytes, just before and just after the restore.
    pub copies: [Duration; 2],
    /// The restore's steps done by hand: copy the log prefix, open, close.
    pub steps: [Duration; 3],
    /// Opening the restored store after the restore returned.
    pub reopen: Duration,
    /// Items whose bytes were compared between the restored store and the
    /// source as of the point.
    pub checked_item_count: usize,
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

impl RestoreRun {
    /// The source's log bytes below the point: what the restore covers.
    pub fn log_bytes(&self) -> u64 {
        self.report.segments.bytes
    }

    pub fn mb_per_s(&self) -> f64 {
        mb_per_s(self.log_bytes(), self.elapsed)
    }

    /// Both copies pooled: total bytes over total time.
    pub fn copy_mb_per_s(&self) -> f64 {
        mb_per_s(2 * self.log_bytes(), self.copies[0] + self.copies[1])
    }

    pub fn copy_drift(&self) -> f64 {
        drift(mb_per_s(self.log_bytes(), self.copies[0]), mb_per_s(self.log_bytes(), self.copies[1]))
    }

    pub fn print_details(&self) {
        let segments = &self.report.segments;
        let [copy, open, close] = self.steps.map(|step| step.as_secs_f64());
        println!(
            "restore: {:.3} s for {} records ({} segment(s) linked, {} copied), {} items live; \
             copies before/after {:.0} / {:.0} MB/s",
            self.elapsed.as_secs_f64(),
            self.report.next_offset,
            segments.segments_linked,
            segments.segments_copied,
            self.report.items_live,
            mb_per_s(self.log_bytes(), self.copies[0]),
            mb_per_s(self.log_bytes(), self.copies[1])
        );
        println!(
            "    the same steps by hand: copy_prefix {copy:.3} s ({:.0} MB/s), open (replay into the views) \
             {open:.3} s ({:.0} MB/s), close (checkpoint, search view stops) {close:.3} s",
            self.log_bytes() as f64 / 1e6 / copy,
            self.log_bytes() as f64 / 1e6 / open
        );
        println!(
            "    restored store reopened in {:.3} s; it answered as the source as of the point \
             (live count, every query's hits, {} items' bytes)",
            self.reopen.as_secs_f64(),
            self.checked_item_count
        );
    }

    pub fn json(&self) -> Value {
        let [copy, open, close] = self.steps.map(|step| step.as_secs_f64());
        json!({
            "report": self.report, "elapsed_s": self.elapsed.as_secs_f64(), "log_bytes": self.log_bytes(),
            "mb_per_s": self.mb_per_s(),
            "copy_s": [self.copies[0].as_secs_f64(), self.copies[1].as_secs_f64()],
            "copy_mb_per_s": self.copy_mb_per_s(), "ratio_to_copy": self.mb_per_s() / self.copy_mb_per_s(),
            "steps_s": { "copy_prefix": copy, "open": open, "close": close },
            "reopen_s": self.reopen.as_secs_f64(), "checked_item_count": self.checked_item_count,
        })
    }
}

pub fn run(store: &Store, as_of: AsOf, dir: &Path, queries: &[Query]) -> BenchResult<RestoreRun> {
    let bound = store.resolve_as_of(as_of)?;
    let (steps, bytes) = restore_by_hand(store, bound, &dir.join("restore-by-hand"))?;
    let copy_before = copy_log_prefix(store.log().dir(), bytes, &dir.join("copy-before"))?;
    let into = dir.join("restored");
    let started = Instant::now();
    let report = store.restore(as_of, &into)?;
    let elapsed = started.elapsed();
    let copy_after = copy_log_prefix(store.log().dir(), bytes, &dir.join("copy-after"))?;
    if report.segments.bytes != bytes {
        return Err(format!("restore covered {} bytes, the steps by hand {bytes}", report.segments.bytes).into());
    }
    let started = Instant::now();
    let restored = Store::open(&into, store.options().clone())?;
    let reopen = started.elapsed();
    let checked_item_count = check_restored(store, as_of, &restored, queries)?;
    Ok(RestoreRun { report, elapsed, copies: [copy_before, copy_after], steps, reopen, checked_item_count })
}

/// What `Store::restore` does, one timed step at a time, into `scratch`
/// (removed afterwards). Returns the steps and the bytes copied.
fn restore_by_hand(store: &Store, bound: u64, scratch: &Path) -> BenchResult<([Duration; 3], u64)> {
    let started = Instant::now();
    let copied = store.log().copy_prefix(bound, &scratch.join(LOG_DIR_NAME))?;
    let copy = started.elapsed();
    let started = Instant::now();
    let opened = Store::open(scratch, store.options().clone())?;
    let open = started.elapsed();
    let started = Instant::now();
    opened.close()?;
    let close = started.elapsed();
    std::fs::remove_dir_all(scratch)?;
    Ok(([copy, open, close], copied.bytes))
}

/// The baseline: the first `bytes` bytes of the log's segment files, in
/// offset order, copied into `into` with `std::io::copy` (which lets the
/// kernel copy) and fsynced file by file, as the restore fsyncs what it
/// writes. Returns the time taken; `into` is removed afterwards.
fn copy_log_prefix(log_dir: &Path, bytes: u64, into: &Path) -> BenchResult<Duration> {
    let mut segments: Vec<PathBuf> =
        std::fs::read_dir(log_dir)?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    // Names are 20-digit base offsets, so they sort in offset order.
    segments.retain(|path| path.extension().is_some_and(|extension| extension == "seg"));
    segments.sort();
    std::fs::create_dir_all(into)?;
    let started = Instant::now();
    let mut remaining_bytes = bytes;
    for source in &segments {
        if remaining_bytes == 0 {
            break;
        }
        let mut reader = File::open(source)?.take(remaining_bytes);
        let mut target = File::create(into.join(source.file_name().ok_or("a segment file name")?))?;
        remaining_bytes -= std::io::copy(&mut reader, &mut target)?;
        target.sync_all()?;
    }
    let elapsed = started.elapsed();
    if remaining_bytes > 0 {
        return Err(format!("the segments of {} hold fewer than {bytes} bytes", log_dir.display()).into());
    }
    std::fs::remove_dir_all(into)?;
    Ok(elapsed)
}

/// The restored store must answer as the source does as of the point: the
/// same live count, the same hits for every query, and the same bytes for
/// every item hit. Returns how many items' bytes were compared.
fn check_restored(source: &Store, as_of: AsOf, restored: &Store, queries: &[Query]) -> BenchResult<usize> {
    let then = source.at(as_of)?;
    let (live_then, live_restored) = (then.stats().items_live, restored.stats().items_live);
    if live_then != live_restored {
        return Err(format!("restored store has {live_restored} live items, the source had {live_then}").into());
    }
    let mut checked_item_count = 0;
    for query in queries {
        let hits = then.query_hits(query)?;
        let keys = |hits: &[recstore::store::QueryHit]| {
            hits.iter().map(|hit| (hit.id.clone(), hit.version, hit.offset)).collect::<Vec<_>>()
        };
        if keys(&hits) != keys(&restored.query_hits(query)?) {
            return Err(format!("{query:?}: the restored store's hits differ from the source's then").into());
        }
        for hit in &hits {
            if then.get(&hit.id)?.bytes != restored.get(&hit.id)?.bytes {
                return Err(format!("{}: the restored store's bytes differ from the source's then", hit.id).into());
            }
            checked_item_count += 1;
        }
    }
    Ok(checked_item_count)
}
