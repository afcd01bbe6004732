//! `recstore search`: tantivy queries over every item version's metadata
//! and data, answered by the search view.

use std::io::Write;

use clap::Args;

use indicatif::{ProgressBar, ProgressStyle};

use super::{AsOfArg, CliError, Context, show_progress, stdout, write_json_line};
use crate::Store;
use crate::search::CatchUp;

const AFTER_HELP: &str = "\
Examples:
  recstore search 'type:sensor_reading AND tags:raw_data'
  recstore search 'celsius' --limit 5                       # free text over data and metadata values
  recstore search 'source_id:sensor-7 AND timestamp:[2026-11-25T00:00:00Z TO *]'
  recstore search 'meta.site:lab-a' --as-of @1000           # extra metadata fields live under meta.
Fields: id, type, source_id, tags, parents, meta.<field>, timestamp, text (the default).";

/// Search items with tantivy query syntax (NDJSON, best match first).
///
/// Prints one metadata object per line, like `query`. Matches the latest
/// version of live items, or with --as-of the versions current then. If
/// the search index has not caught up with the log yet (say, right after a
/// large import) it first waits, with a progress bar on a terminal, for as
/// long as indexing makes progress; it fails only if indexing stalls for 30 s.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct SearchArgs {
    /// The query, in tantivy syntax.
    pub query: String,
    /// At most this many results.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub when: AsOfArg,
}

pub(crate) fn run(args: SearchArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let at = store.at_or_latest(args.when.as_of)?;
    catch_up(&store, (at.bound() != u64::MAX).then_some(at.bound()))?;
    let found = at.search(&args.query, args.limit)?;
    let mut out = stdout();
    for meta in found {
        let object = serde_json::to_value(&meta).map_err(|e| CliError::invalid(e.to_string()))?;
        write_json_line(&mut out, &object)?;
    }
    out.flush()?;
    Ok(())
}

/// Waits for the search view to cover what the search asks for, with a
/// progress bar on a terminal: after a large import the index may take
/// minutes to catch up, and waits as long as it keeps moving.
fn catch_up(store: &Store, as_of_next_offset: Option<u64>) -> Result<(), CliError> {
    let mut bar: Option<ProgressBar> = None;
    let result = store.search_catch_up(as_of_next_offset, |state: &CatchUp| {
        let bar = bar.get_or_insert_with(|| progress_bar(state));
        bar.set_position(state.records_indexed);
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(result?)
}

/// Records indexed out of those the search view still lacks, on a terminal only.
fn progress_bar(first: &CatchUp) -> ProgressBar {
    if !show_progress() {
        return ProgressBar::hidden();
    }
    // Offsets and records match but for compaction's gaps: close enough for a bar.
    let backlog = first.target_next.saturating_sub(first.searchable_next);
    let bar = ProgressBar::new(first.records_indexed.saturating_add(backlog));
    bar.set_position(first.records_indexed);
    if let Ok(style) = ProgressStyle::with_template("search index catching up: {bar:40} {pos}/{len} records, eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
