//! `recstore restore`: a new, independent store equal to this one at a
//! point in history. Reads the source read-only, so it works beside a
//! running server.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, Context, Counted, stdout, write_json_line};
use crate::timetravel::AsOf;

const AFTER_HELP: &str = "\
Examples:
  recstore restore --as-of 2026-11-25T10:00:00Z --into ./before-the-bad-import
  recstore restore --as-of @4999 --into /backups/at-offset-4999
  recstore --data ./before-the-bad-import stats

The target must not exist or must be empty; anything else is refused and left untouched.
The copy is built in .DIR.restoring-PID beside the target and renamed into place when
complete: an interrupted restore leaves the target as it was (delete the staging directory).";

/// Restore the store as of a point in history into a new data directory.
///
/// Sealed segments before the point are hard-linked (or copied), the
/// segment holding the point is copied and cut at the end of that record's
/// batch, and the new store's views are rebuilt. The new store is
/// independent: writing to it never touches this one. It answers exactly
/// what `--as-of WHEN` reads of this store answer.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RestoreArgs {
    /// The point: an RFC 3339 time or a log offset written `@123`.
    #[arg(long = "as-of", value_name = "WHEN")]
    pub as_of: AsOf,
    /// The new data directory (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
}

pub(crate) fn run(args: RestoreArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let report = store.restore(args.as_of, &args.into)?;
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &report)?;
    } else {
        writeln!(
            out,
            "restored {} as of {} (offsets below {}) into {}: {} linked, {} copied, {}, {}",
            context.data_dir.display(),
            report.as_of,
            report.next_offset,
            args.into.display(),
            Counted(u64::try_from(report.segments.segments_linked).unwrap_or(u64::MAX), "segment"),
            report.segments.segments_copied,
            Counted(report.segments.bytes, "byte"),
            Counted(report.items_live, "live item"),
        )?;
    }
    out.flush()?;
    Ok(())
}
