//! `recstore import --preserve`: JSON Lines whose versions and times are
//! kept, so that `export --all-versions` then `import --preserve` into an
//! empty store round-trips ids, versions, timestamps and parents.
//!
//! Each line is an export line: the import format plus `version` and
//! `timestamp` (RFC 3339), which are required here. Lines are written in
//! input order with `Store::put_preserved`, a --batch-size of lines per
//! call; a version that does not go up, or a time that goes back, stops the
//! import before its batch is written (earlier batches stay).

use std::io::BufRead;

use serde::Deserialize;

use super::import::{ImportArgs, open_input, parse_line};
use super::{CliError, Context, write_json_line};
use crate::store::PreservedItem;

/// The fields `--preserve` keeps, read beside the import format's.
#[derive(Deserialize)]
struct Stamps {
    version: Option<u32>,
    timestamp: Option<String>,
}

fn parse_preserved(line: &[u8]) -> Result<PreservedItem, String> {
    let item = parse_line(line)?;
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let stamps: Stamps = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let version = stamps.version.ok_or("--preserve needs each line's `version` (as export writes it)")?;
    let timestamp = stamps.timestamp.ok_or("--preserve needs each line's `timestamp` (as export writes it)")?;
    let timestamp_us = crate::store::parse_time(&timestamp).map_err(|e| e.to_string())?;
    Ok(PreservedItem { item, version, timestamp_us })
}

/// Imports FILE keeping versions and times; prints the lines written.
pub(crate) fn run(args: &ImportArgs, context: &Context) -> Result<(), CliError> {
    let store = context.open_write()?;
    let mut reader = open_input(&args.file)?;
    let (mut batch, mut line, mut line_number, mut written) = (Vec::new(), Vec::new(), 0u64, 0u64);
    let mut batch_first_line = 1;
    loop {
        line.clear();
        let at_end = reader.read_until(b'\n', &mut line)? == 0;
        if !at_end {
            line_number += 1;
            if !line.trim_ascii().is_empty() {
                let item = parse_preserved(&line).map_err(|why| {
                    CliError::invalid(format!("line {line_number}: {why}; nothing of its batch was written"))
                })?;
                if batch.is_empty() {
                    batch_first_line = line_number;
                }
                batch.push(item);
            }
        }
        if !batch.is_empty() && (at_end || batch.len() >= args.batch_size as usize) {
            let count = batch.len() as u64;
            store.put_preserved(std::mem::take(&mut batch)).map_err(|error| {
                let kind = error.kind();
                CliError { message: format!("lines from {batch_first_line}: {error}"), kind }
            })?;
            written += count;
        }
        if at_end {
            break;
        }
    }
    drop(store);
    let mut out = super::stdout();
    if context.json {
        write_json_line(&mut out, &serde_json::json!({"lines": written, "preserved_versions": written}))?;
    } else {
        use std::io::Write;
        writeln!(out, "imported {} keeping their versions and times", super::Counted(written, "line"))?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(())
}
