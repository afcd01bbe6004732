//! The `recstore` command line: argument parsing, store opening, output and
//! exit codes. One file per subcommand (or small group of them) does the work.
//!
//! Owns the contract of issue 7: flags, output shapes and exit codes that
//! scripts rely on. Owns nothing on disk; every command goes through the
//! public [`Store`] API like any other caller. Read commands open the store
//! read-only, so they work beside a running writer (for example `serve`) and
//! treat a missing data directory as an empty store; write commands take the
//! write lock and fail with exit code 5 naming the holder's pid.

mod compact;
mod dataset;
mod delete;
mod export;
mod get;
mod groups;
mod history;
mod import;
mod import_preserve;
mod log;
mod put;
mod query;
mod restore;
mod search;
mod serve;
mod stats;
mod verify;

pub use verify::verify_json;

/// One `import` line parsed as `recstore import` parses it: the
/// `import_line` fuzz target (see `crate::fuzzing`).
pub(crate) fn fuzz_import_line(line: &[u8]) -> bool {
    import::parse_line(line).is_ok()
}

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::error::ErrorKind;
use crate::timetravel::AsOf;
use crate::{Error, Store, StoreOptions};

const TOP_AFTER_HELP: &str = "\
Data directory:
  --data DIR, else $RECSTORE_DATA, else ./recstore-data. It is created on the
  first write; a read on a missing or empty directory sees an empty store.

Exit codes:
  0  ok
  1  any other error (bad input, I/O, ...)
  2  usage: unknown flag, missing argument
  3  not found: unknown id, version or dataset, or a deleted item
  4  corruption detected in the log
  5  the store is locked by another writer (the message names its pid)

Examples:
  echo '{\"temperature\": 21.5}' | recstore put --type sensor_reading --tag raw_data -
  recstore get 5d41402abc4b2a76b9719d911017c592
  recstore query --type sensor_reading --tag raw_data
  recstore --json stats";

/// An event-sourced, append-only store for versioned data items.
///
/// Every write (a new item version, a delete, a dataset) is appended to a
/// log in the data directory; reads answer from views rebuilt from that log.
/// Errors go to stderr as one line (with --json, a JSON object with `error`
/// and `kind`); lists are printed as NDJSON, one JSON object a line.
#[derive(Debug, Parser)]
#[command(name = "recstore", version, after_help = TOP_AFTER_HELP)]
pub struct Cli {
    /// The data directory.
    #[arg(long, global = true, value_name = "DIR", env = "RECSTORE_DATA", default_value = "./recstore-data")]
    pub data: PathBuf,

    /// Print JSON objects instead of human-readable lines (errors too).
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output on stderr: -v for debug, -vv for trace (RUST_LOG overrides).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// The variants' help comes from the doc comments of their argument structs:
// a doc comment on a variant would replace the struct's long help.
#[allow(missing_docs, reason = "each variant is documented by its Args struct, which clap shows as help")]
#[derive(Debug, Subcommand)]
pub enum Command {
    Put(put::PutArgs),
    Get(get::GetArgs),
    Meta(get::MetaArgs),
    History(history::HistoryArgs),
    Lineage(history::LineageArgs),
    Delete(delete::DeleteArgs),
    Query(query::QueryArgs),
    Search(search::SearchArgs),
    Import(import::ImportArgs),
    Export(export::ExportArgs),
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    Log(log::LogArgs),
    Groups(groups::GroupsArgs),
    Stats(stats::StatsArgs),
    Verify(verify::VerifyArgs),
    Restore(restore::RestoreArgs),
    Compact(compact::CompactArgs),
    Serve(serve::ServeArgs),
}

/// A failure as the command line reports it: a message and a kind.
#[derive(Debug)]
pub struct CliError {
    /// One line saying what went wrong.
    pub message: String,
    /// What kind of failure: it decides the exit code.
    pub kind: ErrorKind,
}

impl CliError {
    /// A refusal of the user's input (exit code 1).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: ErrorKind::InvalidInput }
    }

    /// A failure of the operating system (exit code 1).
    pub fn io(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: ErrorKind::Io }
    }

    /// The process exit code of this failure.
    pub fn exit_code(&self) -> i32 {
        exit_code(self.kind)
    }
}

/// The exit code of each kind of failure: the one table of the command line.
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::BrokenPipe => 0,
        ErrorKind::InvalidInput
        | ErrorKind::Horizon
        | ErrorKind::TooLarge
        | ErrorKind::Unavailable
        | ErrorKind::Io
        | ErrorKind::Unauthorized
        | ErrorKind::MethodNotAllowed
        | ErrorKind::Timeout
        | ErrorKind::Internal => 1,
        ErrorKind::Usage => 2,
        ErrorKind::NotFound | ErrorKind::Deleted | ErrorKind::Pruned => 3,
        ErrorKind::Corruption => 4,
        ErrorKind::Locked => 5,
    }
}

impl From<Error> for CliError {
    fn from(error: Error) -> Self {
        Self { message: error.to_string(), kind: error.kind() }
    }
}

impl From<io::Error> for CliError {
    fn from(error: io::Error) -> Self {
        // A closed pipe gets its own kind so `run` can end quietly.
        let kind = if error.kind() == io::ErrorKind::BrokenPipe { ErrorKind::BrokenPipe } else { ErrorKind::Io };
        Self { message: error.to_string(), kind }
    }
}

impl From<crate::log::LogError> for CliError {
    fn from(error: crate::log::LogError) -> Self {
        Error::from(error).into()
    }
}

/// `--as-of WHEN`, shared by every read command.
#[derive(Debug, Clone, Args)]
pub struct AsOfArg {
    /// Read the store as it was at WHEN: an RFC 3339 time
    /// (`2026-11-25T10:00:00Z`, every record stamped at or before it) or a
    /// log offset (`@123`, the state after that record's batch).
    #[arg(long = "as-of", value_name = "WHEN")]
    pub as_of: Option<AsOf>,
}

/// What every subcommand gets: the global flags.
#[derive(Debug, Clone)]
pub struct Context {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `--json`.
    pub json: bool,
}

impl Context {
    /// Opens the store without the write lock: works beside a running writer,
    /// and a missing data directory reads as an empty store.
    pub fn open_read(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.data_dir, StoreOptions::default().read_only(true))?)
    }

    /// Opens the store for writing; fails with kind `locked` while another
    /// process writes to it.
    pub fn open_write(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.data_dir, StoreOptions::default())?)
    }
}

/// Buffered stdout. Commands flush it before they return.
pub(crate) fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::new(io::stdout().lock())
}

/// Writes `value` as one compact JSON line.
pub(crate) fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), CliError> {
    // Serialized first, so that a write error stays an io::Error (a closed
    // pipe must be recognisable) rather than a serde_json one.
    let mut line = serde_json::to_vec(value).map_err(|e| CliError::invalid(format!("cannot print JSON: {e}")))?;
    line.push(b'\n');
    out.write_all(&line)?;
    Ok(())
}

/// A count and its noun, which takes an "s" unless the count is one: `1
/// segment`, `3 segments` (every noun the summaries count is regular).
pub(crate) struct Counted<'a>(pub u64, pub &'a str);

impl std::fmt::Display for Counted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Counted(count, noun) = *self;
        write!(f, "{count} {noun}{}", if count == 1 { "" } else { "s" })
    }
}

/// Whether to draw progress bars: only on a terminal, and never in CI.
pub(crate) fn show_progress() -> bool {
    io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// Runs a parsed command line and returns the process exit code. Errors are
/// printed to stderr here, as one line or (with `--json`) a JSON object.
pub fn run(cli: Cli) -> i32 {
    let context = Context { data_dir: cli.data, json: cli.json };
    match dispatch(cli.command, &context) {
        Ok(()) => 0,
        // A closed pipe (`recstore log | head`) means the reader has what it wanted.
        Err(error) if error.kind == ErrorKind::BrokenPipe => 0,
        Err(error) => {
            report(&error, context.json);
            error.exit_code()
        }
    }
}

fn dispatch(command: Command, context: &Context) -> Result<(), CliError> {
    match command {
        Command::Put(args) => put::run(args, context),
        Command::Get(args) => get::run_get(args, context),
        Command::Meta(args) => get::run_meta(args, context),
        Command::History(args) => history::run_history(args, context),
        Command::Lineage(args) => history::run_lineage(args, context),
        Command::Delete(args) => delete::run(args, context),
        Command::Query(args) => query::run(args, context),
        Command::Search(args) => search::run(args, context),
        Command::Import(args) => import::run(args, context),
        Command::Export(args) => export::run(args, context),
        Command::Dataset(command) => dataset::run(command, context),
        Command::Log(args) => log::run(args, context),
        Command::Groups(args) => groups::run(args, context),
        Command::Stats(args) => stats::run(args, context),
        Command::Verify(args) => verify::run(args, context),
        Command::Restore(args) => restore::run(args, context),
        Command::Compact(args) => compact::run(args, context),
        Command::Serve(args) => serve::run(args, context),
    }
}

fn report(error: &CliError, json: bool) {
    let line = if json {
        serde_json::json!({"error": error.message, "kind": error.kind.as_str()}).to_string()
    } else {
        format!("error: {}", error.message.replace('\n', " "))
    };
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(io::stderr().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::Counted;

    #[test]
    fn a_count_of_one_takes_the_singular_and_every_other_the_plural() {
        assert_eq!(Counted(1, "segment").to_string(), "1 segment");
        assert_eq!(Counted(0, "segment").to_string(), "0 segments");
        assert_eq!(Counted(2, "live item").to_string(), "2 live items");
    }
}
