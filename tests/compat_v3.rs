//! Logs in format version 3 stay readable: puts of codec 2, whose metadata
//! and data are zstd frames (segments-format.md, "Put payload"), read back
//! byte-exact, also from the audit stubs compaction made of them.
//!
//! `tests/fixtures/v3/log/` is the log of the same small item store as the
//! version 2 fixture (a dataset pinning `reading-1@1`, more versions, a
//! compaction keeping one version per item, a put after it), written with
//! compression on and metadata long enough that zstd shrinks it, so every
//! put has both sections compressed. It was written once by the real store
//! through `regenerate` below, and committed: its wall-clock timestamps are
//! fixed from then on. `tests/fixtures/v3-torn-tail/log/` is the same log
//! with the last 5 bytes of one more frame missing from its newest segment.
//!
//! The fixture holds the log alone (no views), so every open below replays
//! it. Once version 3 has shipped these files never change. Tests open
//! copies in temporary directories.

mod common;

use std::path::Path;

use recstore::log::FORMAT_VERSION;

use common::TestResult;
use common::compressed_store::{check_replays, check_torn_tail, regenerate};

#[test]
#[ignore = "rewrites the committed fixtures of a version that shipped: never run again"]
fn regenerate_fixtures() -> TestResult {
    regenerate(3)
}

#[test]
fn v3_log_replays_compressed_puts_and_every_header_is_version_3() -> TestResult {
    const { assert!(FORMAT_VERSION > 3, "version 4 has its own fixture (compat_v4.rs)") };
    check_replays(3, |_: &Path| Ok(()))
}

#[test]
fn v3_torn_tail_opens_with_the_complete_records_and_cuts_the_tail() -> TestResult {
    check_torn_tail(3)
}
