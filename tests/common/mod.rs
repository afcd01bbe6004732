//! Scaffolding shared by the test binaries: the result type, a seeded
//! random number generator, and the storage backends a log test runs on.

#![allow(dead_code, reason = "each test binary uses a different part of this helper")]

pub mod compressed_store;
pub mod fixtures;

use std::path::PathBuf;

use recstore::log::LogOptions;
use recstore::storage::{Disk, MemoryStorage, SharedStorage, StorageOp};

/// What a test returns, so that it can use `?`.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// xorshift64: a cheap, seeded stream of choices; the same seed gives the
/// same run, and a failure names the seed that reproduces it. The seed
/// must not be 0 ([`Rng::new`] sees to that).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator for any seed, 0 included.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}

/// A place for a log on one backend: where it lives and what it runs on.
pub struct Backend {
    pub name: &'static str,
    pub log_dir: PathBuf,
    pub storage: SharedStorage,
    /// Keeps the disk backend's directory until the test ends.
    _temporary: Option<tempfile::TempDir>,
}

impl Backend {
    /// `options` on this backend.
    pub fn options(&self, options: LogOptions) -> LogOptions {
        LogOptions { storage: self.storage.clone(), ..options }
    }
}

/// A fresh log directory on every backend: the disk, then memory.
pub fn every_backend() -> std::io::Result<Vec<Backend>> {
    let temporary = tempfile::tempdir()?;
    let disk = Backend {
        name: "disk",
        log_dir: temporary.path().join("log"),
        storage: std::sync::Arc::new(Disk),
        _temporary: Some(temporary),
    };
    let memory = Backend {
        name: "memory",
        log_dir: PathBuf::from("/memory/log"),
        storage: std::sync::Arc::new(MemoryStorage::default()),
        _temporary: None,
    };
    Ok(vec![disk, memory])
}

/// Where a power-loss test cuts a run whose mutations were `ops`: right
/// after each fdatasync, directory fsync and rename first (where durability
/// changes), then after every other number of mutations, 0 to all.
pub fn crash_points(ops: &[StorageOp]) -> Vec<usize> {
    let barrier = |op: &StorageOp| matches!(op, StorageOp::SyncData | StorageOp::SyncDir | StorageOp::Rename);
    let barriers: Vec<usize> = (0..ops.len()).filter(|&i| barrier(&ops[i])).map(|i| i + 1).collect();
    let others: Vec<usize> = (0..=ops.len()).filter(|cut| !barriers.contains(cut)).collect();
    barriers.into_iter().chain(others).collect()
}
