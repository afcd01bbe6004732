//! `recstore import`: JSON Lines into the store, in atomic batches.
//!
//! Each line is `{"data": ..., "metadata": {...}}`, the old store's dataset
//! item shape; byte items are `{"data_base64": "...", "content_type": "..."}`.
//! The computed fields that `export --format jsonl` adds (`version`,
//! `offset`, `timestamp`, `size`, `md5`) are accepted and ignored, so an
//! export imports again as it is. A batch is parsed and validated whole
//! before it is written with one `put_batch`, so a bad line leaves nothing
//! of its batch in the store. Reading and parsing run on their own thread a
//! batch ahead of the writer (at most two batches in memory); batches are
//! written in input order, so the outcome is that of a sequential import.

use crate::error::ErrorKind;
use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc::{Receiver, SyncSender};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use super::{CliError, Context, Counted, show_progress, stdout, write_json_line};
use crate::json_object::ObjectOnly;
use crate::limits::IMPORT_BATCH_BYTES_MAX;
use crate::limits::IMPORT_LINE_SIZE_BYTES_MAX;
use crate::store::{check_depth, from_document, validate_name};
use crate::{Data, ItemRef, Metadata, NewItem};

const AFTER_HELP: &str = "\
Examples:
  recstore import items.jsonl
  imported 3 lines: 2 new items, 1 new version, 0 unchanged
  cat items.jsonl | recstore import --batch-size 5000 -
  recstore import --skip-bad messy.jsonl 2> skipped.txt
  recstore export --all-versions --out all.jsonl && recstore --data copy import --preserve all.jsonl

A line:
  {\"data\": {\"temperature\": 21.5}, \"metadata\": {\"id\": \"reading-1\", \"type\": \"sensor_reading\", \"tags\": [\"raw_data\"]}}
  {\"data_base64\": \"iVBORw0KGgo=\", \"content_type\": \"image/png\", \"metadata\": {\"id\": \"photo-1\"}}";

/// Import items from JSON Lines in atomic batches.
///
/// Reads FILE (or stdin for `-`), one item per line, and stores them in
/// batches of --batch-size lines, each batch atomically: after a crash a
/// batch is either all there or not at all. A line that does not parse or
/// validate stops the import with its line number, and nothing from its
/// batch is written (earlier batches stay). With --skip-bad such lines are
/// reported on stderr and skipped, and the import exits 0. A line longer
/// than the item limit as base64 plus its envelope (about 86 MiB) always
/// stops it, before more of the line is read. Prints the count
/// of new items, new versions of existing items, and unchanged items (lines
/// identical to the current version, which write nothing). Blank lines are
/// ignored. The fields an export adds (`version`, `offset`, `timestamp`,
/// `size`, `md5`) are accepted and not used: each line becomes the next
/// version of its id, stamped with the time of the import. Numbers keep
/// their exact value; a line with JSON nested more than 100 levels, or an
/// integer beyond 64 bits, is a bad line (the error names the limit, or the
/// number and its path). Tags are stored sorted, without repeats.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ImportArgs {
    /// The JSON Lines file, or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Lines per atomic batch.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Skip bad lines (reported on stderr) instead of failing.
    #[arg(long, conflicts_with = "preserve")]
    pub skip_bad: bool,
    /// Keep each line's `version` and `timestamp` (an export's lines, e.g.
    /// from `export --all-versions`) instead of making the next version now.
    /// Versions must go up per item and times must not go back, else the
    /// import stops before the batch; skipped versions stay gaps.
    #[arg(long)]
    pub preserve: bool,
}

/// One line of the import format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    data_base64: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    // Computed by the store; present in exports, ignored here.
    #[serde(default, rename = "version")]
    _version: serde::de::IgnoredAny,
    #[serde(default, rename = "offset")]
    _offset: serde::de::IgnoredAny,
    #[serde(default, rename = "timestamp")]
    _timestamp: serde::de::IgnoredAny,
    #[serde(default, rename = "size")]
    _size: serde::de::IgnoredAny,
    #[serde(default, rename = "md5")]
    _md5: serde::de::IgnoredAny,
}

/// Parses and validates one line; the error says what is wrong with it.
pub(crate) fn parse_line(line: &[u8]) -> Result<NewItem, String> {
    // Editors on Windows start files with a UTF-8 byte order mark.
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let ObjectOnly(line): ObjectOnly<ImportLine> = from_document(line).map_err(|e| e.to_string())?;
    let data = match (line.data, line.data_base64) {
        (Some(value), None) => {
            // Here rather than only in the store, so --skip-bad skips the line.
            check_depth(&value).map_err(|e| format!("data: {e}"))?;
            Data::Json(value)
        }
        (None, Some(text)) => {
            let content_type = line.content_type.unwrap_or_else(|| "application/octet-stream".into());
            validate_name("content_type", &content_type).map_err(|e| e.to_string())?;
            Data::Bytes { bytes: decode_base64(&text)?, content_type }
        }
        (Some(_), Some(_)) => return Err("a line has `data` or `data_base64`, not both".into()),
        (None, None) => return Err("a line needs `data` (JSON) or `data_base64` (bytes)".into()),
    };
    line.metadata.validate().map_err(|e| e.to_string())?;
    Ok(NewItem { data, metadata: line.metadata })
}

/// Reads every line of FILE (or stdin) as an item, failing on the first bad
/// one with its line number. For `dataset put`, which writes all at once.
pub(crate) fn read_all_items(file: &str) -> Result<Vec<NewItem>, CliError> {
    let mut items = Vec::new();
    let mut reader = open_input(file)?;
    let mut line = Vec::new();
    let mut line_number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(items);
        }
        line_number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        items.push(parse_line(&line).map_err(|why| CliError::invalid(format!("line {line_number}: {why}")))?);
    }
}

pub(crate) fn open_input(file: &str) -> Result<Box<dyn BufRead + Send>, CliError> {
    if file == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let opened = std::fs::File::open(file).map_err(|e| CliError::io(format!("{file}: {e}")))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, opened)))
}

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
struct Counts {
    lines: u64,
    new_items: u64,
    new_versions: u64,
    unchanged: u64,
    skipped: u64,
}

impl Counts {
    fn add(&mut self, refs: &[ItemRef]) {
        for item in refs {
            match (item.created, item.version) {
                (false, _) => self.unchanged += 1,
                (true, 1) => self.new_items += 1,
                (true, _) => self.new_versions += 1,
            }
        }
    }

    fn written(&self) -> u64 {
        self.new_items + self.new_versions + self.unchanged
    }
}

/// A batch parsed and validated, on its way to the writer.
#[derive(Default)]
struct Batch {
    items: Vec<NewItem>,
    first_line: u64,
    last_line: u64,
    /// Input bytes this batch accounts for, blank and skipped lines included.
    read_size_bytes: u64,
    /// Lines that were not blank, skipped ones included.
    line_count: u64,
    skipped_count: u64,
}

/// What the parsing thread hands the writer, in input order.
enum Parsed {
    Batch(Batch),
    /// A line that does not parse or validate, without --skip-bad: the
    /// import stops after writing the batches before it.
    BadLine {
        line_number: u64,
        why: String,
        batch_first_line: u64,
    },
    /// The input could not be read.
    Failed(CliError),
}

pub(crate) fn run(args: ImportArgs, context: &Context) -> Result<(), CliError> {
    if args.preserve {
        return super::import_preserve::run(&args, context);
    }
    let store = context.open_write()?;
    let progress = progress_bar(&args.file);
    let reader = open_input(&args.file)?;
    // Parsing runs on its own thread, one batch ahead of the writer, so that
    // it overlaps the writer's fdatasync and views update instead of
    // following them. The rendezvous channel keeps at most two batches in
    // memory (one being written, one waiting) and hands them over in input
    // order, so atomicity, line numbers and counts are as if sequential.
    let counts = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(0);
        let parser_progress = progress.clone();
        let parser = std::thread::Builder::new()
            .name("recstore-parse".into())
            .spawn_scoped(scope, move || parse_batches(reader, &args, &parser_progress, &sender))
            .map_err(|e| CliError::io(format!("starting the parsing thread: {e}")))?;
        // `write_batches` consumes the receiver, so if it stops early the
        // parser's next send fails and it ends too, before the join below.
        let written = write_batches(&store, receiver, &progress);
        if parser.join().is_err() {
            return Err(CliError { message: "the parsing thread panicked".into(), kind: ErrorKind::Internal });
        }
        written
    });
    progress.finish_and_clear();
    drop(store);
    print_counts(&counts?, context.json)
}

/// Reads and parses the input into batches and sends them in order. Stops
/// at the first bad line (unless skipping), at a read error, or when the
/// writer has gone.
fn parse_batches(
    mut reader: Box<dyn BufRead + Send>,
    args: &ImportArgs,
    progress: &ProgressBar,
    sender: &SyncSender<Parsed>,
) {
    let batch_size = args.batch_size as usize;
    let mut batch = Batch { items: Vec::with_capacity(batch_size), ..Batch::default() };
    // Bytes of the lines that became this batch's items.
    let mut items_size_bytes = 0usize;
    let mut line = Vec::new();
    let mut line_number = 0u64;
    loop {
        line.clear();
        line_number += 1;
        let read_bytes = match read_line_bounded(&mut reader, &mut line, IMPORT_LINE_SIZE_BYTES_MAX) {
            Ok(0) => break,
            Ok(read_bytes) => read_bytes,
            Err(LineError::Io(error)) => {
                let _ = sender.send(Parsed::Failed(error.into()));
                return;
            }
            Err(LineError::TooLong) => {
                let why = format!(
                    "the line is over {IMPORT_LINE_SIZE_BYTES_MAX} bytes (the 64 MiB item limit, as base64, plus                      its envelope) and was not read further"
                );
                let _ = sender.send(Parsed::BadLine { line_number, why, batch_first_line: batch.first_line });
                return;
            }
        };
        batch.read_size_bytes += read_bytes as u64;
        if line.trim_ascii().is_empty() {
            continue;
        }
        batch.line_count += 1;
        if batch.items.is_empty() && batch.skipped_count == 0 {
            batch.first_line = line_number;
        }
        batch.last_line = line_number;
        match parse_line(&line) {
            Ok(item) => {
                batch.items.push(item);
                items_size_bytes += read_bytes;
            }
            Err(why) if args.skip_bad => {
                batch.skipped_count += 1;
                // Printed around the bar, so that neither garbles the other.
                progress.suspend(|| eprintln!("skipped line {line_number}: {why}"));
            }
            Err(why) => {
                let _ = sender.send(Parsed::BadLine { line_number, why, batch_first_line: batch.first_line });
                return;
            }
        }
        if batch.items.len() >= batch_size || items_size_bytes >= IMPORT_BATCH_BYTES_MAX {
            items_size_bytes = 0;
            let next = Batch { items: Vec::with_capacity(batch_size), ..Batch::default() };
            if sender.send(Parsed::Batch(std::mem::replace(&mut batch, next))).is_err() {
                return;
            }
        }
    }
    let _ = sender.send(Parsed::Batch(batch));
}

/// Why a line could not be read.
enum LineError {
    Io(std::io::Error),
    /// Longer than the bound; what was read of it is in the buffer.
    TooLong,
}

/// Reads one line, newline included, into `line` in the reader's chunks,
/// refusing it once it passes `bytes_max` without a newline: input such as
/// `/dev/zero` would otherwise be read into memory without end. Returns the
/// bytes read, 0 at the end of the input.
fn read_line_bounded(reader: &mut dyn BufRead, line: &mut Vec<u8>, bytes_max: usize) -> Result<usize, LineError> {
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(LineError::Io(error)),
        };
        if chunk.is_empty() {
            return Ok(line.len());
        }
        let (taken, ended) = match chunk.iter().position(|&byte| byte == b'\n') {
            Some(end) => (end + 1, true),
            None => (chunk.len(), false),
        };
        line.extend_from_slice(&chunk[..taken]);
        reader.consume(taken);
        if ended {
            return Ok(line.len());
        }
        if line.len() > bytes_max {
            return Err(LineError::TooLong);
        }
    }
}

/// Writes each batch with one `put_batch`, in the order they arrive, until
/// the input ends or something fails; returns the counts.
fn write_batches(store: &crate::Store, batches: Receiver<Parsed>, progress: &ProgressBar) -> Result<Counts, CliError> {
    let mut counts = Counts::default();
    for parsed in batches {
        let batch = match parsed {
            Parsed::Batch(batch) => batch,
            Parsed::BadLine { line_number, why, batch_first_line } => {
                return Err(CliError::invalid(format!(
                    "line {line_number}: {why}; nothing from its batch (lines {batch_first_line}-{line_number}) \
                     was written; {} written before it",
                    Counted(counts.written(), "item")
                )));
            }
            Parsed::Failed(error) => return Err(error),
        };
        counts.lines += batch.line_count;
        counts.skipped += batch.skipped_count;
        if !batch.items.is_empty() {
            let refs = store.put_batch(batch.items).map_err(|error| {
                let mut error = CliError::from(error);
                error.message = format!(
                    "lines {}-{}: {}; nothing from this batch was written",
                    batch.first_line, batch.last_line, error.message
                );
                error
            })?;
            counts.add(&refs);
        }
        progress.inc(batch.read_size_bytes);
    }
    Ok(counts)
}

fn print_counts(counts: &Counts, json: bool) -> Result<(), CliError> {
    let mut out = stdout();
    if json {
        write_json_line(&mut out, counts)?;
    } else {
        write!(
            out,
            "imported {}: {}, {}, {} unchanged",
            Counted(counts.lines, "line"),
            Counted(counts.new_items, "new item"),
            Counted(counts.new_versions, "new version"),
            counts.unchanged
        )?;
        if counts.skipped > 0 {
            write!(out, ", {} skipped", counts.skipped)?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

/// A byte-count bar for a file, a spinner for stdin, nothing off a terminal.
fn progress_bar(file: &str) -> ProgressBar {
    if !show_progress() {
        return ProgressBar::hidden();
    }
    let size_bytes = (file != "-").then(|| std::fs::metadata(file).ok()).flatten().map(|m| m.len());
    let (bar, template) = match size_bytes {
        Some(size) => (ProgressBar::new(size), "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"),
        None => (ProgressBar::new_spinner(), "{spinner} {bytes} read, {bytes_per_sec}"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Decodes standard padded base64 (as `--json` output writes byte items).
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    fn value(symbol: u8) -> Option<u32> {
        match symbol {
            b'A'..=b'Z' => Some(u32::from(symbol - b'A')),
            b'a'..=b'z' => Some(u32::from(symbol - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(symbol - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("data_base64 has {} characters, not a multiple of 4", bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (chunk_index, chunk) in bytes.chunks(4).enumerate() {
        let is_last = (chunk_index + 1) * 4 == bytes.len();
        let padding = if is_last { chunk.iter().rev().take_while(|&&b| b == b'=').count() } else { 0 };
        if padding > 2 {
            return Err("data_base64 has too much padding".into());
        }
        let mut n = 0u32;
        for &symbol in &chunk[..4 - padding] {
            let v = value(symbol).ok_or_else(|| format!("data_base64 has the character {:?}", symbol as char))?;
            n = (n << 6) | v;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips_through_the_encoder() -> Result<(), String> {
        for input in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let encoded = crate::base64::encode(input.as_bytes());
            assert_eq!(super::decode_base64(&encoded)?, input.as_bytes());
        }
        assert!(super::decode_base64("Zm9v!A==").is_err());
        Ok(())
    }
}
