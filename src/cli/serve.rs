//! `recstore serve`: runs the HTTP server (see `crate::server`) on the data
//! directory. The server holds the write lock for as long as it runs; read
//! commands of the CLI keep working beside it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, Context};
use crate::StoreOptions;
use crate::server::{self, ServeConfig};

const AFTER_HELP: &str = "\
Examples:
  recstore serve                                   # http://127.0.0.1:7070
  recstore serve --listen 0.0.0.0:8080 --token-file /etc/recstore/token
  recstore serve --compact-every-s 3600 --max-versions 3   # hourly retention in the background
  recstore serve --allow-host store.example.org --allow-origin https://app.example.org   # behind a proxy
  curl -s --json '{\"data\": {\"t\": 21.5}}' localhost:7070/v1/items   # JSON bodies need --json
  kill -HUP <pid>                                  # read --token-file again (token rotation)

Rotating a token without downtime: add the new token as a second line of the token file and
send SIGHUP (both are accepted), move every client to the new token, then delete the old
line and send SIGHUP again.

Stops cleanly (fsync, checkpoint, exit 0) on SIGINT or SIGTERM: in-flight requests get
--shutdown-grace-s seconds, a background compaction in progress finishes; a second
signal exits at once with 1.";

/// Serve the store over HTTP/JSON.
///
/// Opens the data directory for writing and serves the `/v1` API until
/// SIGINT or SIGTERM. With --token-file every request except `/healthz`
/// must carry `Authorization: Bearer <token>` with one of the file's tokens;
/// without one, only loopback addresses may be listened on.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// File holding the bearer tokens clients may send: one a line (up to
    /// 16; blank and `#` lines passed over), visible ASCII; SIGHUP reads it again.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Close a connection that sends no complete request for this many
    /// seconds (never while a response, such as a log follow, is streaming).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_s: u64,
    /// Compact in the background every SECONDS, with --max-versions and
    /// --retention-days (off unless given; `recstore compact` and
    /// `POST /v1/admin/compact` run one at any time).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub compact_every_s: Option<u64>,
    /// Versions of each item that background compaction keeps [default: 5].
    #[arg(long, value_name = "N", requires = "compact_every_s", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_versions: Option<u32>,
    /// Days of history that background compaction keeps [default: 30, at most 36500].
    #[arg(long, value_name = "N", requires = "compact_every_s", value_parser = super::compact::retention_days_range())]
    pub retention_days: Option<u32>,
    /// After SIGINT or SIGTERM, let in-flight requests and streams go on for
    /// this many seconds, then close them and exit; a second signal exits at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub shutdown_grace_s: u64,
    /// Let a browser page from this origin call the API, with CORS answers
    /// (repeatable; e.g. https://app.example:8443). Requests with any other
    /// `Origin` are refused with 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Accept requests naming this host (repeatable; e.g. store.internal),
    /// besides loopback names and the listen address. Any other `Host` is
    /// refused with 403, which stops DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
}

pub(crate) fn run(args: ServeArgs, context: &Context) -> Result<(), CliError> {
    let mut store = StoreOptions::default();
    if let Some(versions) = args.max_versions {
        store = store.max_versions(versions);
    }
    if let Some(days) = args.retention_days {
        store = store.retention_days(days);
    }
    let config = ServeConfig {
        data_dir: context.data_dir.clone(),
        listen: args.listen,
        token_file: args.token_file,
        store,
        idle_timeout_ms: args.idle_timeout_s.saturating_mul(1000),
        compact_interval_ms: args.compact_every_s.map(|seconds| seconds.saturating_mul(1000)),
        shutdown_grace_ms: args.shutdown_grace_s.saturating_mul(1000),
        allow_origins: args.allow_origins,
        allow_hosts: args.allow_hosts,
    };
    Ok(server::run(config)?)
}
