//! `recstore log`: the log's records as NDJSON events, optionally tailed.
//!
//! Without `--group` the store is opened read-only, so this runs beside a
//! writer. `--follow` sleeps on the log's watch channel
//! ([`crate::log::Log::watch`]) between batches: it wakes when new records
//! become readable, never on a timer. `--group G` resumes from the group's
//! committed offset and commits after each printed batch (at-least-once:
//! a batch printed but not yet committed is printed again by the next run).
//! A commit is a log record, so `--group` needs the write lock, and for
//! that reason it cannot be combined with `--follow`: holding the lock,
//! it would wait for writes no other process could make.

use std::io::Write;

use clap::Args;

use super::{CliError, Context, stdout, write_json_line};
use crate::Store;

/// Events read and printed per batch; a group commits once per batch.
const BATCH_RECORDS: usize = 512;

const AFTER_HELP: &str = "\
Examples:
  recstore log
  {\"id\":\"reading-1\",\"kind\":\"put\",\"metadata\":{...},\"offset\":0,\"timestamp\":\"2026-11-25T10:00:00.000000Z\",\"version\":1}
  {\"id\":\"reading-1\",\"kind\":\"delete\",\"offset\":1,\"timestamp\":\"2026-11-25T10:01:00.000000Z\",\"version\":1}
  recstore log --from 1000 --follow          # tail, like `tail -f`
  recstore log --group indexer               # what is new since group `indexer` last ran, then commit

A group commits after each batch it wrote to stdout, not after the reader
has handled it: a reader that stops early (`| head`) may leave some of the
last batch committed but unread. A group takes the write lock, so it cannot
follow (no other writer could add anything to see); to tail with a group,
use the server: `GET /v1/log?group=G&follow=true`, with commits by
`POST /v1/consumers/G/commit` once each event is handled.

Event kinds: put (id, version, metadata), delete (id, version), dataset
(name, version, members, info), consumer_commit (group, committed_offset),
consumer_delete (group), audit_stub (what compaction left of a dropped put: id, version, metadata,
reason, stored_size_bytes, horizon_offset), compaction (policy,
eligible_end, horizon_offset, horizon_timestamp), unknown (a record kind
this version does not know).";

/// Print the log's records as NDJSON events, optionally following new ones.
///
/// Every record from --from (default 0) to the end of the log, in offset
/// order, one JSON object a line with `offset`, `timestamp` (RFC 3339) and
/// `kind`, and the fields of that kind. With --follow it then waits for new
/// records and prints them as they are written, until killed. With --group G
/// it starts at the offset group G last committed (as in Kafka, the first
/// one it has not yet printed) and commits after each batch it prints, so
/// the next run resumes there; the group's own commit
/// records are not printed. --group takes the write lock, so it cannot run
/// beside another writer such as `serve`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct LogArgs {
    /// The first offset to print: up to the log's next offset (which
    /// prints nothing, or with --follow waits for the next record); beyond
    /// it is an error naming the next offset.
    #[arg(long, value_name = "OFFSET", conflicts_with = "group")]
    pub from: Option<u64>,
    /// Keep running and print new records as they are written.
    #[arg(long, conflicts_with = "group")]
    pub follow: bool,
    /// A consumer group: resume from its committed offset and commit progress.
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
}

pub(crate) fn run(args: LogArgs, context: &Context) -> Result<(), CliError> {
    let store = match &args.group {
        Some(group) => {
            crate::store::validate_name("consumer group", group)?;
            context.open_write()?
        }
        None => context.open_read()?,
    };
    let mut cursor = Cursor {
        next_offset: match &args.group {
            Some(group) => store.consumer_offset(group).unwrap_or(0),
            None => args.from.unwrap_or(0),
        },
        group: args.group,
    };
    if args.from.is_some() {
        store.check_log_start(cursor.next_offset)?;
    }
    if !args.follow {
        return cursor.drain(&store);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(follow(&store, &mut cursor))
}

/// Prints everything readable, then sleeps until the log publishes more.
async fn follow(store: &Store, cursor: &mut Cursor) -> Result<(), CliError> {
    let mut published = store.log().watch();
    loop {
        cursor.drain(store)?;
        // `borrow_and_update` marks the value seen, so `changed` returns only
        // for a publish after this check: no append can slip in between.
        while *published.borrow_and_update() <= cursor.next_offset {
            if published.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Where the next read starts, and the group that commits it.
struct Cursor {
    next_offset: u64,
    group: Option<String>,
}

impl Cursor {
    /// Prints batches until the readable end of the log, committing the
    /// group's offset after each batch that printed something.
    fn drain(&mut self, store: &Store) -> Result<(), CliError> {
        let mut out = stdout();
        loop {
            let events = store.events(self.next_offset, BATCH_RECORDS)?;
            let Some(last) = events.last() else { return Ok(()) };
            let next_offset = last.offset + 1;
            let mut printed = 0usize;
            for event in events.iter().filter(|e| !e.is_commit_of(self.group.as_deref())) {
                write_json_line(&mut out, event)?;
                printed += 1;
            }
            out.flush()?;
            self.next_offset = next_offset;
            if let (Some(group), true) = (&self.group, printed > 0) {
                // Committing only after printing something keeps the group's
                // own commit records from feeding an endless commit loop.
                store.commit_consumer(group, next_offset)?;
            }
        }
    }
}
