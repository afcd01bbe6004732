//! Code the benchmarks share: issue 3's workload (`workload`), the result
//! table and latency quantiles (`report`), flags (`args`), CPU time from
//! `/proc` and the release-binary check (`process`), and the SQLite
//! baseline's schema (`sqlite`).
//!
//! Each benchmark is its own crate (a `harness = false` bench target), so
//! each includes this folder with `#[path = "common/mod.rs"] mod common;`
//! and compiles its own copy. What a benchmark measures, and against what,
//! stays in its own file and in `tools/README.md`.

#![allow(dead_code, reason = "each benchmark includes this folder and uses a part of it")]

/// The `recstore` binary's allocator (see src/bin/recstore.rs), so that a
/// benchmark measures the library as the binary runs it. SQLite keeps the
/// system's malloc: the prefixed jemalloc does not replace `malloc`.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod args;
pub mod process;
pub mod report;
pub mod sqlite;
pub mod workload;
