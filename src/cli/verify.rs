//! `recstore verify`: checks every frame and record checksum of the log,
//! and with `--repair` moves damaged data to quarantine so the log opens
//! again (see `crate::log::verify` for the policy).

use crate::error::ErrorKind;
use std::io::Write;

use clap::Args;
use serde_json::json;

use super::{CliError, Context, Counted, stdout, write_json_line};
use crate::log::VerifyReport;
use crate::store::LOG_DIR_NAME;

const AFTER_HELP: &str = "\
Examples:
  recstore verify
  checked 3 segments, 1210 frames, 250000 records, 402653184 bytes: clean
  recstore verify --repair     # needs the write lock: stop `serve` first

Exit code 4 if corruption is found (without --repair), or remains after
repairing; warnings (a torn tail, a stale index) do not change the exit code.";

/// Check every checksum of the log; optionally repair by quarantine.
///
/// Reads every segment with plain reads, checks each frame and record
/// checksum, offset order and density, and each segment index, and lists
/// what it found. Without --repair it writes nothing and takes no lock, so it
/// runs beside a writer. With --repair it takes the write lock, moves damaged
/// bytes to `<data>/quarantine/`, cuts the log back to its last good record,
/// resumes offsets past every one handed out before (so none is reused),
/// and deletes bad index files (they are rebuilt on the next open). Views
/// and a search index that cover quarantined offsets fail their check
/// against the log on the next open and are rebuilt.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct VerifyArgs {
    /// Move damaged data to quarantine so the log opens again.
    #[arg(long)]
    pub repair: bool,
}

pub(crate) fn run(args: VerifyArgs, context: &Context) -> Result<(), CliError> {
    let log_dir = context.data_dir.join(LOG_DIR_NAME);
    let report = verify_report(&log_dir, args.repair)?;
    let clean = report.is_clean();
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &report_json(&report, args.repair))?;
    } else {
        for problem in &report.problems {
            writeln!(out, "{problem}")?;
        }
        for path in &report.quarantined {
            writeln!(out, "quarantined {}", path.display())?;
        }
        let verdict = match (clean, args.repair) {
            (true, _) if report.problems.is_empty() => "clean".to_string(),
            (true, _) => "no corruption (warnings only)".to_string(),
            (false, true) => match report.repaired_next_offset {
                Some(cut) => format!(
                    "corruption repaired: the log was cut back to offset {cut}, the records from there on are in \
                     quarantine, and new writes get offsets from {} on, so no offset is handed out twice",
                    report.resumed_next_offset.unwrap_or(cut)
                ),
                None => "corruption repaired".to_string(),
            },
            (false, false) => "CORRUPTION FOUND".to_string(),
        };
        writeln!(
            out,
            "checked {}, {}, {}, {}: {verdict}",
            Counted(report.segments_checked, "segment"),
            Counted(report.frames_checked, "frame"),
            Counted(report.records_checked, "record"),
            Counted(report.bytes_checked, "byte")
        )?;
    }
    out.flush()?;
    // With --repair, `verify` itself fails if damage remains, so reaching
    // here means the log opens again.
    if !clean && !args.repair {
        let count = report.problems.iter().filter(|p| p.kind.is_corruption()).count();
        return Err(CliError {
            message: format!("{count} corrupt place(s) in {}; run `recstore verify --repair`", log_dir.display()),
            kind: ErrorKind::Corruption,
        });
    }
    Ok(())
}

/// A missing data directory is an empty store, and an empty store is clean.
/// A missing data directory is an empty store, and an empty store is clean.
/// Every record's payload is checked too (puts decompress to their md5).
fn verify_report(log_dir: &std::path::Path, repair: bool) -> crate::Result<VerifyReport> {
    let check = Some(crate::records::codec::check_payload as crate::log::PayloadCheck);
    Ok(if log_dir.exists() { crate::log::verify_payloads(log_dir, repair, check)? } else { VerifyReport::default() })
}

/// Checks the store in `data_dir` without repairing it and returns the
/// object `recstore verify --json` prints (the Python binding's `verify()`).
/// Corruption is reported in the object (`clean: false`), not as an error.
pub fn verify_json(data_dir: &std::path::Path) -> crate::Result<serde_json::Value> {
    let report = verify_report(&data_dir.join(LOG_DIR_NAME), false)?;
    Ok(report_json(&report, false))
}

fn report_json(report: &VerifyReport, repair: bool) -> serde_json::Value {
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| {
            json!({
                "kind": snake_case(&format!("{:?}", p.kind)), "path": p.path, "position_bytes": p.position_bytes,
                "offset": p.offset, "message": p.message,
            })
        })
        .collect();
    json!({
        "clean": report.is_clean(), "repaired": repair && !report.is_clean(),
        "segments_checked": report.segments_checked, "frames_checked": report.frames_checked,
        "records_checked": report.records_checked, "bytes_checked": report.bytes_checked,
        "next_offset": report.next_offset, "repaired_next_offset": report.repaired_next_offset,
        "resumed_next_offset": report.resumed_next_offset,
        "problems": problems, "quarantined": report.quarantined,
    })
}

/// `TornTail` to `torn_tail`: problem kinds in the style of error kinds.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
