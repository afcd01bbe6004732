//! Streaming: the log as a stream of events, from any offset, then live.
//!
//! Owns subscriber cursors and nothing else. A subscription reads the log
//! itself (never a copy of writers' data) in batches into a channel, both
//! bounded in bytes (`FOLLOWER_BUFFER_BYTES_MAX`), so a slow consumer only
//! slows its own reader task: writers never wait for it, and what it has not
//! taken yet stays in the log rather than in memory, to be read from its
//! offset when it catches up. When it has caught up it sleeps on
//! the log's watch channel, which appends wake: there is no polling.
//!
//! Consumer groups get at-least-once delivery: a group resumes at the offset
//! it last committed, so events after that commit are delivered again after
//! a restart. Commits are records in the log, so they are as durable as any
//! write and survive restarts and compaction of older records.

mod event;

pub use event::LogEvent;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::Store;
use crate::error::Result;
use crate::limits::FOLLOWER_BUFFER_BYTES_MAX;

/// Events read from the log per batch, and the channel's capacity.
const BATCH_RECORDS: usize = 512;

/// An event, and its share of the stream's byte budget, returned when the
/// consumer takes the event.
type Delivery = (Result<LogEvent>, Option<OwnedSemaphorePermit>);

/// A live stream of log events.
pub struct EventStream {
    receiver: mpsc::Receiver<Delivery>,
}

impl tokio_stream::Stream for EventStream {
    type Item = Result<LogEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Dropping the permit here gives its bytes back to the reader task.
        self.receiver.poll_recv(cx).map(|delivery| delivery.map(|(event, _permit)| event))
    }
}

impl Store {
    /// Moves a consumer group to `to` and returns the offset committed: with
    /// `@N`, N is the next record it reads (back or forward); with a time,
    /// the first record stored at or after it, as Kafka's reset to a
    /// datetime (the end of the log if none is).
    ///
    /// ```
    /// use recstore::{Data, Metadata, Store, StoreOptions, timetravel::AsOf};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// store.put(Data::Json(1.into()), Metadata::default())?;
    /// store.commit_consumer("ingest", 1)?;
    /// assert_eq!(store.reset_consumer("ingest", AsOf::Offset(0))?, 0);
    /// assert_eq!(store.consumer_offset("ingest"), Some(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset_consumer(&self, group: &str, to: crate::timetravel::AsOf) -> Result<u64> {
        use crate::timetravel::AsOf;
        // An offset past the end is refused by the commit, as any commit's.
        let offset = match to {
            AsOf::Offset(offset) => offset,
            AsOf::Time { timestamp_us } => self.log().offset_at_time(timestamp_us)?,
        };
        self.commit_consumer(group, offset)?;
        Ok(offset)
    }

    /// Streams every event from `from_offset` on, then new ones as they are
    /// written. Must be called inside a tokio runtime. Ends when dropped, or
    /// after delivering an error.
    pub fn subscribe(self: &Arc<Self>, from_offset: u64) -> EventStream {
        let (sender, receiver) = mpsc::channel(BATCH_RECORDS);
        let store = Arc::clone(self);
        tokio::spawn(async move { follow(store, from_offset, sender).await });
        EventStream { receiver }
    }

    /// Streams from a consumer group's last committed offset (0 if none).
    pub fn subscribe_group(self: &Arc<Self>, group: &str) -> Result<EventStream> {
        crate::store::validate_name("consumer group", group)?;
        Ok(self.subscribe(self.consumer_offset(group).unwrap_or(0)))
    }

    /// Refuses a start past the end of the log: `from_offset` equal to the
    /// next offset is where a polling reader asks for what is new (nothing
    /// yet), but one beyond it names a record that was never written.
    pub fn check_log_start(&self, from_offset: u64) -> Result<()> {
        let next_offset = self.log().next_offset();
        if from_offset > next_offset {
            return Err(crate::Error::invalid(format!(
                "offset {from_offset} is past the end of the log: the next offset is {next_offset}"
            )));
        }
        Ok(())
    }

    /// Reads up to `record_count_max` events from `from_offset` on.
    pub fn events(&self, from_offset: u64, record_count_max: usize) -> Result<Vec<LogEvent>> {
        let sized = self.events_within(from_offset, record_count_max, usize::MAX)?;
        Ok(sized.into_iter().map(|(event, _)| event).collect())
    }

    /// Reads events from `from_offset` on, each with its approximate size in
    /// memory, stopping after `record_count_max` events or once they take
    /// `bytes_max` (at least one event, whatever its size).
    pub fn events_within(
        &self,
        from_offset: u64,
        record_count_max: usize,
        bytes_max: usize,
    ) -> Result<Vec<(LogEvent, usize)>> {
        let mut events = Vec::new();
        let mut bytes = 0usize;
        let mut failure = None;
        self.log().scan(from_offset, |record| {
            match LogEvent::decode(&record) {
                Ok(event) => {
                    let size_bytes = event.approximate_size_bytes();
                    bytes = bytes.saturating_add(size_bytes);
                    events.push((event, size_bytes));
                }
                Err(error) => failure = Some(error),
            }
            if failure.is_some() || events.len() >= record_count_max || bytes >= bytes_max {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        failure.map_or(Ok(events), Err)
    }
}

async fn follow(store: Arc<Store>, mut next_offset: u64, sender: mpsc::Sender<Delivery>) {
    let mut published = store.log().watch();
    let budget = Arc::new(Semaphore::new(FOLLOWER_BUFFER_BYTES_MAX));
    loop {
        let reader = Arc::clone(&store);
        let read = move || reader.events_within(next_offset, BATCH_RECORDS, FOLLOWER_BUFFER_BYTES_MAX);
        let batch = tokio::task::spawn_blocking(read).await;
        let batch = match batch {
            Ok(batch) => batch,
            Err(join_error) => Err(crate::Error::invalid(format!("subscriber task failed: {join_error}"))),
        };
        match batch {
            Ok(events) if events.is_empty() => {
                // Caught up: sleep until the log publishes past our cursor,
                // or the consumer goes away.
                let target = next_offset;
                tokio::select! {
                    changed = published.wait_for(|&next| next > target) => if changed.is_err() { return },
                    () = sender.closed() => return,
                }
            }
            Ok(events) => {
                for (event, size_bytes) in events {
                    // Waits while the events sent and not yet taken use the
                    // budget; one event larger than all of it takes all of it.
                    let permits = u32::try_from(size_bytes.clamp(1, FOLLOWER_BUFFER_BYTES_MAX)).unwrap_or(u32::MAX);
                    let permit = tokio::select! {
                        permit = Arc::clone(&budget).acquire_many_owned(permits) => permit.ok(),
                        () = sender.closed() => return,
                    };
                    next_offset = event.offset + 1;
                    if sender.send((Ok(event), permit)).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = sender.send((Err(error), None)).await;
                return;
            }
        }
    }
}
