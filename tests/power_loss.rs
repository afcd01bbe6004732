//! Power loss, simulated through the storage seam.
//!
//! A kill -9 leaves the page cache to the kernel, which writes it out: no
//! crash test of a process can show what happens when unsynced bytes are
//! lost, torn at a sector, reordered, or when a name that was never synced
//! into its directory vanishes. [`MemoryStorage`] can: a seeded workload of
//! appends, syncs, rolls and compactions runs on it until the power is cut
//! after its Nth mutation, for every N, and each cut is turned into several
//! crash images (nothing unsynced kept, everything kept, random sectors
//! kept, a prefix kept). Each image must open, hold every record that was
//! acknowledged under `SyncMode::Always` exactly, hold under any mode only
//! a prefix of what was written (less what compaction may drop), never a
//! record half-written or unknown, verify clean, and take appends again.
//!
//! `RECSTORE_POWER_LOSS_STATES` raises the number of crash states checked
//! (default 20,000); the count is printed.

mod common;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use common::{Rng, TestResult, crash_points};
use recstore::log::{Log, LogOptions, NewRecord, RecordAction, RecordRef, SegmentPlanner, SyncMode, verify_in};
use recstore::storage::MemoryStorage;

const LOG_DIR: &str = "/power/log";
const STATES_DEFAULT: usize = 20_000;
/// Crash images made of each cut: see [`images`].
const IMAGES_PER_CUT: usize = 5;

/// What a workload attempted and what it was told.
#[derive(Debug, Default)]
struct History {
    /// Every record whose append was attempted, by the offset it would get.
    attempted: BTreeMap<u64, Vec<u8>>,
    /// Offsets whose append returned success.
    acknowledged: Vec<u64>,
    /// Offsets below this may have been dropped by a compaction that began.
    compacted_below: u64,
}

/// Drops every record whose payload starts with `d`.
struct DropMarked;

impl SegmentPlanner for DropMarked {
    fn decide(&mut self, record: &RecordRef<'_>) -> RecordAction {
        if record.payload.first() == Some(&b'd') { RecordAction::Drop } else { RecordAction::Keep }
    }
}

fn options(storage: &MemoryStorage, sync: SyncMode) -> LogOptions {
    LogOptions { segment_size_bytes: 2048, sync, storage: Arc::new(storage.clone()), ..LogOptions::default() }
}

fn payload(rng: &mut Rng, offset: u64) -> Vec<u8> {
    let marker = if rng.chance(1, 4) { 'd' } else { 'k' };
    let len_bytes = 8 + rng.below(700) as usize;
    let mut bytes = format!("{marker}{offset}:").into_bytes();
    bytes.resize(len_bytes.max(bytes.len()), b'a' + (offset % 26) as u8);
    bytes
}

/// Runs the workload of `seed` until it ends or the storage refuses a write.
fn run_workload(storage: &MemoryStorage, sync: SyncMode, seed: u64) -> History {
    let mut rng = Rng::new(seed);
    let mut history = History::default();
    let Ok(log) = Log::open(Path::new(LOG_DIR), options(storage, sync)) else { return history };
    for _ in 0..40 {
        let step = rng.below(20);
        let outcome = match step {
            0 => log.sync().map(|_| ()),
            1 => log.roll(),
            2 => {
                history.compacted_below = history.compacted_below.max(log.next_offset());
                log.compact_sealed(log.next_offset(), &mut DropMarked).map(|_| ())
            }
            _ => append_batch(&log, &mut rng, &mut history),
        };
        if outcome.is_err() {
            break;
        }
    }
    history
}

fn append_batch(log: &Log, rng: &mut Rng, history: &mut History) -> Result<(), recstore::log::LogError> {
    let first_offset = log.next_offset();
    let count = 1 + rng.below(3);
    let payloads: Vec<Vec<u8>> = (first_offset..first_offset + count).map(|offset| payload(rng, offset)).collect();
    for (offset, bytes) in (first_offset..).zip(&payloads) {
        history.attempted.insert(offset, bytes.clone());
    }
    let records: Vec<NewRecord<'_>> = payloads.iter().map(|p| NewRecord { kind: 1, flags: 0, payload: p }).collect();
    let appended = log.append(&records)?;
    assert_eq!(appended.first_offset, first_offset, "offsets are dense");
    history.acknowledged.extend(first_offset..first_offset + count);
    Ok(())
}

/// The crash images of one cut: nothing unsynced kept, everything kept,
/// two draws of random sectors, and a random prefix of the sectors.
fn images(storage: &MemoryStorage, rng: &mut Rng) -> Vec<MemoryStorage> {
    let mut all = vec![storage.crash_image(|| false), storage.crash_image(|| true)];
    for _ in 0..2 {
        let mut draw = Rng::new(rng.next_u64());
        all.push(storage.crash_image(|| draw.chance(1, 2)));
    }
    let mut kept = rng.below(64);
    all.push(storage.crash_image(|| {
        kept = kept.saturating_sub(1);
        kept > 0
    }));
    debug_assert_eq!(all.len(), IMAGES_PER_CUT);
    all
}

/// Opens a crash image and checks it against what the workload was told.
fn check_image(image: &MemoryStorage, sync: SyncMode, history: &History, label: &str) -> TestResult {
    let log = Log::open(Path::new(LOG_DIR), options(image, sync)).map_err(|e| format!("{label}: open: {e}"))?;
    let mut found = BTreeMap::new();
    log.scan(0, |record| {
        found.insert(record.offset, record.payload.to_vec());
        ControlFlow::Continue(())
    })
    .map_err(|e| format!("{label}: scan: {e}"))?;
    for (offset, bytes) in &found {
        let attempted = history.attempted.get(offset);
        assert_eq!(attempted, Some(bytes), "{label}: offset {offset} holds bytes never written there");
    }
    let last_found = found.keys().next_back().copied();
    for (&offset, bytes) in &history.attempted {
        let droppable = bytes[0] == b'd' && offset < history.compacted_below;
        let below_a_survivor = last_found.is_some_and(|last| offset < last);
        let acknowledged = sync == SyncMode::Always && history.acknowledged.binary_search(&offset).is_ok();
        if (below_a_survivor || acknowledged) && !droppable {
            assert!(found.contains_key(&offset), "{label}: offset {offset} lost (acknowledged: {acknowledged})");
        }
    }
    let report = verify_in(image, Path::new(LOG_DIR)).map_err(|e| format!("{label}: verify: {e}"))?;
    assert!(report.is_clean(), "{label}: verify after recovery: {:?}", report.problems);
    let next_offset = log.next_offset();
    assert!(last_found.is_none_or(|last| next_offset > last), "{label}: next offset {next_offset} reuses one");
    let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: b"after the crash" }])?;
    drop(log);
    let reopened = Log::open(Path::new(LOG_DIR), options(image, sync))?;
    assert_eq!(reopened.read(appended.first_offset)?.payload, b"after the crash", "{label}");
    Ok(())
}

/// Every cut of one workload: after each sync and rename first, then the
/// rest of the mutations, until `budget` states are checked.
fn crash_every_point(sync: SyncMode, seed: u64, budget: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let whole = MemoryStorage::default();
    run_workload(&whole, sync, seed);
    let ops = whole.ops();
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut states = 0;
    for cut in crash_points(&ops) {
        if states >= budget {
            break;
        }
        let storage = MemoryStorage::default();
        storage.cut_power_after(cut);
        let history = run_workload(&storage, sync, seed);
        for (number, image) in images(&storage, &mut rng).iter().enumerate() {
            let label = format!("{sync:?} seed {seed} cut after op {cut} of {} image {number}", ops.len());
            check_image(image, sync, &history, &label)?;
            states += 1;
        }
    }
    Ok(states)
}

#[test]
fn every_crash_state_keeps_what_was_acknowledged_and_nothing_half_written() -> TestResult {
    let target: usize = match std::env::var("RECSTORE_POWER_LOSS_STATES") {
        Ok(text) => text.parse()?,
        Err(_) => STATES_DEFAULT,
    };
    let mut states = 0;
    let mut seed = 1;
    while states < target {
        for sync in [SyncMode::Always, SyncMode::Never] {
            states += crash_every_point(sync, seed, target.saturating_sub(states))?;
        }
        seed += 1;
    }
    println!("power loss: {states} crash states checked over {} workloads", (seed - 1) * 2);
    assert!(states >= target);
    Ok(())
}
