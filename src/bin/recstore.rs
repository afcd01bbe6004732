//! The `recstore` command line: parses the arguments, sets up logging to
//! stderr, and hands over to [`recstore::cli::run`], whose return value is
//! the exit code. Usage errors exit with 2.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// jemalloc, not the system's malloc. A put allocates and frees a few
/// dozen small blocks (the caller's JSON tree, the encoded record) on
/// whichever thread prepares it, and glibc's malloc spends a fifth of the
/// write path's CPU on that: arena locks taken across threads and its
/// fast bins consolidated at every large request. With jemalloc a 200,000
/// item ingest takes about a fifth less time at the same memory per item
/// (tools/README.md, `store_bench`). A library cannot choose the allocator
/// of the program it is linked into, so recstore itself does not.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let cli = recstore::cli::Cli::try_parse().unwrap_or_else(|error| exit_on_usage_error(&error));
    init_tracing(cli.verbose);
    std::process::exit(recstore::cli::run(cli));
}

/// Help and version print as clap renders them. A usage error exits 2 and,
/// when `--json` is anywhere on the line, is a JSON object on stderr like
/// every other error, so a script that asked for JSON can always parse it.
fn exit_on_usage_error(error: &clap::Error) -> ! {
    let wants_json = std::env::args_os().skip(1).any(|arg| arg == "--json");
    if !(wants_json && error.use_stderr()) {
        error.exit();
    }
    let rendered = error.render().to_string();
    let message = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ");
    let line = serde_json::json!({"error": message, "kind": recstore::error::ErrorKind::Usage.as_str(), "usage": rendered.trim_end()});
    eprintln!("{line}");
    std::process::exit(2);
}

/// Logs go to stderr so they never mix with data on stdout. `RUST_LOG`, when
/// set, wins over `-v`; the default shows only warnings.
fn init_tracing(verbose: u8) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "warn,recstore=debug",
            _ => "warn,recstore=trace",
        })
    });
    let colour = std::io::stderr().is_terminal();
    // A log line that cannot be written (stderr a file on a full disk) is
    // dropped: reporting it would `eprintln!`, which panics on the same
    // failure and took down the request that logged.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .log_internal_errors(false)
        .init();
}
