//! Acknowledged appends survive SIGKILL, whenever it lands.
//!
//! A child process (this test binary again, running only `child_entry`)
//! appends batches with `SyncMode::Always` and prints each acknowledged last
//! offset. The parent kills it with SIGKILL at a pseudo-random moment,
//! reopens the log, and checks that every acknowledged record is there and
//! intact and that offsets are dense; then it starts the next round on the
//! same directory. Segments are small, so some kills land during a roll, and
//! every fifth round kills the child while it may still be opening the log
//! (and cutting the torn tail the previous kill left).

mod common;
mod kill9_support;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use kill9_support::Child;
use recstore::log::{Log, LogOptions, NewRecord, SyncMode};

use common::TestResult;

/// Set in the child's environment to the log directory it appends to.
const CHILD_DIR_ENV: &str = "RECSTORE_CRASH_CHILD_DIR";
/// Prefix of the line the child prints for each acknowledged batch.
const ACK_PREFIX: &str = "ACK ";
const ROUNDS: u64 = 50;

fn options() -> LogOptions {
    LogOptions { segment_size_bytes: 32 * 1024, sync: SyncMode::Always, ..LogOptions::default() }
}

/// The payload of the record at `offset`: 8 to 2055 bytes that depend only
/// on the offset, so the parent can check any record the child wrote.
fn payload(offset: u64) -> Vec<u8> {
    let size = (offset.wrapping_mul(7919) % 2048) as usize;
    let mut bytes = offset.to_le_bytes().to_vec();
    bytes.extend((0..size).map(|i| (offset as u8).wrapping_mul(31).wrapping_add(i as u8)));
    bytes
}

/// xorshift64: cheap, deterministic delays.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs in the child process only: appends until killed.
#[test]
fn child_entry() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return Ok(()) };
    let log = Log::open(Path::new(&dir), options())?;
    let mut stdout = std::io::stdout().lock();
    // A guard so an orphaned child cannot run forever; the parent kills
    // it long before.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let first = log.next_offset();
        let payloads: Vec<Vec<u8>> = (first..=first + first % 4).map(payload).collect();
        let batch: Vec<NewRecord<'_>> = payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
        let appended = log.append(&batch)?;
        assert_eq!(appended.first_offset, first, "this process is the only writer");
        // The leading newline keeps the line apart from the test harness's
        // own output; each line goes out in one write.
        write!(stdout, "\n{ACK_PREFIX}{}\n", appended.last_offset)?;
        stdout.flush()?;
    }
    Ok(())
}

/// Runs one child, kills it, and returns the highest offset it acknowledged.
fn run_child_and_kill(dir: &Path, round: u64) -> Result<Option<u64>, Box<dyn std::error::Error>> {
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15 ^ (round + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let child = Child::spawn(&[(CHILD_DIR_ENV, dir.display().to_string())])?;
    let mut seen = Vec::new();
    if round % 5 == 4 {
        // Kill early: during start-up, recovery, or the first appends.
        std::thread::sleep(Duration::from_millis(random.next() % 15));
    } else {
        // Let the child acknowledge one batch, so every such round makes
        // progress, then kill it somewhere in the next 60 ms of appends.
        seen = child.wait_for(|line| line.starts_with(ACK_PREFIX))?;
        std::thread::sleep(Duration::from_millis(random.next() % 60));
    }
    seen.extend(child.kill(round)?);
    let mut acked = None;
    for line in &seen {
        if let Some(offset) = line.strip_prefix(ACK_PREFIX) {
            acked = acked.max(Some(offset.parse::<u64>()?));
        }
    }
    Ok(acked)
}

/// Reopens the log and checks it against everything acknowledged so far.
fn check_after_crash(dir: &Path, acked: Option<u64>, round: u64) -> Result<usize, Box<dyn std::error::Error>> {
    let log = Log::open(dir, options())?;
    let next_offset = log.next_offset();
    if let Some(acked) = acked {
        assert!(next_offset > acked, "round {round}: offset {acked} was acknowledged, next_offset={next_offset}");
    }
    let mut expected = 0;
    log.scan(0, |record| {
        assert_eq!(record.offset, expected, "round {round}: offsets must be dense");
        assert_eq!(record.payload, payload(record.offset), "round {round}: payload of offset {}", record.offset);
        expected += 1;
        ControlFlow::Continue(())
    })?;
    assert_eq!(expected, next_offset, "round {round}: a scan must return every offset below next_offset");
    Ok(log.segment_count())
}

#[test]
fn acknowledged_appends_survive_kill9() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut acked: Option<u64> = None;
    let mut segment_count = 0;
    for round in 0..ROUNDS {
        acked = acked.max(run_child_and_kill(dir.path(), round)?);
        segment_count = check_after_crash(dir.path(), acked, round)?;
    }
    // At least 40 acknowledged batches of about 2.5 KiB each: the kills
    // must have met a log that rolled past its first 32 KiB segment.
    assert!(segment_count > 1, "the log never rolled: {segment_count} segment(s)");
    Ok(())
}
