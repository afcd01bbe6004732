//! `recstore groups`: the consumer groups and how far behind the log each is.

use std::io::Write;

use clap::Args;

use super::{CliError, Context, stdout, write_json_line};

const AFTER_HELP: &str = "\
Examples:
  recstore groups
  {\"group\":\"feature-processor\",\"lag\":12,\"offset\":4088}
  {\"group\":\"ingest-audit\",\"lag\":0,\"offset\":4100}

A group commits with `recstore log --group G` or
`POST /v1/consumers/{group}/commit`; `lag` counts the records from its
committed offset to the end of the log (its own commits included).";

/// List consumer groups with their committed offsets and lag (NDJSON).
///
/// One line per group that ever committed, by name: `group`, `offset` (the
/// next record it will read) and `lag` (records from there to the end of the
/// log), the same objects `GET /v1/consumers` returns.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct GroupsArgs {}

pub(crate) fn run(_args: GroupsArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let mut out = stdout();
    for group in store.consumer_groups() {
        write_json_line(&mut out, &group)?;
    }
    out.flush()?;
    Ok(())
}
