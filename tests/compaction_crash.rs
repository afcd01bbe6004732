//! A crash or an I/O error at any moment of a compaction loses nothing the
//! policy keeps, and leaves a log that verifies clean and that the next
//! compaction finishes.
//!
//! `compaction_survives_kill9`: a child process (this test binary again,
//! running only `child_entry`) opens the store, and loops writing a few
//! acknowledged puts and deletes and compacting with `max_versions = 3`
//! (purging in odd rounds). The parent kills it with SIGKILL at a
//! pseudo-random moment, at least 30 times on the same directory, and after
//! each kill checks the directory (see [`check_store`]).
//!
//! `injected_faults_during_compaction_leave_a_valid_store`: on copies of
//! one populated store, the Nth write, and separately the Nth fsync, of one
//! compaction fails (with and without purge), for every N until the
//! compaction needs fewer; then the same checks. (Renames have no fault
//! hook in `recstore::storage`, so they are covered by the kills only.)
//!
//! [`check_store`]: verify finds no corruption; every acknowledged version
//! with fewer than three later versions reads back exactly; every other
//! version reads back exactly, says `Pruned`, or (purge) is gone; no
//! acknowledged event at an item's end is lost; a compaction that drops
//! nothing then leaves no put record behind a version the views call pruned.

mod common;
mod kill9_support;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kill9_support::Child;
use recstore::compaction::Policy;
use recstore::records::codec::kind;
use recstore::storage::{Fault, FaultInjector};
use recstore::{Data, Error, Metadata, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

use common::{Rng, TestResult};

const CHILD_DIR_ENV: &str = "RECSTORE_COMPACTION_CRASH_DIR";
const CHILD_ROUND_ENV: &str = "RECSTORE_COMPACTION_CRASH_ROUND";
const ACK_PREFIX: &str = "ACK ";
const READY_LINE: &str = "READY";
const ROUNDS: u64 = 36;
const MAX_VERSIONS: u32 = 3;
const ID_COUNT: u64 = 40;

fn id(n: u64) -> String {
    format!("item-{n:02}")
}

/// The data of version `version` of `id`: a writer can always tell what a
/// version must hold, acknowledged or not.
fn data(id: &str, version: u32) -> Value {
    let pad = (id.len() as u32 * 31 + version * 17) % 300;
    json!({"id": id, "version": version, "pad": "p".repeat(pad as usize)})
}

fn options(faults: Option<Arc<FaultInjector>>) -> StoreOptions {
    let mut options = StoreOptions::default().sync(SyncMode::Always).segment_size_bytes(4096);
    options.faults = faults;
    options
}

fn policy(purge: bool) -> Policy {
    Policy::keep_everything().max_versions(Some(MAX_VERSIONS)).purge(purge)
}

/// An acknowledged event: a put of `version` (0 for a delete) at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    id: String,
    version: u32,
    offset: u64,
}

impl Ack {
    fn line(&self) -> String {
        format!("{ACK_PREFIX}{} {} {}", self.id, self.version, self.offset)
    }

    fn parse(line: &str) -> Option<Self> {
        let mut fields = line.strip_prefix(ACK_PREFIX)?.split(' ');
        let id = fields.next()?.to_string();
        let version = fields.next()?.parse().ok()?;
        let offset = fields.next()?.parse().ok()?;
        Some(Self { id, version, offset })
    }
}

/// The item's last put version and whether it is live, from its history.
fn item_state(store: &Store, id: &str) -> Result<(u32, bool), Error> {
    match store.history(id) {
        Ok(history) => {
            let last_put = history.iter().rev().find(|h| h.event == "put").map_or(0, |h| h.version);
            Ok((last_put, history.last().is_some_and(|h| h.event == "put")))
        }
        Err(Error::NotFound { .. }) => Ok((0, false)),
        Err(error) => Err(error),
    }
}

/// One put or delete of a random item; returns what was acknowledged.
fn write_one(store: &Store, rng: &mut Rng) -> Result<Ack, Error> {
    let id = id(rng.next_u64() % ID_COUNT);
    let (last_put, live) = item_state(store, &id)?;
    if live && rng.next_u64() % 100 < 15 {
        let offset = store.delete(&id)?;
        return Ok(Ack { id, version: 0, offset });
    }
    let version = last_put + 1;
    let metadata = Metadata { id: Some(id.clone()), tags: vec!["crash".into()], ..Metadata::default() };
    let stored = store.put(Data::Json(data(&id, version)), metadata)?;
    assert_eq!(stored.version, version, "the child is the only writer");
    Ok(Ack { id, version, offset: stored.offset })
}

/// Runs in the child process only: writes and compacts until killed.
#[test]
fn child_entry() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return Ok(()) };
    let round: u64 = std::env::var(CHILD_ROUND_ENV)?.parse()?;
    let store = Store::open(Path::new(&dir), options(None))?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "\n{READY_LINE}\n")?;
    stdout.flush()?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (round + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        for _ in 0..3 {
            let ack = write_one(&store, &mut rng)?;
            write!(stdout, "\n{}\n", ack.line())?;
            stdout.flush()?;
        }
        store.compact(policy(round % 2 == 1))?;
    }
    Ok(())
}

/// Runs one child, kills it, and returns what it acknowledged.
fn run_child_and_kill(dir: &Path, round: u64) -> Result<Vec<Ack>, Box<dyn std::error::Error>> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (round + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let child = Child::spawn(&[(CHILD_DIR_ENV, dir.display().to_string()), (CHILD_ROUND_ENV, round.to_string())])?;
    if round % 6 == 5 {
        // Kill early: while the store opens and replays, or in the first write.
        std::thread::sleep(Duration::from_millis(rng.next_u64() % 40));
    } else {
        child.wait_for(|line| line == READY_LINE)?;
        std::thread::sleep(Duration::from_millis(rng.next_u64() % 250));
    }
    Ok(child.kill(round)?.iter().filter_map(|line| Ack::parse(line)).collect())
}

/// The checks of the module docs, on a closed store directory.
fn check_store(dir: &Path, acked: &[Ack], context: &str) -> TestResult {
    let report = recstore::log::verify(&dir.join(recstore::store::LOG_DIR_NAME), false)?;
    assert!(report.is_clean(), "{context}: verify before reopen: {:?}", report.problems);
    let store = Store::open(dir, options(None))?;
    check_reads(&store, acked, context)?;
    // A compaction that drops nothing finishes whatever a crash interrupted.
    store.compact(Policy::keep_everything())?;
    check_reads(&store, acked, context)?;
    for n in 0..ID_COUNT {
        let Ok(history) = store.history(&id(n)) else { continue };
        for entry in history.iter().filter(|h| h.event == "put") {
            if matches!(store.get_version(&id(n), entry.version), Err(Error::Pruned { .. })) {
                let record = store.log().read(entry.offset)?;
                assert_eq!(record.kind, kind::AUDIT_STUB, "{context}: {} v{} is pruned", id(n), entry.version);
            }
        }
    }
    drop(store);
    let report = recstore::log::verify(&dir.join(recstore::store::LOG_DIR_NAME), false)?;
    assert!(report.is_clean(), "{context}: verify after finishing: {:?}", report.problems);
    Ok(())
}

fn check_reads(store: &Store, acked: &[Ack], context: &str) -> TestResult {
    for n in 0..ID_COUNT {
        let id = id(n);
        let mine: Vec<&Ack> = acked.iter().filter(|a| a.id == id).collect();
        let history = match store.history(&id) {
            Ok(history) => history,
            Err(Error::NotFound { .. }) if mine.is_empty() => continue,
            Err(error) => panic!("{context}: {id} was acknowledged but reads {error}"),
        };
        // Every version the store holds holds the right data, or none.
        for entry in history.iter().filter(|h| h.event == "put") {
            match store.get_version(&id, entry.version) {
                Ok(read) => assert_eq!(read.json()?, data(&id, entry.version), "{context}: {id} v{}", entry.version),
                Err(Error::Pruned { .. }) => {}
                Err(error) => panic!("{context}: {id} v{} is in history but reads {error}", entry.version),
            }
        }
        for ack in mine.iter().filter(|a| a.version > 0) {
            let later = history.iter().filter(|h| h.event == "put" && h.version > ack.version).count();
            let read = store.get_version(&id, ack.version);
            if later < MAX_VERSIONS as usize {
                assert_eq!(read?.json()?, data(&id, ack.version), "{context}: {id} v{} is kept", ack.version);
                let entry = history.iter().find(|h| h.event == "put" && h.version == ack.version);
                assert_eq!(entry.map(|h| h.offset), Some(ack.offset), "{context}: {id} v{} offset", ack.version);
            } else {
                let allowed = matches!(read, Ok(_) | Err(Error::Pruned { .. } | Error::VersionNotFound { .. }));
                assert!(allowed, "{context}: {id} v{} may be dropped, read {read:?}", ack.version);
            }
        }
        let last = history.last().ok_or("a history has an event")?;
        if let Some(ack) = mine.last() {
            assert!(last.offset >= ack.offset, "{context}: {id} lost its acknowledged event at {}", ack.offset);
        }
        let latest = store.get(&id);
        if last.event == "delete" {
            assert!(matches!(latest, Err(Error::Deleted { .. })), "{context}: {id} is deleted: {latest:?}");
        } else {
            assert!(latest.is_ok(), "{context}: {id}'s latest version is kept: {latest:?}");
        }
    }
    Ok(())
}

/// A store with every item at five or more versions, some deleted.
fn populate(dir: &Path) -> Result<Vec<Ack>, Box<dyn std::error::Error>> {
    let store = Store::open(dir, options(None).sync(SyncMode::Never))?;
    let mut rng = Rng(0x51_7CC1_B727_220A);
    let mut acked = Vec::new();
    for _ in 0..ID_COUNT * 6 {
        acked.push(write_one(&store, &mut rng)?);
    }
    store.close()?;
    Ok(acked)
}

#[test]
fn compaction_survives_kill9() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut acked = populate(dir.path())?;
    for round in 0..ROUNDS {
        acked.extend(run_child_and_kill(dir.path(), round)?);
        check_store(dir.path(), &acked, &format!("round {round}"))?;
    }
    let store = Store::open(dir.path(), options(None))?;
    assert!(store.compaction_horizon().is_some(), "the children's compactions must have dropped something");
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum FailedCall {
    Write,
    Sync,
}

#[test]
fn injected_faults_during_compaction_leave_a_valid_store() -> TestResult {
    let template = tempfile::tempdir()?;
    let acked = populate(template.path())?;
    for call in [FailedCall::Write, FailedCall::Sync] {
        for purge in [false, true] {
            let mut failed = 0;
            for n in 0.. {
                assert!(n < 2000, "{call:?}: a compaction cannot need this many calls");
                let copy = tempfile::tempdir()?;
                copy_dir(template.path(), copy.path())?;
                let faults = Arc::new(FaultInjector::default());
                let store = Store::open(copy.path(), options(Some(faults.clone())))?;
                match call {
                    FailedCall::Write => faults.fail_write_after(n, Fault::Eio),
                    FailedCall::Sync => faults.fail_sync_after(n, Fault::NoSpace),
                }
                let result = store.compact(policy(purge));
                drop(store);
                check_store(copy.path(), &acked, &format!("{call:?} {n} purge={purge} ({result:?})"))?;
                match result {
                    Err(_) => failed += 1,
                    // The fault never fired: every call of a whole
                    // compaction has now failed once.
                    Ok(_) => break,
                }
            }
            assert!(failed > 3, "{call:?} purge={purge}: only {failed} calls were failed");
        }
    }
    Ok(())
}
