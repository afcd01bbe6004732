//! `recstore put`: stores one item version from a file or stdin.
//!
//! The input is stored as JSON if it parses as JSON, else as bytes
//! (`--bytes` or `--content-type` forces bytes). Metadata comes from flags and `--meta`; the
//! flags win where both set a field.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, Context, stdout, write_json_line};
use crate::store::JsonInputError;
use crate::{Data, Metadata};

const AFTER_HELP: &str = "\
Examples:
  echo '{\"temperature\": 21.5}' | recstore put --type sensor_reading --tag raw_data -
  recstore put --id reading-1 --source sensor-7 --meta '{\"unit\": \"celsius\"}' reading.json
  recstore put --id photo-1 --content-type image/png photo.png
  recstore put --id table-1 --content-type text/csv table.csv   # bytes, even if it parses as JSON
  recstore put --id clean-1 --parent reading-1@2 cleaned.json

Prints `ID VERSION OFFSET`, e.g. `reading-1 3 1042`. Putting data and
metadata identical to the current version writes nothing and prints the
current version.";

/// Store a new version of an item.
///
/// Reads FILE (or stdin for `-`, the default) and stores it as the next
/// version of the item: as JSON if it parses as JSON, else (or with
/// --bytes or --content-type) as bytes. Every double comes back bit for bit and integers
/// stay exact integers (`-0` is the integer 0); an integer beyond 64 bits,
/// or JSON nested more than 100 levels deep, is refused (put a huge integer
/// in a string, or use --bytes). `get` returns compact JSON with object
/// keys sorted; of a repeated key the last value wins. Tags are stored
/// sorted and without repeats. Without --id the id is the md5 hex of the
/// data's stored bytes, as the old store did. With --json it prints `{"id", "version", "offset",
/// "timestamp", "created"}`; `created` is false when the put was identical
/// to the current version and wrote nothing.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct PutArgs {
    /// The file holding the data, or `-` for stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    pub file: String,
    /// The item id (default: md5 hex of the data).
    #[arg(long)]
    pub id: Option<String>,
    /// The item's type, e.g. `sensor_reading`.
    #[arg(long = "type", value_name = "TYPE")]
    pub item_type: Option<String>,
    /// Where the item came from (its `source_id`).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// A tag; repeat for several.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// A parent item, as `ID` or `ID@VERSION`; repeat for several.
    #[arg(long = "parent", value_name = "ID[@V]")]
    pub parents: Vec<String>,
    /// More metadata as a JSON object; its fields are kept and returned.
    #[arg(long, value_name = "JSON")]
    pub meta: Option<String>,
    /// Store the input as bytes even if it parses as JSON.
    #[arg(long)]
    pub bytes: bool,
    /// Media type of the data, which stores it as bytes (implies --bytes;
    /// without it, bytes are `application/octet-stream`).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
}

/// The media type of byte data put without `--content-type`.
const CONTENT_TYPE_DEFAULT: &str = "application/octet-stream";

/// Reads all of FILE, or stdin for `-`.
pub(crate) fn read_input(file: &str) -> Result<Vec<u8>, CliError> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes)?;
        return Ok(bytes);
    }
    std::fs::read(PathBuf::from(file)).map_err(|e| CliError::io(format!("{file}: {e}")))
}

/// Parses a `--meta`/`--info` flag as a JSON value, by the rules of
/// [`crate::store::parse_json`].
pub(crate) fn parse_json_flag(flag: &str, text: &str) -> Result<serde_json::Value, CliError> {
    crate::store::parse_json(text.as_bytes()).map_err(|e| match e {
        JsonInputError::Syntax(e) => CliError::invalid(format!("{flag} is not valid JSON: {e}")),
        refused => CliError::invalid(format!("{flag}: {refused}")),
    })
}

pub(crate) fn run(args: PutArgs, context: &Context) -> Result<(), CliError> {
    let input = read_input(&args.file)?;
    // A content type says what the bytes are, so it stores them as bytes:
    // ignoring it for input that happens to parse as JSON would silently
    // store something else than was asked for.
    let force_bytes = args.bytes || args.content_type.is_some();
    let content_type = args.content_type.clone().unwrap_or_else(|| CONTENT_TYPE_DEFAULT.to_string());
    let data = to_data(input, force_bytes, content_type)?;
    let metadata = build_metadata(&args)?;
    let store = context.open_write()?;
    let stored = store.put(data, metadata)?;
    // The put is durable here; dropping the store writes a checkpoint, and a
    // failure to do so only makes the next open replay more of the log.
    drop(store);
    let mut out = stdout();
    if context.json {
        write_json_line(&mut out, &stored)?;
    } else {
        use std::io::Write;
        writeln!(out, "{} {} {}", stored.id, stored.version, stored.offset)?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(())
}

/// JSON data when the input parses as JSON, else bytes. JSON that breaks a
/// rule of [`crate::store::parse_json`] (too deep, an integer beyond 64
/// bits) is refused, not quietly stored as bytes.
fn to_data(input: Vec<u8>, force_bytes: bool, content_type: String) -> Result<Data, CliError> {
    if force_bytes {
        return Ok(Data::Bytes { bytes: input, content_type });
    }
    match crate::store::parse_json(&input) {
        Ok(value) => Ok(Data::Json(value)),
        Err(JsonInputError::Syntax(_)) => Ok(Data::Bytes { bytes: input, content_type }),
        Err(refused) => Err(CliError::invalid(format!("the input is JSON that cannot be stored: {refused}"))),
    }
}

fn build_metadata(args: &PutArgs) -> Result<Metadata, CliError> {
    let mut metadata = match &args.meta {
        Some(text) => serde_json::from_value::<Metadata>(parse_json_flag("--meta", text)?)
            .map_err(|e| CliError::invalid(format!("--meta must be a JSON object of metadata fields: {e}")))?,
        None => Metadata::default(),
    };
    if args.id.is_some() {
        metadata.id.clone_from(&args.id);
    }
    if args.item_type.is_some() {
        metadata.item_type.clone_from(&args.item_type);
    }
    if args.source.is_some() {
        metadata.source_id.clone_from(&args.source);
    }
    metadata.tags.extend(args.tags.iter().cloned());
    metadata.parents.extend(args.parents.iter().cloned());
    Ok(metadata)
}
