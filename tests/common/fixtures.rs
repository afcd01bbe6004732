//! The golden fixtures of the log formats (`tests/fixtures/v<N>/`): where
//! they are, copies to open, and the torn-tail variant's making. Shared by
//! the `compat_v<N>` tests.

use std::path::{Path, PathBuf};

use recstore::log::{Log, LogOptions, NewRecord};

use super::TestResult;

/// How many bytes of the extra frame's end a torn variant lost.
pub const TORN_MISSING_BYTES: u64 = 5;

pub fn fixture_dir(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(variant)
}

/// Copies a fixture's data directory (its `log/` folder) to a temporary one.
pub fn copy_fixture(variant: &str) -> Result<tempfile::TempDir, std::io::Error> {
    let data_dir = tempfile::tempdir()?;
    let log_dir = data_dir.path().join("log");
    std::fs::create_dir(&log_dir)?;
    for entry in std::fs::read_dir(fixture_dir(variant).join("log"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), log_dir.join(entry.file_name()))?;
    }
    Ok(data_dir)
}

/// Appends one more record, then cuts the end of its frame off.
pub fn tear_one_more_frame(log_dir: &Path) -> TestResult {
    let log = Log::open(log_dir, LogOptions::default())?;
    log.append(&[NewRecord { kind: 255, flags: 0, payload: b"lost in a crash" }])?;
    drop(log);
    std::fs::remove_file(log_dir.join("LOCK"))?;
    let newest = newest_segment(log_dir)?;
    let length = std::fs::metadata(&newest)?.len();
    std::fs::OpenOptions::new().write(true).open(&newest)?.set_len(length - TORN_MISSING_BYTES)?;
    Ok(())
}

pub fn segments(log_dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(log_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "seg") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

pub fn newest_segment(log_dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    Ok(segments(log_dir)?.pop().ok_or("no segment")?)
}
