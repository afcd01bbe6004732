//! `recstore search`: tantivy queries over every item version's metadata
//! and data, answered by the search view.

use std::io::Write;

use clap::Args;

use super::{AsOfArg, CliError, Context, complete_meta, stdout, write_json_line};

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
/// version of live items, or with --as-of the versions current then.
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
    let found = store.at_or_latest(args.when.as_of)?.search(&args.query, args.limit)?;
    let mut out = stdout();
    for meta in found {
        let mut object = serde_json::to_value(&meta).map_err(|e| CliError::invalid(e.to_string()))?;
        complete_meta(&mut object);
        write_json_line(&mut out, &object)?;
    }
    out.flush()?;
    Ok(())
}
