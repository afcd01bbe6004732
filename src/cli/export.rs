//! `recstore export`: items to JSON Lines or Parquet.
//!
//! Reads the read-only store item by item, so besides the list of ids to
//! export, memory stays bounded by one row group (Parquet) or one line
//! (JSON Lines) whatever the size of the data.
//! The output is written to `<PATH>.partial` and renamed over PATH at the
//! end, so a failed export never leaves a truncated file under PATH. The
//! Parquet columns are a contract (issue 7), built in [`crate::export`]: id, version, offset, timestamp,
//! type, source_id, tags, parents, metadata, data, data_bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{AsOfArg, CliError, Context, Counted, show_progress, stdout, write_json_line};
use crate::export::{Columns, schema};
use crate::limits::EXPORT_ROW_GROUP_BYTES_MAX;
use crate::timetravel::StoreAt;
use crate::{ItemData, ItemMeta, Query};

const AFTER_HELP: &str = "\
Examples:
  recstore export --out items.parquet                    # format from the extension
  exported 2 rows to items.parquet
  recstore export --out all.jsonl --all-versions
  recstore export --out - --type sensor_reading | head   # JSON Lines to stdout
  python -c 'import pandas; print(pandas.read_parquet(\"items.parquet\"))'
  duckdb -c \"select id, version, data from 'items.parquet'\"";

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines in the `import` format.
    Jsonl,
    /// Apache Parquet, one row per item version.
    Parquet,
}

/// Export items to JSON Lines or Parquet.
///
/// Writes the latest version of every live item (filtered by --type and
/// --tag), or every version of them with --all-versions, ordered by item and
/// then version. The format defaults to Parquet when PATH ends in
/// `.parquet`, else JSON Lines. JSON Lines are in the `import` format plus
/// the computed fields, so an export imports again as it is. Parquet columns:
/// id (string), version (uint32), offset (uint64), timestamp (microseconds,
/// UTC), type, source_id (strings, null when unset), tags and parents (lists
/// of strings), metadata (the whole metadata object as JSON text), data
/// (compact JSON text, null for byte items) and data_bytes (binary, null
/// for JSON items). It opens in pandas, polars and DuckDB as a plain table.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ExportArgs {
    /// Where to write; `-` writes JSON Lines to stdout.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The format (default: from PATH's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Every stored version of each item, not only the latest. Either way,
    /// versions whose data compaction pruned are left out and counted.
    #[arg(long)]
    pub all_versions: bool,
    /// Only items of this type.
    #[arg(long = "type", value_name = "TYPE")]
    pub item_type: Option<String>,
    /// Only items carrying this tag; repeat to require several.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub when: AsOfArg,
}

/// One exported row: an item version's metadata and data.
struct Row {
    meta: ItemMeta,
    data: ItemData,
}

pub(crate) fn run(args: ExportArgs, context: &Context) -> Result<(), CliError> {
    let to_stdout = args.out.as_os_str() == "-";
    let format = args.format.unwrap_or(match args.out.extension() {
        Some(ext) if ext == "parquet" || ext == "pq" => Format::Parquet,
        _ => Format::Jsonl,
    });
    if to_stdout && format == Format::Parquet {
        return Err(CliError::invalid("Parquet cannot be written to stdout; give --out a file path"));
    }
    let store = context.open_read()?;
    let store = store.at_or_latest(args.when.as_of)?;
    let targets = targets(&store, &args)?;
    let progress = progress_bar(targets.len() as u64, to_stdout);
    let read = |id: &str, version: u32| -> crate::Result<Row> {
        Ok(Row { meta: store.metadata(id, Some(version))?, data: store.get_version(id, version)? })
    };
    // Compaction keeps a pruned version's metadata but not its data: a
    // version with --all-versions (an item `--expire` dropped is gone from
    // the current versions, as a deleted one is). Such versions are counted
    // and left out, not fatal.
    let pruned_count = std::cell::Cell::new(0u64);
    let rows = targets.iter().filter_map(|(id, version)| {
        progress.inc(1);
        match read(id, *version) {
            Err(crate::Error::Pruned { .. }) => {
                pruned_count.set(pruned_count.get() + 1);
                None
            }
            row => Some(row.map_err(CliError::from)),
        }
    });
    let row_count = if to_stdout {
        let mut out = stdout();
        let count = write_jsonl(&mut out, rows)?;
        out.flush()?;
        count
    } else {
        write_file(&args.out, format, rows)?
    };
    progress.finish_and_clear();
    if to_stdout && pruned_count.get() > 0 {
        tracing::warn!(pruned_versions = pruned_count.get(), "left out versions whose data compaction pruned");
    }
    if !to_stdout {
        print_summary(context.json, row_count, pruned_count.get(), &args.out, format)?;
    }
    Ok(())
}

/// The (id, version) pairs to export, in item order, then version order.
fn targets(store: &StoreAt<'_>, args: &ExportArgs) -> Result<Vec<(String, u32)>, CliError> {
    let query = Query { item_type: args.item_type.clone(), tags: args.tags.clone(), ..Query::default() };
    Ok(crate::export::targets(store, &query, args.all_versions)?)
}

/// Writes to `<out>.partial`, then renames it over `out`.
fn write_file(out: &Path, format: Format, rows: impl Iterator<Item = Result<Row, CliError>>) -> Result<u64, CliError> {
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file_error = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| CliError::io(format!("{path}: {e}"))
    };
    let file = File::create(&partial).map_err(file_error(&partial))?;
    let written = match format {
        Format::Jsonl => {
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            write_jsonl(&mut writer, rows).and_then(|count| {
                let file = writer.into_inner().map_err(|e| CliError::from(e.into_error()))?;
                file.sync_all()?;
                Ok(count)
            })
        }
        Format::Parquet => write_parquet(file, rows),
    };
    match written {
        Ok(count) => {
            std::fs::rename(&partial, out).map_err(file_error(out))?;
            Ok(count)
        }
        Err(error) => {
            // The partial file is useless; the error that made it so matters more.
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// One line per row: `{"data": ..., "metadata": {...}, "version": ..., ...}`.
fn write_jsonl(out: &mut impl Write, rows: impl Iterator<Item = Result<Row, CliError>>) -> Result<u64, CliError> {
    let mut count = 0;
    for row in rows {
        let Row { meta, data } = row?;
        let mut caller_metadata = meta.metadata;
        caller_metadata.id = Some(meta.id);
        let mut line = serde_json::json!({
            "metadata": caller_metadata, "version": meta.version, "offset": meta.offset,
            "timestamp": meta.timestamp, "size": meta.size, "md5": meta.md5,
        });
        if data.is_json {
            // Stored JSON is already compact: splice its bytes in rather than
            // parse and print them again.
            let rest = line.to_string();
            out.write_all(b"{\"data\":")?;
            out.write_all(&data.bytes)?;
            out.write_all(b",")?;
            out.write_all(&rest.as_bytes()[1..])?;
            out.write_all(b"\n")?;
        } else if let Some(object) = line.as_object_mut() {
            object.insert("data_base64".into(), crate::base64::encode(&data.bytes).into());
            object.insert("content_type".into(), data.content_type.into());
            write_json_line(out, &line)?;
        }
        count += 1;
    }
    Ok(count)
}

fn parquet_error(error: parquet::errors::ParquetError) -> CliError {
    CliError::io(format!("parquet: {error}"))
}

fn write_parquet(file: File, rows: impl Iterator<Item = Result<Row, CliError>>) -> Result<u64, CliError> {
    let schema = schema();
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(properties)).map_err(parquet_error)?;
    let mut columns = Columns::new();
    let mut count = 0;
    for row in rows {
        let Row { meta, data } = row?;
        columns.push(meta, data)?;
        count += 1;
        if columns.is_full() {
            writer.write(&columns.finish(&schema)?).map_err(parquet_error)?;
            // Close the row group once it is large: memory stays bounded by
            // one row group, not by the whole export.
            if writer.in_progress_size() >= EXPORT_ROW_GROUP_BYTES_MAX {
                writer.flush().map_err(parquet_error)?;
            }
        }
    }
    if columns.row_count() > 0 {
        writer.write(&columns.finish(&schema)?).map_err(parquet_error)?;
    }
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all()?;
    Ok(count)
}

fn print_summary(json: bool, row_count: u64, pruned_count: u64, out: &Path, format: Format) -> Result<(), CliError> {
    let mut stdout = stdout();
    let format_name = match format {
        Format::Jsonl => "jsonl",
        Format::Parquet => "parquet",
    };
    if json {
        let summary = serde_json::json!({"rows": row_count, "pruned_versions_left_out": pruned_count, "path": out, "format": format_name});
        write_json_line(&mut stdout, &summary)?;
    } else {
        write!(stdout, "exported {} to {}", Counted(row_count, "row"), out.display())?;
        if pruned_count > 0 {
            write!(stdout, " (left out: {} whose data compaction pruned)", Counted(pruned_count, "version"))?;
        }
        writeln!(stdout)?;
    }
    stdout.flush()?;
    Ok(())
}

fn progress_bar(row_count: u64, to_stdout: bool) -> ProgressBar {
    if to_stdout || !show_progress() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(row_count);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} eta {eta}") {
        bar.set_style(style);
    }
    bar
}
