//! `recstore compact`: apply retention by rewriting sealed segments.

use std::io::Write;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::query::parse_time;
use super::{CliError, Context, Counted, show_progress, stdout, write_json_line};
use crate::compaction::{CompactionPreview, Policy};

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
/// bytes reclaimed and records dropped by reason. As-of reads before the
/// resulting horizon fail with an error naming it.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompactArgs {
    /// Keep history of the last N days (default 30).
    #[arg(long, value_name = "N", conflicts_with = "before")]
    pub retention_days: Option<u32>,
    /// Drop history that ended before WHEN (RFC 3339, or `@OFFSET`: that record's time).
    #[arg(long, value_name = "WHEN")]
    pub before: Option<String>,
    /// Keep at most N versions of each item (default 5).
    #[arg(long, value_name = "N")]
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
    if let Some(before) = &args.before {
        policy = policy.cutoff_us(Some(parse_time(&store, "--before", before)?));
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
        let removed = match report.segments_removed {
            0 => String::new(),
            count => format!(" and removed {}", Counted(count, "empty segment")),
        };
        writeln!(
            out,
            "compacted {}{removed}: {} reclaimed, {} dropped ({} written) in {} ms",
            Counted(report.segments_rewritten, "segment"),
            Counted(report.bytes_reclaimed(), "byte"),
            Counted(report.records_dropped.total(), "record"),
            Counted(report.stubs_written, "stub"),
            report.duration().as_millis(),
        )?;
    }
    out.flush()?;
    Ok(())
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
                crate::timetravel::earliest_exact_as_of(offset),
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
