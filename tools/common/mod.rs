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

pub mod args;
pub mod process;
pub mod report;
pub mod sqlite;
pub mod workload;
