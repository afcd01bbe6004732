//! `recstore history` and `recstore lineage`: how an item came to be.
//!
//! Both print NDJSON from the read-only store and work on deleted items:
//! history lists the delete, lineage walks from the last stored version.

use std::io::Write;

use clap::Args;

use super::{AsOfArg, CliError, Context, stdout, write_json_line};
use crate::Direction;

const HISTORY_AFTER_HELP: &str = "\
Examples:
  recstore history reading-1
  {\"event\":\"put\",\"id\":\"reading-1\",\"offset\":3,\"pruned\":{\"horizon_offset\":8,\"reason\":\"max_versions\"},\"size\":38,\"timestamp\":\"2026-11-25T10:00:00.000000Z\",\"version\":1}
  {\"event\":\"put\",\"id\":\"reading-1\",\"offset\":7,\"pruned\":null,\"size\":38,\"timestamp\":\"2026-11-25T10:05:00.000000Z\",\"version\":2}
  {\"event\":\"delete\",\"id\":\"reading-1\",\"offset\":9,\"pruned\":null,\"timestamp\":\"2026-11-25T10:09:00.000000Z\",\"version\":2}

`pruned` is set on a put whose data compaction dropped (its metadata stays):
the reason, and the compaction horizon. Such a version reads as exit code 3.

Exit code 3 if the id was never stored.";

const LINEAGE_AFTER_HELP: &str = "\
Examples:
  recstore lineage clean-1                  # ancestors, through every level
  {\"depth\":1,\"from\":\"clean-1\",\"id\":\"reading-1\",\"version\":2}
  recstore lineage reading-1 --down --depth 1   # direct children only

`version` is the version a link names, or for a link without one the
version current when the child was stored: null if the id was never stored
then. A link to an item or version never stored is listed, and the walk
ends there.";

/// List every put and delete of an item, oldest first (NDJSON).
///
/// One line per event: `id`, `event` (`put` or `delete`), `version` (the
/// version a put created, or the one a delete ended), `offset`, `timestamp`,
/// `size` for puts, and `pruned` (null, or why and when compaction dropped
/// the put's data). A deleted item still has its history.
#[derive(Debug, Args)]
#[command(after_help = HISTORY_AFTER_HELP)]
pub struct HistoryArgs {
    /// The item id.
    pub id: String,
    #[command(flatten)]
    pub when: AsOfArg,
}

/// Walk parent links to ancestors (--up, the default) or descendants (--down).
///
/// Breadth first, each item version once, at most --depth steps. One NDJSON
/// line per version reached: `id`, `version`, `depth` (steps from the
/// start) and `from` (the id it was reached from). Parents are the
/// `--parent ID[@V]` links given to `put`; a link without a version means
/// the version that was current when the child was stored.
#[derive(Debug, Args)]
#[command(after_help = LINEAGE_AFTER_HELP)]
pub struct LineageArgs {
    /// The item id to start from.
    pub id: String,
    /// Walk towards parents (the default).
    #[arg(long, conflicts_with = "down")]
    pub up: bool,
    /// Walk towards children.
    #[arg(long)]
    pub down: bool,
    /// At most this many steps (default: no limit).
    #[arg(long, value_name = "N")]
    pub depth: Option<u32>,
    #[command(flatten)]
    pub when: AsOfArg,
}

pub(crate) fn run_history(args: HistoryArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let entries = store.at_or_latest(args.when.as_of)?.history(&args.id)?;
    let mut out = stdout();
    for entry in &entries {
        write_json_line(&mut out, entry)?;
    }
    out.flush()?;
    Ok(())
}

pub(crate) fn run_lineage(args: LineageArgs, context: &Context) -> Result<(), CliError> {
    let direction = if args.down { Direction::Down } else { Direction::Up };
    let store = context.open_read()?;
    let entries = store.at_or_latest(args.when.as_of)?.lineage(&args.id, direction, args.depth.unwrap_or(u32::MAX))?;
    let mut out = stdout();
    for entry in &entries {
        write_json_line(&mut out, entry)?;
    }
    out.flush()?;
    Ok(())
}
