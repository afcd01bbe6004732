//! `recstore groups`: the consumer groups and how far behind the log each
//! is; `--reset` moves one, `--delete` deletes one.

use std::io::Write;

use clap::Args;

use super::{CliError, Context, stdout, write_json_line};
use crate::timetravel::AsOf;

const AFTER_HELP: &str = "\
Examples:
  recstore groups
  {\"group\":\"feature-processor\",\"lag\":12,\"offset\":4088}
  {\"group\":\"ingest-audit\",\"lag\":0,\"offset\":4100}

A group commits with `recstore log --group G` or
`POST /v1/consumers/{group}/commit`; `lag` counts the records from its
committed offset to the end of the log (its own commits included).

  recstore groups --reset feature-processor --to @0                    # replay everything
  recstore groups --reset feature-processor --to 2026-11-25T10:00:00Z  # from that time on
  {\"group\":\"feature-processor\",\"lag\":4100,\"offset\":0}

  recstore groups --delete ingest-audit                                 # forget it
  {\"deleted\":true,\"group\":\"ingest-audit\",\"offset\":4101}

A deleted group is no longer listed; read again with --group, it starts
from offset 0 like a new one. Deleting a group that has no committed offset
(never committed, or deleted already) fails with kind not_found (exit 3).";

/// List consumer groups with their committed offsets and lag (NDJSON).
///
/// One line per group that ever committed, by name: `group`, `offset` (the
/// next record it will read) and `lag` (records from there to the end of the
/// log), the same objects `GET /v1/consumers` returns. With `--reset G --to
/// WHEN` it moves group G instead and prints G's line: `@N` makes N the next
/// record it reads; a time, the first record stored at or after it. With
/// `--delete G` it deletes group G and prints `{"group", "deleted", "offset"}`
/// (the offset of the record that says so).
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct GroupsArgs {
    /// Move this group (a write: it needs the store's write lock).
    #[arg(long, value_name = "GROUP", requires = "to", conflicts_with = "delete")]
    pub reset: Option<String>,
    /// Where --reset moves it: `@OFFSET` or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", requires = "reset")]
    pub to: Option<AsOf>,
    /// Delete this group: it loses its committed offset (a write: it needs
    /// the store's write lock).
    #[arg(long, value_name = "GROUP")]
    pub delete: Option<String>,
}

pub(crate) fn run(args: GroupsArgs, context: &Context) -> Result<(), CliError> {
    if let Some(group) = &args.delete {
        let offset = context.open_write()?.delete_consumer(group)?;
        let mut out = stdout();
        write_json_line(&mut out, &serde_json::json!({"group": group, "deleted": true, "offset": offset}))?;
        out.flush()?;
        return Ok(());
    }
    if let (Some(group), Some(to)) = (&args.reset, args.to) {
        let store = context.open_write()?;
        store.reset_consumer(group, to)?;
        let moved = store.consumer_groups().into_iter().filter(|g| g.group == *group);
        let mut out = stdout();
        for line in moved {
            write_json_line(&mut out, &line)?;
        }
        out.flush()?;
        return Ok(());
    }
    let store = context.open_read()?;
    let mut out = stdout();
    for group in store.consumer_groups() {
        write_json_line(&mut out, &group)?;
    }
    out.flush()?;
    Ok(())
}
