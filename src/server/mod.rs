//! The HTTP server: the store over HTTP/JSON, built on axum.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::StoreOptions;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// File holding the bearer token; without it, only loopback addresses are allowed.
    pub token_file: Option<PathBuf>,
    /// Store options.
    pub store: StoreOptions,
}

/// Runs the server until SIGINT or SIGTERM, then shuts down cleanly.
pub fn run(config: ServeConfig) -> crate::Result<()> {
    let _ = config;
    Err(crate::Error::invalid("the server is not built yet"))
}
