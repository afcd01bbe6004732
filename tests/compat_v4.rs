//! Logs in format version 4 stay readable. Version 4 is version 3 with the
//! frame header's former reserved field holding `durable_len_bytes`: how
//! much of the segment was durable when the frame was written
//! (segments-format.md, "Frame"), which recovery uses to tell a torn tail
//! from damage to durable bytes.
//!
//! `tests/fixtures/v4/log/` is the log of the same small item store as the
//! version 2 and 3 fixtures (a dataset pinning `reading-1@1`, more versions, a
//! compaction keeping one version per item, a put after it), written with
//! compression on and metadata long enough that zstd shrinks it, so every
//! put has both sections compressed. It was written once by the real store
//! through `regenerate` below, and committed: its wall-clock timestamps are
//! fixed from then on. `tests/fixtures/v4-torn-tail/log/` is the same log
//! with the last 5 bytes of one more frame missing from its newest segment.
//!
//! The fixture holds the log alone (no views), so every open below replays
//! it. Once version 4 has shipped these files never change. Tests open
//! copies in temporary directories.

mod common;

use std::path::Path;

use recstore::log::FORMAT_VERSION;

use common::TestResult;
use common::compressed_store::{check_replays, check_torn_tail, regenerate};

#[test]
#[ignore = "rewrites the committed fixtures; run only before version 4 ships"]
fn regenerate_fixtures() -> TestResult {
    regenerate(4)
}

/// Frames in the newest segment say how much of it was durable when they
/// were written: at least the header, and never past their own position.
/// The fixture was written with `SyncMode::Always`, so each frame but the
/// first records the end of the frame before it.
fn check_durable_lengths(log_dir: &Path) -> TestResult {
    let bytes = std::fs::read(common::fixtures::newest_segment(log_dir)?)?;
    let mut position = 32;
    let mut previous_end = 32;
    while position < bytes.len() {
        let durable = u32::from_le_bytes(bytes[position + 12..position + 16].try_into()?) as usize;
        assert_eq!(durable, previous_end, "durable_len_bytes of the frame at {position}");
        let size = u32::from_le_bytes(bytes[position + 4..position + 8].try_into()?) as usize;
        previous_end = position + size;
        position += size;
    }
    Ok(())
}

#[test]
fn v4_log_replays_compressed_puts_and_every_header_is_version_4() -> TestResult {
    assert_eq!(FORMAT_VERSION, 4, "a new version needs its own fixture and test");
    check_replays(4, check_durable_lengths)
}

#[test]
fn v4_torn_tail_opens_with_the_complete_records_and_cuts_the_tail() -> TestResult {
    check_torn_tail(4)
}
