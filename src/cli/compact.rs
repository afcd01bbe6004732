//! `recstore compact`: apply retention by rewriting sealed segments.

use std::io::Write;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::query::resolve_time;
use super::{CliError, Context, Counted, show_progress, stdout, write_json_line};
use crate::compaction::{CompactionPreview, CompactionReport, Policy};
use crate::timetravel::AsOf;

const AFTER_HELP: &str = "\
Examples:
  recstore compact                              # the defaults: 5 versions per item, 30 days of history
  recstore compact --max-versions 2 --retention-days 7
  recstore compact --before 2026-11-01T00:00:00Z --expire   # the old store's cleanup: also drop stale live items
  recstore compact --purge                      # leave no audit stubs behind
  recstore compact --max-versions 1 --dry-run   # what would go, changing nothing

Dropped versions leave metadata-only audit stubs (unless --purge): history and lineage still show them,
and reading their data says they were pruned. Offsets of surviving records never change.";

/// Apply retention: drop old versions and history, keep offsets.
///
/// Seals the active segment, then rewrites every sealed segment that holds
/// something to drop. Writers and readers keep working meanwhile. Prints
/// the records dropped by reason, the audit stubs and gaps left in their
/// place, and the rewritten segments' sizes before and after (stubs keep
/// metadata, so small items may reclaim little). As-of reads before the
/// resulting horizon fail with an error naming it.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompactArgs {
    /// Keep history of the last N days (default 30, at most 36500).
    #[arg(long, value_name = "N", conflicts_with = "before", value_parser = retention_days_range())]
    pub retention_days: Option<u32>,
    /// Drop history that ended before WHEN (RFC 3339, or `@OFFSET`: that record's time).
    #[arg(long, value_name = "WHEN")]
    pub before: Option<AsOf>,
    /// Keep at most N versions of each item (default 5, at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_versions: Option<u32>,
    /// Also drop live items whose latest version is older than the cutoff.
    #[arg(long)]
    pub expire: bool,
    /// Leave no audit stubs for what is dropped.
    #[arg(long)]
    pub purge: bool,
    /// Only print what would be dropped, and the horizon it would set.
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn run(args: CompactArgs, context: &Context) -> Result<(), CliError> {
    // A dry run changes nothing, so it reads beside a running writer.
    let store = if args.dry_run { context.open_read()? } else { context.open_write()? };
    let mut policy = Policy::default().expire(args.expire).purge(args.purge);
    if let Some(days) = args.retention_days {
        policy = policy.retention_days(days);
    }
    if let Some(before) = args.before {
        policy = policy.cutoff_us(Some(resolve_time(&store, "--before", before)?));
    }
    if let Some(versions) = args.max_versions {
        policy = policy.max_versions(Some(versions));
    }
    policy.validate().map_err(CliError::invalid)?;
    if args.dry_run {
        return print_preview(&store.compaction_preview(policy)?, context);
    }
    let bar = progress_bar();
    let report = store.compact_with_progress(policy, |progress| {
        bar.set_length(progress.segments_total as u64);
        bar.set_position(progress.segments_done as u64);
    });
    bar.finish_and_clear();
    let report = report?;
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &report)?;
    } else {
        writeln!(out, "{}", summary(&report))?;
    }
    out.flush()?;
    Ok(())
}

/// One line saying what was dropped, what the log kept in its place, and
/// what the rewritten segments' sizes did. Stubs keep a dropped put's
/// metadata, so a compaction of small items can reclaim nothing, or even
/// grow the segments, while it dropped every record it was asked to.
fn summary(report: &CompactionReport) -> String {
    let removed = match report.segments_removed {
        0 => String::new(),
        count => format!(" and removed {}", Counted(count, "empty segment")),
    };
    let dropped = &report.records_dropped;
    let (before, after) = (report.bytes_before, report.bytes_after);
    let change = match after.checked_sub(before) {
        Some(0) | None => format!("{} reclaimed", Counted(before.saturating_sub(after), "byte")),
        Some(grown) => format!("{} more: the stubs outweigh what they replaced", Counted(grown, "byte")),
    };
    format!(
        "compacted {}{removed}: dropped {} (max_versions {}, retention {}, expired {}, deleted {}), \
         leaving {} and {} in the log; segments went from {before} to {after} bytes ({change}) in {} ms",
        Counted(report.segments_rewritten, "segment"),
        Counted(dropped.total(), "record"),
        dropped.max_versions,
        dropped.retention,
        dropped.expired,
        dropped.deleted,
        Counted(report.stubs_written, "audit stub"),
        Counted(report.records_removed, "gap"),
        report.duration().as_millis(),
    )
}

fn print_preview(preview: &CompactionPreview, context: &Context) -> Result<(), CliError> {
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, preview)?;
    } else {
        let dropped = &preview.records_dropped;
        write!(
            out,
            "would drop {} (max_versions {}, retention {}, expired {}, deleted {})",
            Counted(dropped.total(), "record"),
            dropped.max_versions,
            dropped.retention,
            dropped.expired,
            dropped.deleted
        )?;
        match preview.horizon {
            Some((offset, timestamp_us)) => writeln!(
                out,
                "; as-of reads before @{} ({}) would fail",
                crate::store::earliest_exact_as_of(offset),
                crate::store::format_timestamp(timestamp_us)
            )?,
            None => writeln!(out)?,
        }
    }
    out.flush()?;
    Ok(())
}

/// Sealed segments read and rewritten, on a terminal only.
fn progress_bar() -> ProgressBar {
    if !show_progress() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} segments, eta {eta}") {
        bar.set_style(style);
    }
    bar
}

/// `--retention-days`: 0 to [`crate::limits::RETENTION_DAYS_MAX`]; clap
/// refuses anything else as a usage error naming the range.
pub(crate) fn retention_days_range() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(0..=i64::from(crate::limits::RETENTION_DAYS_MAX))
}
