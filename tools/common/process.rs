//! CPU time from `/proc`, and the staleness check of the release binary,
//! for the benchmarks that split wall time into CPU and waiting, or run
//! `target/release/recstore` as a child.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Proc stat times are in ticks of this many per second (`getconf CLK_TCK`).
pub const TICKS_PER_S: u64 = 100;

/// Fields after the command name in a `/proc/.../stat` file to skip before
/// utime and stime (fields 14 and 15).
pub const SKIP_TO_UTIME: usize = 11;
/// ... before cutime and cstime (fields 16 and 17): the CPU of children
/// that have been waited for.
pub const SKIP_TO_CUTIME: usize = 13;

/// Two tick counts from a `/proc/.../stat` file, summed, from field
/// 14 + `skip`; zero if the file cannot be read. Ticks are 10 ms, so only
/// sums over many calls mean much.
pub fn proc_cpu(stat_path: &Path, skip: usize) -> Duration {
    let text = std::fs::read_to_string(stat_path).unwrap_or_default();
    // The command name before the fields may hold spaces.
    let after_name = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name.split_whitespace().skip(skip).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 1_000 / TICKS_PER_S)
}

/// User plus system time of the calling thread. Unlike wall time, it does
/// not grow when other processes take the CPU, nor while waiting on a disk.
pub fn thread_cpu() -> Duration {
    proc_cpu(Path::new("/proc/thread-self/stat"), SKIP_TO_UTIME)
}

/// User plus system time of this whole process.
pub fn process_cpu() -> Duration {
    proc_cpu(Path::new("/proc/self/stat"), SKIP_TO_UTIME)
}

/// CPU time of this process's children that have been waited for.
pub fn children_cpu() -> Duration {
    proc_cpu(Path::new("/proc/self/stat"), SKIP_TO_CUTIME)
}

/// Samples the CPU time of each thread of process `pid` every `interval`
/// until `done`, then sums it per thread name. Tantivy starts new indexing
/// threads at each commit, so a single look at the end would miss most of them.
pub fn sample_threads(pid: u32, done: &AtomicBool, interval: Duration) -> BTreeMap<String, Duration> {
    let mut by_thread: BTreeMap<String, (String, Duration)> = BTreeMap::new();
    while !done.load(Ordering::Relaxed) {
        for entry in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default().trim().to_owned();
            let cpu = proc_cpu(&entry.path().join("stat"), SKIP_TO_UTIME);
            if !name.is_empty() {
                by_thread.insert(entry.file_name().to_string_lossy().into_owned(), (name, cpu));
            }
        }
        std::thread::sleep(interval);
    }
    let mut by_name = BTreeMap::new();
    for (name, cpu) in by_thread.into_values() {
        *by_name.entry(name).or_insert(Duration::ZERO) += cpu;
    }
    by_name
}

/// For the benchmarks that run the release binary and build nothing: a
/// missing binary ends the run (exit 2) with what to do; one older than a
/// source file measures old code, so that gets a warning, but the run goes on.
pub fn check_binary_or_exit(bench_name: &str, binary: &Path) {
    if !binary.is_file() {
        eprintln!(
            "{bench_name}: {} not found. This benchmark runs the release binary and builds nothing itself:\n\
             run `cargo build --release` first (or pass --binary PATH).",
            binary.display()
        );
        std::process::exit(2);
    }
    if let Some(path) = newer_source(binary) {
        let (path, binary) = (path.display(), binary.display());
        eprintln!("{bench_name}: WARNING: {path} is newer than {binary}; run `cargo build --release`");
    }
}

/// A file under `src/` newer than `binary`, if any.
pub fn newer_source(binary: &Path) -> Option<PathBuf> {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let built = modified(binary)?;
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if modified(&path).is_some_and(|m| m > built) {
                return Some(path);
            }
        }
    }
    None
}
