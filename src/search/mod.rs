//! The search view: a tantivy index over every item version, answerable as
//! of any point in the log.
//!
//! Owns `<data_dir>/search/` and the thread that keeps it up to date. Like
//! every view it holds nothing the log could not rebuild: each tantivy commit
//! records (as its payload) the log offset it covers, an open catches up from
//! there, and an index that cannot be trusted is deleted and rebuilt from the
//! log (`open.rs`). While the store runs, a background thread follows the log
//! (`follow.rs`), woken by appends, and commits at most every
//! [`COMMIT_INTERVAL_MS`] or [`COMMIT_OPS_MAX`] operations, so a search may
//! lag the log by that much unless the caller first waits with
//! [`SearchIndex::wait_for`]. Documents: `schema.rs`, `indexer.rs`,
//! `text.rs`, `tokenizer.rs`; query syntax and the as-of filter:
//! `query.rs`; why commits skip fdatasync: `directory.rs`.

mod directory;
mod follow;
mod indexer;
mod open;
mod query;
mod schema;
mod store_api;
mod text;
mod tokenizer;
mod wait;

pub use store_api::SEARCH_DIR_NAME;
pub(crate) use store_api::open_for_store;
pub use wait::CatchUp;
use wait::WaitError;

/// The search query parser on `text`, over an empty in-memory index with
/// the real schema and tokenizers: the `search_query` fuzz target.
pub(crate) fn fuzz_query(text: &str) {
    let index = tantivy::Index::create_in_ram(schema::build());
    tokenizer::register(&index);
    if let Ok(fields) = Fields::of(&index.schema()) {
        let _ = query::parse(&query::parser(&index, &fields), text);
    }
}

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tantivy::query::QueryParser;
use tantivy::{IndexReader, ReloadPolicy};

use crate::error::{Error, Result};
use crate::log::Log;
use schema::Fields;

/// The follower commits at most this often while the log is being written.
/// Each commit writes a segment that merges later pay for again, and a
/// reader that needs its own writes asks for a commit through
/// [`SearchIndex::wait_for`], so a second of lag (Elasticsearch's default
/// refresh interval) costs nobody correctness.
pub const COMMIT_INTERVAL_MS: u64 = 1_000;
/// ... or after this many adds and deletes, whichever comes first.
pub const COMMIT_OPS_MAX: usize = 100_000;

/// How the search view is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Index the string values of JSON data as free text (default: on).
    /// Changing it rebuilds the index on the next open.
    pub index_data_text: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { index_data_text: true }
    }
}

/// One item version that matched a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The item's id.
    pub id: String,
    /// The matching version.
    pub version: u32,
    /// Offset of the put that created it.
    pub offset: u64,
    /// Relevance (BM25); hits come best first, then oldest first.
    pub score: f32,
}

/// What [`SearchIndex::open`] found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// There was no index: built from the log.
    Created,
    /// The index could not be used, for `reason`: deleted and rebuilt.
    Rebuilt {
        /// Why it was not used.
        reason: String,
    },
    /// The index was usable: catching up from `from_offset`.
    CaughtUp {
        /// The offset its last commit covered.
        from_offset: u64,
    },
    /// Read-only store, index on disk covers the log: used as it is.
    ReadOnly {
        /// The offset its last commit covered.
        next_offset: u64,
    },
    /// Read-only store whose index on disk was missing or behind, for
    /// `reason`: built in memory from the log.
    InMemory {
        /// Why the one on disk was not used.
        reason: String,
    },
}

/// The search view of one log. Dropping it stops the follower thread after
/// a final commit.
pub struct SearchIndex {
    shared: Arc<Shared>,
    outcome: OpenOutcome,
    follower: Mutex<Follower>,
}

/// The thread that moves the index forward, if there is one.
enum Follower {
    /// A read-only index on disk: it covers what it covers.
    Fixed,
    /// An index in memory for a read-only store, built on the first search:
    /// every read command of the CLI opens a read-only store, and most of
    /// them never search.
    Pending(Box<indexer::Indexer>),
    Running(JoinHandle<()>),
}

/// What the follower thread and searchers share.
pub(crate) struct Shared {
    reader: IndexReader,
    fields: Fields,
    parser: QueryParser,
    log: Weak<Log>,
    progress: Mutex<Progress>,
    progress_changed: Condvar,
    /// Wakes the follower: a reader waits for it, or it must stop.
    wake: tokio::sync::Notify,
    shutdown: AtomicBool,
    records_indexed: AtomicU64,
}

#[derive(Debug, Default)]
struct Progress {
    /// Searches see every record below this offset.
    searchable_next: u64,
    /// A reader is waiting: commit now rather than at the next interval.
    commit_wanted: bool,
    /// Why the follower stopped, if it failed.
    failure: Option<String>,
}

impl SearchIndex {
    /// Opens (catching up, or rebuilding if needed) the index in `search_dir`
    /// for `log`, and starts following the log.
    pub fn open(search_dir: &Path, log: &Arc<Log>, options: SearchOptions) -> Result<Self> {
        let opened = open::open_writable(search_dir, log, options)?;
        Self::start(opened, log, options)
    }

    /// For a read-only store: uses the index on disk without writing to it
    /// if it covers the log, else builds one in memory from the log.
    pub fn open_read_only(search_dir: &Path, log: &Arc<Log>, options: SearchOptions) -> Result<Self> {
        let opened = open::open_read_only(search_dir, log, options)?;
        Self::start(opened, log, options)
    }

    fn start(opened: open::Opened, log: &Arc<Log>, options: SearchOptions) -> Result<Self> {
        let open::Opened { index, writer, committed, outcome, dir } = opened;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(view_error("open index reader"))?;
        let fields = Fields::of(&index.schema()).map_err(|detail| Error::View { what: "search index", detail })?;
        let shared = Arc::new(Shared {
            parser: query::parser(&index, &fields),
            reader: reader.clone(),
            fields,
            log: Arc::downgrade(log),
            progress: Mutex::new(Progress { searchable_next: committed.next_offset, ..Progress::default() }),
            progress_changed: Condvar::new(),
            wake: tokio::sync::Notify::new(),
            shutdown: AtomicBool::new(false),
            records_indexed: AtomicU64::new(0),
        });
        let follower = match writer {
            Some(writer) => {
                let indexer = indexer::Indexer::new(writer, reader, fields, options, committed, dir)?;
                if matches!(outcome, OpenOutcome::InMemory { .. }) {
                    Follower::Pending(Box::new(indexer))
                } else {
                    Follower::Running(follow::spawn(Arc::clone(&shared), indexer)?)
                }
            }
            None => Follower::Fixed,
        };
        tracing::debug!(?outcome, "search index open");
        Ok(Self { shared, outcome, follower: Mutex::new(follower) })
    }

    /// Searches with tantivy query syntax, as of next-offset
    /// `as_of_next_offset` (default: the log's next offset, i.e. the latest
    /// versions; deleted items are not found). Waits for the index to cover
    /// that point for as long as it makes progress. An index that cannot move
    /// (read-only, on disk) answers by default for the point it covers.
    pub fn search(&self, query: &str, limit: usize, as_of_next_offset: Option<u64>) -> Result<Vec<SearchHit>> {
        let parsed = query::parse(&self.shared.parser, query)?;
        let indexed_next = self.indexed_next_offset();
        let log_next = self.shared.log.upgrade().map_or(indexed_next, |log| log.next_offset());
        let fixed = matches!(*self.lock_follower(), Follower::Fixed);
        let latest = if fixed { log_next.min(indexed_next) } else { log_next };
        let bound = as_of_next_offset.unwrap_or(latest);
        self.wait_for(bound.min(log_next), stall_timeout())?;
        let filtered = query::as_of(parsed, &self.shared.fields, bound);
        query::top_hits(&self.shared.reader.searcher(), &self.shared.fields, &filtered, limit)
    }

    /// Blocks until searches see every record below `next_offset`, for as
    /// long as the index makes progress: fails once it made none for
    /// `stall`, or at once if the follower has stopped or cannot move.
    pub fn wait_for(&self, next_offset: u64, stall: Duration) -> Result<()> {
        self.wait_for_with_progress(next_offset, stall, |_| {})
    }

    /// [`SearchIndex::wait_for`], telling `on_progress` how far the index
    /// has come while it waits (for a progress bar).
    pub fn wait_for_with_progress(
        &self,
        next_offset: u64,
        stall: Duration,
        on_progress: impl FnMut(&CatchUp),
    ) -> Result<()> {
        let can_move = next_offset <= self.indexed_next_offset() || self.start_following()?;
        let poll = |at_most: Duration| self.shared.poll_progress(next_offset, can_move, at_most);
        wait::wait_while_progressing(stall, PROGRESS_TICK, Instant::now, poll, on_progress).map_err(|error| match error
        {
            WaitError::Source(error) => error,
            WaitError::Stalled(state) => Error::View {
                what: "search index",
                detail: format!(
                    "searches see offsets below {} but offsets below {next_offset} were asked for, and indexing \
                     made no progress for {} ms ({} records indexed since the index opened)",
                    state.searchable_next,
                    stall.as_millis(),
                    state.records_indexed
                ),
            },
        })
    }

    /// Starts a pending follower; false if the index cannot move.
    fn start_following(&self) -> Result<bool> {
        let mut follower = self.lock_follower();
        match std::mem::replace(&mut *follower, Follower::Fixed) {
            Follower::Fixed => Ok(false),
            Follower::Running(thread) => {
                *follower = Follower::Running(thread);
                Ok(true)
            }
            Follower::Pending(indexer) => {
                tracing::debug!("building the read-only store's search index in memory");
                *follower = Follower::Running(follow::spawn(Arc::clone(&self.shared), *indexer)?);
                Ok(true)
            }
        }
    }

    fn lock_follower(&self) -> MutexGuard<'_, Follower> {
        self.follower.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Searches see every record below this offset.
    pub fn indexed_next_offset(&self) -> u64 {
        self.shared.lock_progress().searchable_next
    }

    /// Log records the follower has applied since open: 0 after opening an
    /// index that was up to date.
    pub fn indexed_records_since_open(&self) -> u64 {
        self.shared.records_indexed.load(Ordering::Relaxed)
    }

    /// What open found on disk.
    pub fn open_outcome(&self) -> &OpenOutcome {
        &self.outcome
    }

    /// Documents in the searchable index (one per item version).
    pub fn doc_count(&self) -> u64 {
        self.shared.reader.searcher().num_docs()
    }
}

/// How often a waiter hears of progress between the index's commits.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// How long [`SearchIndex::search`] waits for an index that makes no progress.
pub(crate) fn stall_timeout() -> Duration {
    Duration::from_millis(crate::limits::SEARCH_STALL_TIMEOUT_MS)
}

impl Drop for SearchIndex {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let follower = std::mem::replace(&mut *self.lock_follower(), Follower::Fixed);
        if let Follower::Running(thread) = follower
            && thread.join().is_err()
        {
            tracing::error!("search follower thread panicked");
        }
    }
}

impl Shared {
    fn lock_progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Searches now see every record below `next_offset`.
    fn publish(&self, next_offset: u64) {
        let mut progress = self.lock_progress();
        if next_offset > progress.searchable_next {
            progress.searchable_next = next_offset;
            self.progress_changed.notify_all();
        }
    }

    /// Takes the request of a waiting reader, if there is one.
    fn take_commit_wanted(&self) -> bool {
        std::mem::take(&mut self.lock_progress().commit_wanted)
    }

    /// The index's progress towards `next_offset`, after waiting up to
    /// `at_most` for it to change; asks the follower to commit meanwhile.
    fn poll_progress(&self, next_offset: u64, can_move: bool, at_most: Duration) -> Result<CatchUp> {
        let mut progress = self.lock_progress();
        if progress.searchable_next < next_offset && can_move {
            if !progress.commit_wanted {
                progress.commit_wanted = true;
                self.wake.notify_one();
            }
            if !at_most.is_zero() {
                progress = self
                    .progress_changed
                    .wait_timeout(progress, at_most)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }
        if progress.searchable_next < next_offset {
            if let Some(failure) = &progress.failure {
                return Err(Error::View { what: "search index", detail: format!("indexing stopped: {failure}") });
            }
            if !can_move {
                return Err(Error::View {
                    what: "search index",
                    detail: format!(
                        "searches see offsets below {} but offsets below {next_offset} were asked for, \
                         and this read-only index cannot move",
                        progress.searchable_next
                    ),
                });
            }
        }
        let records_indexed = self.records_indexed.load(Ordering::Relaxed);
        Ok(CatchUp { searchable_next: progress.searchable_next, target_next: next_offset, records_indexed })
    }

    fn fail(&self, failure: String) {
        self.lock_progress().failure = Some(failure);
        self.progress_changed.notify_all();
    }
}

/// Maps a tantivy error to the crate's, naming what was being done.
pub(crate) fn view_error<E: std::fmt::Display>(doing: &'static str) -> impl Fn(E) -> Error {
    move |error| Error::View { what: "search index", detail: format!("{doing}: {error}") }
}
