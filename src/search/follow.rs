//! The follower thread: indexes the log from where the index stands, then
//! keeps up with appends.
//!
//! Owns the index writer (through the [`Indexer`]) for as long as the index
//! is open. It sleeps on the log's watch channel, so it costs nothing while
//! nobody writes; appends, a waiting reader and shutdown wake it. It holds
//! the log only through a `Weak` between batches, so it never keeps a closed
//! store's log (and its lock file) alive; when the log goes away, or the
//! index is dropped, it commits what it has and stops.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::indexer::Indexer;
use super::{COMMIT_INTERVAL_MS, COMMIT_OPS_MAX, Shared};
use crate::error::{Error, Result};
use crate::log::Log;

/// Records applied between two looks at the shutdown flag.
const SCAN_RECORDS_MAX: usize = 4096;

/// On shutdown, a backlog up to this size is indexed before the final
/// commit, so a clean close leaves an index that needs no catch-up. A larger
/// one (a rebuild in progress) is left for the next open, which resumes from
/// the last commit: closing a store should not wait for a rebuild.
const SHUTDOWN_CATCH_UP_RECORDS_MAX: u64 = 10_000;

/// Starts the follower.
pub(super) fn spawn(shared: Arc<Shared>, indexer: Indexer) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("recstore-search".into())
        .spawn(move || {
            crate::background::lower_thread_priority();
            run(&shared, indexer)
        })
        .map_err(|source| Error::Io { context: "start the search follower thread".into(), source })
}

fn run(shared: &Shared, mut indexer: Indexer) {
    let result =
        follow(shared, &mut indexer).and_then(|()| catch_up_tail(shared, &mut indexer)).and_then(|()| indexer.finish());
    if let Err(error) = result {
        tracing::error!(%error, "search indexing stopped; searches fail until the store is reopened");
        shared.fail(error.to_string());
    }
}

/// Why the wait between batches ended.
enum Woken {
    Continue,
    LogClosed,
}

fn follow(shared: &Shared, indexer: &mut Indexer) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|source| Error::Io { context: "start the search follower's runtime".into(), source })?;
    let Some(mut published) = shared.log.upgrade().map(|log| log.watch()) else { return Ok(()) };
    let commit_interval = Duration::from_millis(COMMIT_INTERVAL_MS);
    let mut last_commit = Instant::now();
    while !shared.shutdown.load(Ordering::SeqCst) {
        let Some(log) = shared.log.upgrade() else { return Ok(()) };
        let caught_up = index_batch(shared, indexer, &log)?;
        drop(log);
        if indexer.pending_ops() >= COMMIT_OPS_MAX {
            commit(shared, indexer)?;
            last_commit = Instant::now();
        }
        if !caught_up {
            continue;
        }
        if indexer.pending_ops() == 0 {
            // Only records without documents since the last commit: what
            // searches see is already right for this offset.
            shared.publish(indexer.cursor().next_offset);
        }
        let wanted = shared.take_commit_wanted();
        if indexer.has_uncommitted() && (wanted || last_commit.elapsed() >= commit_interval) {
            commit(shared, indexer)?;
            last_commit = Instant::now();
            continue;
        }
        let deadline = indexer.has_uncommitted().then(|| last_commit + commit_interval);
        let indexed_next = indexer.cursor().next_offset;
        let woken = runtime.block_on(async {
            let sleep = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = published.wait_for(|&next| next > indexed_next) => {
                    if changed.is_err() { Woken::LogClosed } else { Woken::Continue }
                }
                () = shared.wake.notified() => Woken::Continue,
                () = sleep => Woken::Continue,
            }
        });
        if matches!(woken, Woken::LogClosed) {
            return Ok(());
        }
    }
    Ok(())
}

/// Indexes what the log holds beyond the cursor, if that is little.
fn catch_up_tail(shared: &Shared, indexer: &mut Indexer) -> Result<()> {
    let Some(log) = shared.log.upgrade() else { return Ok(()) };
    let backlog = log.next_offset().saturating_sub(indexer.cursor().next_offset);
    if backlog > SHUTDOWN_CATCH_UP_RECORDS_MAX {
        tracing::info!(backlog, "search index closed behind the log; the next open catches up");
        return Ok(());
    }
    while !index_batch(shared, indexer, &log)? {
        if indexer.pending_ops() >= COMMIT_OPS_MAX {
            indexer.commit()?;
        }
    }
    Ok(())
}

/// Applies up to [`SCAN_RECORDS_MAX`] records; true if it reached the tail.
fn index_batch(shared: &Shared, indexer: &mut Indexer, log: &Log) -> Result<bool> {
    let tail = log.next_offset();
    let mut applied = 0usize;
    let mut failure = None;
    log.scan(indexer.cursor().next_offset, |record| {
        if let Err(error) = indexer.apply(record, log) {
            failure = Some(error);
            return ControlFlow::Break(());
        }
        applied += 1;
        if applied >= SCAN_RECORDS_MAX || indexer.pending_ops() >= COMMIT_OPS_MAX {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    shared.records_indexed.fetch_add(applied as u64, Ordering::Relaxed);
    if let Some(error) = failure {
        return Err(error);
    }
    let caught_up = applied < SCAN_RECORDS_MAX && indexer.pending_ops() < COMMIT_OPS_MAX;
    if caught_up {
        // The scan saw every record below the tail it started from, even if
        // compaction left no record at the last offsets.
        indexer.skip_to(tail);
    }
    Ok(caught_up)
}

fn commit(shared: &Shared, indexer: &mut Indexer) -> Result<()> {
    let cursor = indexer.commit()?;
    shared.publish(cursor.next_offset);
    Ok(())
}
