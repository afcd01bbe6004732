//! `recstore get` and `recstore meta`: one item version's data or metadata.
//!
//! Both open the store read-only. `get` writes the data bytes exactly as
//! stored (compact JSON, or raw bytes) so its output can be piped into a
//! file or another tool unchanged.

use std::io::Write;

use clap::Args;

use super::{AsOfArg, CliError, Context, stdout, write_json_line};

const GET_AFTER_HELP: &str = "\
Examples:
  recstore get reading-1                 # latest version: {\"humidity\":0.4,\"temperature\":21.5}
  recstore get reading-1 --version 1     # an older version (also of a deleted item)
  recstore get photo-1 > photo.png       # byte items come out raw
  recstore --json get reading-1          # metadata object plus `data` (or `data_base64`)

Exit code 3 if the item, or that version, does not exist, or the item is deleted.";

const META_AFTER_HELP: &str = "\
Examples:
  recstore meta reading-1
  {\"content_type\":\"application/json\",\"id\":\"reading-1\",\"md5\":\"…\",\"offset\":7,\"parents\":[],
   \"size\":38,\"source_id\":\"sensor-7\",\"tags\":[\"raw_data\"],\"timestamp\":\"2026-11-25T10:00:00.000000Z\",
   \"type\":\"sensor_reading\",\"unit\":\"celsius\",\"version\":2}
  recstore meta reading-1 --version 1";

/// Print an item's data exactly as stored.
///
/// Writes the data of the latest version (or --version N) to stdout: JSON
/// items as compact JSON with sorted keys, byte items as their raw bytes,
/// with nothing added. With --json it prints the version's metadata object
/// with the data under `data` (JSON) or `data_base64` (bytes) instead.
#[derive(Debug, Args)]
#[command(after_help = GET_AFTER_HELP)]
pub struct GetArgs {
    /// The item id.
    pub id: String,
    /// Read this version instead of the latest.
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    #[command(flatten)]
    pub when: AsOfArg,
}

/// Print an item version's metadata as one JSON object.
///
/// The object has `id`, `version`, `offset`, `timestamp`, `size`, `md5`,
/// `content_type`, `type`, `source_id`, `tags`, `parents` and every extra
/// field given when the item was stored.
#[derive(Debug, Args)]
#[command(after_help = META_AFTER_HELP)]
pub struct MetaArgs {
    /// The item id.
    pub id: String,
    /// Read this version instead of the latest.
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    #[command(flatten)]
    pub when: AsOfArg,
}

pub(crate) fn run_get(args: GetArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let store = store.at_or_latest(args.when.as_of)?;
    let mut out = stdout();
    if context.json {
        let object = store.item_json(&args.id, args.version, true)?;
        write_json_line(&mut out, &object)?;
    } else {
        let data = match args.version {
            Some(version) => store.get_version(&args.id, version)?,
            None => store.get(&args.id)?,
        };
        out.write_all(&data.bytes)?;
    }
    out.flush()?;
    Ok(())
}

pub(crate) fn run_meta(args: MetaArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_read()?;
    let store = store.at_or_latest(args.when.as_of)?;
    let object = store.item_json(&args.id, args.version, false)?;
    let mut out = stdout();
    write_json_line(&mut out, &object)?;
    out.flush()?;
    Ok(())
}
