//! `recstore query`: the latest versions of live items matching filters,
//! answered from the type, source, tag and time indices of the read-only
//! store.

use std::io::Write;

use clap::Args;

use super::{AsOfArg, CliError, Context, stdout, write_json_line};
use crate::timetravel::AsOf;
use crate::{Query, Store};

const AFTER_HELP: &str = "\
Examples:
  recstore query --type sensor_reading --tag raw_data
  {\"content_type\":\"application/json\",\"id\":\"reading-1\",\"md5\":\"…\",\"offset\":7,\"parents\":[],...}
  recstore query --source sensor-7 --since 2026-11-25T00:00:00Z --limit 10
  recstore query --tag priority_high --count
  3
  recstore query --type sensor_reading --with-data | jq .data.temperature";

/// Find the latest versions of live items by type, source, tags and time.
///
/// Prints one metadata object per line (NDJSON), in the order items were
/// first stored; with --with-data each line also has `data` (JSON items) or
/// `data_base64` (byte items). Every given filter must match: --tag may be
/// repeated and then all tags must be present. --since and --until compare
/// the time the latest version was stored, as RFC 3339 times
/// (`2026-11-25T10:00:00Z`); --since is inclusive, --until exclusive.
/// Deleted items are never returned.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct QueryArgs {
    /// Items of this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub item_type: Option<String>,
    /// Items from this source (`source_id`).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Items carrying this tag; repeat to require several.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Latest version stored at or after WHEN (RFC 3339, or `@OFFSET`: that record's time).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<AsOf>,
    /// Latest version stored before WHEN (RFC 3339, or `@OFFSET`).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<AsOf>,
    /// At most this many results.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Skip this many results first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: usize,
    /// Print only the number of matching items (ignores --limit and --offset).
    #[arg(long, conflicts_with = "with_data")]
    pub count: bool,
    /// Add each item's data to its line.
    #[arg(long)]
    pub with_data: bool,
    #[command(flatten)]
    pub when: AsOfArg,
}

/// Objects read from the store between writes to stdout.
const PAGE_ITEM_COUNT: usize = 256;

/// The time a `--since`/`--until`/`--before` WHEN names: itself, or for
/// `@OFFSET` the time that record was stored. Clap parsed it, so a WHEN
/// that is not one is a usage error (exit 2); an offset past the end of the
/// log is well formed but names nothing, and keeps its kind (exit 1).
pub(crate) fn resolve_time(store: &Store, flag: &str, when: AsOf) -> Result<u64, CliError> {
    store.timestamp_of(when).map_err(|error| {
        let kind = error.kind();
        CliError { message: format!("{flag}: {error}"), kind }
    })
}

pub(crate) fn run(args: QueryArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let query = Query {
        item_type: args.item_type,
        source: args.source,
        tags: args.tags,
        since_us: args.since.map(|when| resolve_time(&store, "--since", when)).transpose()?,
        until_us: args.until.map(|when| resolve_time(&store, "--until", when)).transpose()?,
        limit: args.limit,
        offset: args.offset,
    };
    let at = store.at_or_latest(args.when.as_of)?;
    let mut out = stdout();
    if args.count {
        let count = at.count(&query)?;
        if context.json {
            write_json_line(&mut out, &serde_json::json!({ "count": count }))?;
        } else {
            writeln!(out, "{count}")?;
        }
    } else {
        // A page at a time: memory holds one page of objects, whatever --limit.
        let mut cursor = at.query_cursor(&query)?;
        loop {
            let page = cursor.next_items(&store, PAGE_ITEM_COUNT, args.with_data)?;
            if page.is_empty() {
                break;
            }
            for object in &page {
                write_json_line(&mut out, object)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
