//! `recstore stats`: counts the store keeps without a rescan.

use std::io::Write;

use clap::Args;

use super::{AsOfArg, CliError, Context, stdout, write_json_line};

const AFTER_HELP: &str = "\
Examples:
  recstore stats
  items live       2
  items deleted    1
  versions         4
  ...
  recstore --json stats     # one JSON object, with counts by type, source and tag";

/// Print counts of items, versions, bytes, segments and datasets.
///
/// Live and deleted items, versions, deletes, logical bytes (data as given)
/// and stored bytes (after compression), the log's size, segment count and
/// offset range, datasets, and live items by type, source and tag. The
/// counts are kept by the views, so this is instant on any store size.
/// With --as-of the item, version, byte and dataset counts are those of
/// then (recomputed from the views, never a log scan); the log's size,
/// segment count and first offset are those of now.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct StatsArgs {
    #[command(flatten)]
    pub when: AsOfArg,
}

pub(crate) fn run(args: StatsArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let stats = store.at_or_latest(args.when.as_of)?.stats();
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &stats)?;
        out.flush()?;
        return Ok(());
    }
    let rows: [(&str, String); 13] = [
        ("items live", stats.items_live.to_string()),
        ("items deleted", stats.items_deleted.to_string()),
        ("items expired", stats.items_expired.to_string()),
        ("versions", stats.versions.to_string()),
        ("deletes", stats.deletes.to_string()),
        ("logical bytes", stats.logical_bytes.to_string()),
        ("stored bytes", stats.stored_bytes.to_string()),
        ("log bytes", stats.log_bytes.to_string()),
        ("segments", stats.segment_count.to_string()),
        ("first offset", stats.first_offset.to_string()),
        ("next offset", stats.next_offset.to_string()),
        ("datasets", stats.datasets.to_string()),
        ("dataset versions", stats.dataset_versions.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<17}{value}")?;
    }
    for (title, counts) in [("type", &stats.by_type), ("source", &stats.by_source), ("tag", &stats.by_tag)] {
        for (name, count) in counts {
            writeln!(out, "by {title:<14}{name} {count}")?;
        }
    }
    out.flush()?;
    Ok(())
}
