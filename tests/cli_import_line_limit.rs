//! `recstore import` reads lines in bounded chunks (issue 20, item 7).
//! It read each line whole with `read_until`, so input without a newline
//! (`recstore import /dev/zero`) grew memory without end (4.2 GB in 20 s).
//! Now a line longer than the item limit as base64 plus its envelope
//! (`IMPORT_LINE_SIZE_BYTES_MAX`, about 86 MiB) is refused, naming its line
//! number, before more of it is read.

mod common;

use std::process::Command;

use common::TestResult;

/// Peak resident memory the import may reach: one line at its limit, the
/// reader's buffer, and the store. Without the bound it was unbounded.
const PEAK_RSS_KIB_MAX: u64 = 400 * 1024;

#[test]
fn import_of_dev_zero_fails_on_line_1_with_bounded_memory() -> TestResult {
    let dir = tempfile::tempdir()?;
    // GNU time reports the child's peak RSS (`%M`, KiB) on its last line.
    let output = Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kib=%M"])
        .arg(env!("CARGO_BIN_EXE_recstore"))
        .arg("--data")
        .arg(dir.path())
        .args(["import", "/dev/zero"])
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 1:") && stderr.contains("bytes"), "names the line and the limit: {stderr}");
    let peak_kib: u64 = stderr
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("peak_rss_kib="))
        .ok_or("no peak RSS from /usr/bin/time")?
        .trim()
        .parse()?;
    println!("import /dev/zero: peak RSS {} MiB", peak_kib / 1024);
    assert!(peak_kib < PEAK_RSS_KIB_MAX, "peak RSS {peak_kib} KiB, over {PEAK_RSS_KIB_MAX} KiB");
    Ok(())
}
