//! Streaming: the log as a stream of events, from any offset, then live.
//!
//! Owns subscriber cursors and nothing else. A subscription reads the log
//! itself (never a copy of writers' data) in bounded batches into a bounded
//! channel, so a slow consumer only slows its own reader task: writers never
//! wait for it and memory stays bounded. When it has caught up it sleeps on
//! the log's watch channel, which appends wake: there is no polling.
//!
//! Consumer groups get at-least-once delivery: a group resumes at the offset
//! it last committed, so events after that commit are delivered again after
//! a restart. Commits are records in the log, so they are as durable as any
//! write and survive restarts and compaction of older records.

mod event;

pub use event::LogEvent;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::Store;
use crate::error::Result;

/// Events read from the log per batch, and the channel's capacity.
const BATCH_RECORDS: usize = 512;

/// A live stream of log events.
pub type EventStream = ReceiverStream<Result<LogEvent>>;

impl Store {
    /// Streams every event from `from_offset` on, then new ones as they are
    /// written. Must be called inside a tokio runtime. Ends when dropped, or
    /// after delivering an error.
    pub fn subscribe(self: &Arc<Self>, from_offset: u64) -> EventStream {
        let (sender, receiver) = mpsc::channel(BATCH_RECORDS);
        let store = Arc::clone(self);
        tokio::spawn(async move { follow(store, from_offset, sender).await });
        ReceiverStream::new(receiver)
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
        let mut events = Vec::new();
        let mut failure = None;
        self.log().scan(from_offset, |record| {
            match LogEvent::decode(&record) {
                Ok(event) => events.push(event),
                Err(error) => failure = Some(error),
            }
            if failure.is_some() || events.len() >= record_count_max {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        failure.map_or(Ok(events), Err)
    }
}

async fn follow(store: Arc<Store>, mut next_offset: u64, sender: mpsc::Sender<Result<LogEvent>>) {
    let mut published = store.log().watch();
    loop {
        let reader = Arc::clone(&store);
        let batch = tokio::task::spawn_blocking(move || reader.events(next_offset, BATCH_RECORDS)).await;
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
                for event in events {
                    next_offset = event.offset + 1;
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = sender.send(Err(error)).await;
                return;
            }
        }
    }
}
