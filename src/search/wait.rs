//! Waiting for the search index to cover an offset: as long as it makes
//! progress, failing only when it stalls.
//!
//! Owns the rule, nothing else: [`wait_while_progressing`] is a loop over a
//! progress source and a clock that it is handed, so a unit test can drive
//! it with a fake index and a fake clock (no sleeping, no timing). It never
//! touches the index or a lock itself. A fixed deadline failed a search
//! after a large import on a busy machine although indexing was moving;
//! the stall timeout ([`crate::limits::SEARCH_STALL_TIMEOUT_MS`]) counts
//! only time without progress.

use std::time::{Duration, Instant};

/// How far the index has come, as a waiter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// Searches see every record below this offset.
    pub searchable_next: u64,
    /// The offset waited for: searches must see every record below it.
    pub target_next: u64,
    /// Records the follower has applied since the index opened: it moves
    /// between commits, so it shows progress that `searchable_next`, which
    /// moves only at a commit, does not.
    pub records_indexed: u64,
}

impl CatchUp {
    /// Whether searches see everything asked for.
    pub fn is_covered(&self) -> bool {
        self.searchable_next >= self.target_next
    }

    /// What counts as progress: either number moving.
    fn marker(&self) -> (u64, u64) {
        (self.searchable_next, self.records_indexed)
    }
}

/// Why the wait gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError<E> {
    /// Nothing moved for the stall timeout; the last state seen.
    Stalled(CatchUp),
    /// The progress source failed (the index stopped, or cannot move).
    Source(E),
}

/// Waits until `poll` reports the target covered. `poll(at_most)` blocks
/// up to `at_most` for a change and returns the state then (or fails);
/// `now` is the clock; `on_progress` sees every state while not covered.
/// Fails with [`WaitError::Stalled`] once neither number of [`CatchUp`]
/// has moved for `stall`, however long the whole wait took. `tick` bounds
/// each poll so `on_progress` keeps hearing of records indexed between
/// commits (which wake nobody).
pub fn wait_while_progressing<E>(
    stall: Duration,
    tick: Duration,
    mut now: impl FnMut() -> Instant,
    mut poll: impl FnMut(Duration) -> Result<CatchUp, E>,
    mut on_progress: impl FnMut(&CatchUp),
) -> Result<(), WaitError<E>> {
    let mut state = poll(Duration::ZERO).map_err(WaitError::Source)?;
    let (mut marker, mut moved_at) = (state.marker(), now());
    loop {
        if state.is_covered() {
            return Ok(());
        }
        on_progress(&state);
        let waited = now().saturating_duration_since(moved_at);
        let Some(left) = stall.checked_sub(waited).filter(|left| !left.is_zero()) else {
            return Err(WaitError::Stalled(state));
        };
        state = poll(left.min(tick)).map_err(WaitError::Source)?;
        if state.marker() != marker {
            (marker, moved_at) = (state.marker(), now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const STALL: Duration = Duration::from_secs(30);
    const TICK: Duration = Duration::from_millis(250);

    /// A fake index that indexes `step` records every `every` of fake time,
    /// committing (so searches see them) at each step, for `steps` steps.
    struct FakeIndex {
        start: Instant,
        clock: Cell<Duration>,
        every: Duration,
        step: u64,
        steps: u64,
    }

    impl FakeIndex {
        fn state(&self, target_next: u64) -> CatchUp {
            let elapsed_steps = (self.clock.get().as_nanos() / self.every.as_nanos()) as u64;
            let indexed = elapsed_steps.min(self.steps) * self.step;
            CatchUp { searchable_next: indexed, target_next, records_indexed: indexed }
        }

        /// Polls: time passes by what the waiter allows.
        fn poll(&self, at_most: Duration, target_next: u64) -> Result<CatchUp, ()> {
            self.clock.set(self.clock.get() + at_most);
            Ok(self.state(target_next))
        }

        fn wait(&self, target_next: u64) -> (Result<(), WaitError<()>>, u64) {
            let calls = Cell::new(0u64);
            let result = wait_while_progressing(
                STALL,
                TICK,
                || self.start + self.clock.get(),
                |at_most| self.poll(at_most, target_next),
                |_| calls.set(calls.get() + 1),
            );
            (result, calls.get())
        }
    }

    fn fake(every: Duration, step: u64, steps: u64) -> FakeIndex {
        FakeIndex { start: Instant::now(), clock: Cell::new(Duration::ZERO), every, step, steps }
    }

    #[test]
    fn a_slow_index_that_keeps_moving_is_waited_for_past_any_fixed_deadline() {
        // 250,000 records, 10,000 every 20 s: 500 s in all, far past the old
        // fixed 30 s wait, but never 30 s without progress.
        let index = fake(Duration::from_secs(20), 10_000, 25);
        let (result, progress_calls) = index.wait(250_000);
        assert_eq!(result, Ok(()));
        assert!(index.clock.get() >= Duration::from_secs(500), "waited {:?}", index.clock.get());
        assert!(progress_calls > 25, "the progress callback heard of each step: {progress_calls}");
    }

    #[test]
    fn an_index_that_stops_moving_fails_after_the_stall_timeout_naming_where_it_stood() {
        // Moves for 60 s, then never again, short of the target.
        let index = fake(Duration::from_secs(20), 10_000, 3);
        let (result, _) = index.wait(250_000);
        let stuck = CatchUp { searchable_next: 30_000, target_next: 250_000, records_indexed: 30_000 };
        assert_eq!(result, Err(WaitError::Stalled(stuck)));
        let waited = index.clock.get();
        assert!(waited >= Duration::from_secs(60) + STALL, "gave up only after a full stall: {waited:?}");
        assert!(waited <= Duration::from_secs(60) + STALL + TICK, "and not much later: {waited:?}");
    }

    #[test]
    fn records_indexed_between_commits_count_as_progress() {
        let start = Instant::now();
        let clock = Cell::new(Duration::ZERO);
        // Searches see nothing new for 100 s; records keep being applied.
        let result = wait_while_progressing(
            STALL,
            TICK,
            || start + clock.get(),
            |at_most| {
                clock.set(clock.get() + at_most);
                let seconds = clock.get().as_secs();
                let committed = seconds >= 100;
                Ok::<_, ()>(CatchUp {
                    searchable_next: if committed { 10 } else { 0 },
                    target_next: 10,
                    records_indexed: seconds,
                })
            },
            |_| {},
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn a_covered_target_returns_at_once_and_a_failing_source_fails() {
        let covered = CatchUp { searchable_next: 5, target_next: 5, records_indexed: 0 };
        let result =
            wait_while_progressing::<()>(STALL, TICK, Instant::now, |_| Ok(covered), |_| panic!("no progress shown"));
        assert_eq!(result, Ok(()));
        let failed = wait_while_progressing(STALL, TICK, Instant::now, |_| Err("index stopped"), |_| {});
        assert_eq!(failed, Err(WaitError::Source("index stopped")));
    }
}
