//! `recstore delete`: appends a tombstone for an item.
//!
//! Later reads of the item fail with exit code 3 and name the delete's
//! offset; its history and old versions stay readable, and a later put
//! revives it with the next version.

use std::io::Write;

use clap::Args;

use super::{CliError, Context, stdout, write_json_line};

const AFTER_HELP: &str = "\
Examples:
  recstore delete reading-1
  deleted reading-1 at offset 9
  recstore --json delete reading-1
  {\"id\":\"reading-1\",\"offset\":9}

Exit code 3 if the item does not exist or is already deleted; 5 if another
process holds the store's write lock.";

/// Delete an item; its history stays readable.
///
/// Writes a delete record to the log. `get` and `meta` then fail with exit
/// code 3 saying at which offset the item was deleted, `query` no longer
/// returns it, and `history` lists the delete. `get --version N` still reads
/// old versions. Putting the id again creates the next version.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DeleteArgs {
    /// The item id.
    pub id: String,
}

pub(crate) fn run(args: DeleteArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_write()?;
    let offset = store.delete(&args.id)?;
    drop(store);
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &serde_json::json!({"id": args.id, "offset": offset}))?;
    } else {
        writeln!(out, "deleted {} at offset {offset}", args.id)?;
    }
    out.flush()?;
    Ok(())
}
