//! `recstore dataset put|get|list`: named, versioned sets of pinned item
//! versions. `put` stores the items and the dataset record in one atomic
//! batch; `get` and `list` read the read-only store.

use std::io::Write;

use clap::{Args, Subcommand};

use super::import::read_all_items;
use super::put::parse_json_flag;
use super::{AsOfArg, CliError, Context, stdout, write_json_line};

const PUT_AFTER_HELP: &str = "\
Examples:
  recstore dataset put typeA_collection items.jsonl --info '{\"description\": \"two A items\"}'
  typeA_collection 1 12
  cat items.jsonl | recstore dataset put typeA_collection -

FILE is in the `import` format: one {\"data\": ..., \"metadata\": {...}} a line.";

const GET_AFTER_HELP: &str = "\
Examples:
  recstore dataset get typeA_collection
  {\"info\":{\"description\":\"two A items\"},\"items\":[{\"id\":\"…\",\"version\":1,...}],\"name\":\"typeA_collection\",...}
  recstore dataset get typeA_collection --version 1 --with-data

Exit code 3 if the dataset, or that version, does not exist.";

const LIST_AFTER_HELP: &str = "\
Examples:
  recstore dataset list
  {\"item_count\":2,\"name\":\"typeA_collection\",\"offset\":12,\"timestamp\":\"…\",\"version\":1}";

/// Store, read and list datasets: named sets of pinned item versions.
// The variants' help comes from the doc comments of their argument structs:
// a doc comment on a variant would replace the struct's long help.
#[allow(missing_docs, reason = "each variant is documented by its Args struct, which clap shows as help")]
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    Put(PutArgs),
    Get(GetArgs),
    List(ListArgs),
}

/// Store items and a dataset pinning their exact versions, atomically.
///
/// Every item in FILE is stored (as `import` would) and a dataset record
/// pins the exact version of each, all in one batch: after a crash either
/// all of it is there or none of it. Putting an existing name creates its
/// next version. Prints `NAME VERSION OFFSET`; with --json, the name,
/// version, offset, timestamp and the items' ids and versions.
#[derive(Debug, Args)]
#[command(after_help = PUT_AFTER_HELP)]
pub struct PutArgs {
    /// The dataset's name.
    pub name: String,
    /// The items as JSON Lines, or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// A free-form JSON description of the dataset (default `{}`).
    #[arg(long, value_name = "JSON")]
    pub info: Option<String>,
}

/// Print a dataset version as one JSON object.
///
/// The object has `name`, `version`, `offset`, `timestamp`, `info`, and
/// `items`: each pinned item version's metadata object, plus its `data`
/// (or `data_base64` for byte items) with --with-data.
#[derive(Debug, Args)]
#[command(after_help = GET_AFTER_HELP)]
pub struct GetArgs {
    /// The dataset's name.
    pub name: String,
    /// Read this version instead of the latest.
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    /// Include each item's data.
    #[arg(long)]
    pub with_data: bool,
    #[command(flatten)]
    pub when: AsOfArg,
}

/// List every dataset's latest version (NDJSON).
///
/// One line per dataset, by name: `name`, `version`, `item_count`,
/// `offset` and `timestamp` of its latest version.
#[derive(Debug, Args)]
#[command(after_help = LIST_AFTER_HELP)]
pub struct ListArgs {
    #[command(flatten)]
    pub when: AsOfArg,
}

pub(crate) fn run(command: DatasetCommand, context: &Context) -> Result<(), CliError> {
    match command {
        DatasetCommand::Put(args) => run_put(args, context),
        DatasetCommand::Get(args) => run_get(args, context),
        DatasetCommand::List(args) => run_list(&args, context),
    }
}

fn run_put(args: PutArgs, context: &Context) -> Result<(), CliError> {
    let info = match &args.info {
        Some(text) => parse_json_flag("--info", text)?,
        None => serde_json::json!({}),
    };
    let items = read_all_items(&args.file)?;
    let store = context.open_write()?;
    let stored = store.put_dataset(&args.name, items, info)?;
    drop(store);
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &stored)?;
    } else {
        writeln!(out, "{} {} {}", stored.name, stored.version, stored.offset)?;
    }
    out.flush()?;
    Ok(())
}

fn run_get(args: GetArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let dataset = store.at_or_latest(args.when.as_of)?.dataset_json(&args.name, args.version, args.with_data)?;
    let mut out = stdout();
    write_json_line(&mut out, &dataset)?;
    out.flush()?;
    Ok(())
}

fn run_list(args: &ListArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let mut out = stdout();
    for summary in store.at_or_latest(args.when.as_of)?.list_datasets() {
        write_json_line(&mut out, &summary)?;
    }
    out.flush()?;
    Ok(())
}
