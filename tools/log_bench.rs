//! Benchmark of the log engine against what this machine's disk can do.
//!
//! Each log measurement runs beside a baseline measured in the same run, on
//! the same file system, so its ratio shows what the log costs and not just
//! how fast this disk is. `tools/README.md` lists the measurements, how to
//! run them, and where each target comes from. Units: MB = 10^6 bytes,
//! GB = 10^9 bytes, MiB = 2^20 bytes.

use std::error::Error;
use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use recstore::log::{Log, LogOptions, NewRecord, SyncMode};

#[path = "common/mod.rs"]
mod common;

use common::args::{Flags, config_or_exit};
use common::report::{drift, print_table, quantile, verdict};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const MIB: u64 = 1024 * 1024;
const RECORD_SIZE_BYTES: usize = 512;
const BATCH_RECORD_COUNT: usize = 1_000;
const WRITER_COUNTS: [usize; 3] = [1, 4, 16];
/// (b): appends must reach this fraction of the plain-write bandwidth (from the issue).
const APPEND_TO_WRITE_RATIO_MIN: f64 = 0.70;
/// (d): warm replay throughput of payload, GB/s (from the issue).
const REPLAY_GB_PER_S_MIN: f64 = 1.0;
/// (c): N writers must reach this fraction of N times one writer's rate.
/// The issue only says group commit "should scale"; half of linear is this
/// benchmark's reading of that.
const SPEEDUP_FRACTION_OF_LINEAR_MIN: f64 = 0.5;
/// A baseline run before and after what it serves differs by more than this
/// factor: the disk changed speed meanwhile, so the ratios are suspect.
const BASELINE_DRIFT_MAX: f64 = 1.5;
/// Payloads are slices of a pool of random bytes, so no two batches are alike.
const PAYLOAD_POOL_SIZE_BYTES: usize = 4 * 1024 * 1024;

const USAGE: &str = "usage: cargo bench --bench log_bench -- [--quick] [--json] [--volume-mib N] [--duration-s S]
  --volume-mib N   bytes written by (a) and payload appended by (b), in MiB (default 1024; --quick: 64)
  --duration-s S   length of each fdatasync-per-append run in (c), seconds (default 3; --quick: 1)
  --quick          smoke run: the smaller defaults above
  --json           print one JSON object on stdout instead of the table";

struct Config {
    volume_mib: u64,
    duration: Duration,
    json: bool,
}

/// A byte count moved in some time.
#[derive(Clone, Copy)]
struct Timed {
    bytes: u64,
    elapsed: Duration,
}

impl Timed {
    fn per_s(self, unit: f64) -> f64 {
        self.bytes as f64 / unit / self.elapsed.as_secs_f64()
    }

    /// Several runs as one: total bytes over total time.
    fn sum(runs: &[Timed]) -> Timed {
        Timed { bytes: runs.iter().map(|r| r.bytes).sum(), elapsed: runs.iter().map(|r| r.elapsed).sum() }
    }
}

/// (b) and each scan of (d).
struct Pass {
    payload: Timed,
    disk_bytes: u64,
    record_count: u64,
}

impl Pass {
    fn disk(&self) -> Timed {
        Timed { bytes: self.disk_bytes, elapsed: self.payload.elapsed }
    }

    fn records_per_s(&self) -> f64 {
        self.record_count as f64 / self.payload.elapsed.as_secs_f64()
    }
}

/// One fixed-duration run of appends that each wait for an fdatasync.
struct SyncRun {
    writer_count: usize,
    append_count: u64,
    fsync_count: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl SyncRun {
    fn appends_per_s(&self) -> f64 {
        self.append_count as f64 / self.elapsed.as_secs_f64()
    }

    /// Group commit's batching alone, whatever one fdatasync costs.
    fn appends_per_fsync(&self) -> f64 {
        self.append_count as f64 / self.fsync_count.max(1) as f64
    }

    fn latency_us(&self, at: f64) -> u32 {
        quantile(&self.latencies_us, at).unwrap_or(0)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "writer_count": self.writer_count,
            "append_count": self.append_count,
            "fsync_count": self.fsync_count,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "appends_per_s": self.appends_per_s(),
            "appends_per_fsync": self.appends_per_fsync(),
            "latency_p50_us": self.latency_us(0.5),
            "latency_p99_us": self.latency_us(0.99),
            "latency_max_us": self.latency_us(1.0),
        })
    }
}

struct Report {
    config: Config,
    dir: PathBuf,
    /// (a), run just before and just after (b).
    write_baselines: [Timed; 2],
    append: Pass,
    segment_count: usize,
    /// The (c) baseline, run just before and just after the log's runs.
    fsync_baselines: [SyncRun; 2],
    sync_runs: Vec<SyncRun>,
    replays: [Pass; 2],
}

fn main() -> BenchResult<()> {
    let config = config_or_exit(parse_args(std::env::args().skip(1)), USAGE);
    // The same file system as /work on the machines this runs on; TMPDIR moves it.
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let report = run(config, dir.path())?;
    if report.config.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print_table();
    }
    dir.close()?;
    Ok(())
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let (mut quick, mut json, mut volume_mib, mut duration_s) = (false, false, None, None);
    let mut flags = Flags::new(args, USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "--volume-mib" => volume_mib = Some(flags.value::<u64>(&flag, inline)?),
            "--duration-s" => duration_s = Some(flags.value::<f64>(&flag, inline)?),
            // `cargo bench` passes this to every `harness = false` target.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            _ => return Err(flags.unknown(&flag)),
        }
    }
    let volume_mib = volume_mib.unwrap_or(if quick { 64 } else { 1024 });
    let duration_s = duration_s.unwrap_or(if quick { 1.0 } else { 3.0 });
    if volume_mib == 0 || !(duration_s > 0.0 && duration_s.is_finite()) {
        return Err(format!("--volume-mib and --duration-s must be positive\n{USAGE}"));
    }
    Ok(Some(Config { volume_mib, duration: Duration::from_secs_f64(duration_s), json }))
}

/// Runs every measurement in `dir`. Each baseline runs both before and
/// after what it is compared with, so a disk that changes speed meanwhile
/// (other tenants, write-back) shows up instead of skewing a ratio. Files
/// stay until the end, so that no deletion (and the discards it sets off)
/// overlaps a later measurement.
fn run(config: Config, dir: &Path) -> BenchResult<Report> {
    let volume_bytes = config.volume_mib * MIB;
    let pool = random_bytes(PAYLOAD_POOL_SIZE_BYTES, 0x9e37_79b9_7f4a_7c15);
    progress(&format!("(a) plain writes of {} MiB in {}", config.volume_mib, dir.display()));
    let write_before = baseline_write(&dir.join("baseline-write-1.dat"), volume_bytes, &pool)?;
    progress("(b) appends with SyncMode::Never");
    let (log, append) = append_throughput(&dir.join("append"), volume_bytes, &pool)?;
    progress("(a) plain writes again");
    let write_after = baseline_write(&dir.join("baseline-write-2.dat"), volume_bytes, &pool)?;
    let segment_count = log.segment_count();
    progress("(d) replay, twice");
    let replays = [replay(&log, append.record_count)?, replay(&log, append.record_count)?];
    drop(log);
    let record = &pool[..RECORD_SIZE_BYTES];
    progress("(c) baseline: write + fdatasync per record");
    let fsync_before = baseline_fdatasync(&dir.join("baseline-fdatasync-1.dat"), config.duration, record)?;
    let mut sync_runs = Vec::new();
    for writer_count in WRITER_COUNTS {
        progress(&format!("(c) SyncMode::Always, {writer_count} writer(s)"));
        let log_dir = dir.join(format!("always-{writer_count}"));
        sync_runs.push(sync_always(&log_dir, writer_count, config.duration, record)?);
    }
    progress("(c) baseline again");
    let fsync_after = baseline_fdatasync(&dir.join("baseline-fdatasync-2.dat"), config.duration, record)?;
    Ok(Report {
        config,
        dir: dir.to_path_buf(),
        write_baselines: [write_before, write_after],
        append,
        segment_count,
        fsync_baselines: [fsync_before, fsync_after],
        sync_runs,
        replays,
    })
}

fn progress(message: &str) {
    eprintln!("log_bench: {message}");
}

/// Deterministic, incompressible bytes (xorshift64).
fn random_bytes(size_bytes: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(size_bytes + 8);
    while bytes.len() < size_bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size_bytes);
    bytes
}

/// (a) What `dd bs=1M conv=fdatasync` measures: sequential 1 MiB
/// `write_all`s, then one fdatasync, all timed.
fn baseline_write(path: &Path, volume_bytes: u64, pool: &[u8]) -> BenchResult<Timed> {
    let buffers: Vec<&[u8]> = pool.chunks_exact(MIB as usize).collect();
    let mut file = File::create(path)?;
    let started = Instant::now();
    for buffer_index in 0..volume_bytes.div_ceil(MIB) as usize {
        file.write_all(buffers[buffer_index % buffers.len()])?;
    }
    file.sync_data()?;
    Ok(Timed { bytes: volume_bytes.div_ceil(MIB) * MIB, elapsed: started.elapsed() })
}

/// (b) `volume_bytes` of 512-byte records in batches of 1,000, then one
/// `sync`, all timed. Returns the open log for (d).
fn append_throughput(log_dir: &Path, volume_bytes: u64, pool: &[u8]) -> BenchResult<(Log, Pass)> {
    let log = Log::open(log_dir, LogOptions { sync: SyncMode::Never, ..LogOptions::default() })?;
    let record_count = volume_bytes / RECORD_SIZE_BYTES as u64;
    let mut batch = Vec::with_capacity(BATCH_RECORD_COUNT);
    let started = Instant::now();
    let mut record_index = 0;
    while record_index < record_count {
        batch.clear();
        let batch_end = record_count.min(record_index + BATCH_RECORD_COUNT as u64);
        for index in record_index..batch_end {
            // A stride coprime with the pool size spreads records over it.
            let start = (index as usize * 4_099) % (pool.len() - RECORD_SIZE_BYTES);
            batch.push(NewRecord { kind: 1, flags: 0, payload: &pool[start..start + RECORD_SIZE_BYTES] });
        }
        log.append(&batch)?;
        record_index = batch_end;
    }
    log.sync()?;
    let elapsed = started.elapsed();
    let payload = Timed { bytes: record_count * RECORD_SIZE_BYTES as u64, elapsed };
    let pass = Pass { payload, disk_bytes: log.size_bytes(), record_count };
    Ok((log, pass))
}

/// (d) One scan of the whole log; every frame's crc is checked by the scan.
fn replay(log: &Log, record_count_expected: u64) -> BenchResult<Pass> {
    let (mut record_count, mut payload_bytes, mut dense) = (0u64, 0u64, true);
    let started = Instant::now();
    log.scan(0, |record| {
        dense &= record.offset == record_count;
        record_count += 1;
        payload_bytes += record.payload.len() as u64;
        ControlFlow::Continue(())
    })?;
    let elapsed = started.elapsed();
    if record_count != record_count_expected || !dense {
        let message = format!("replay saw record_count={record_count} dense={dense}, expected={record_count_expected}");
        return Err(message.into());
    }
    Ok(Pass { payload: Timed { bytes: payload_bytes, elapsed }, disk_bytes: log.size_bytes(), record_count })
}

/// (c) baseline: one thread writes a record and fdatasyncs, in a loop.
fn baseline_fdatasync(path: &Path, duration: Duration, record: &[u8]) -> BenchResult<SyncRun> {
    let mut file = File::create(path)?;
    let mut latencies_us = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let append_started = Instant::now();
        file.write_all(record)?;
        file.sync_data()?;
        latencies_us.push(micros(append_started.elapsed()));
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    let append_count = latencies_us.len() as u64;
    Ok(SyncRun { writer_count: 1, append_count, fsync_count: append_count, elapsed, latencies_us })
}

/// (c) `writer_count` threads append one record at a time to a fresh
/// `SyncMode::Always` log until `duration` is up.
fn sync_always(log_dir: &Path, writer_count: usize, duration: Duration, record: &[u8]) -> BenchResult<SyncRun> {
    let log = Log::open(log_dir, LogOptions { sync: SyncMode::Always, ..LogOptions::default() })?;
    let fsyncs_before = log.metrics().fsyncs;
    let (stop, start) = (AtomicBool::new(false), Barrier::new(writer_count + 1));
    let (per_writer, elapsed) = std::thread::scope(|scope| {
        let writers: Vec<_> =
            (0..writer_count).map(|_| scope.spawn(|| append_until_stopped(&log, &stop, &start, record))).collect();
        start.wait();
        let started = Instant::now();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let per_writer: Vec<_> = writers.into_iter().map(|w| w.join().expect("a writer thread panicked")).collect();
        (per_writer, started.elapsed())
    });
    let mut latencies_us = Vec::new();
    for latencies in per_writer {
        latencies_us.extend(latencies?);
    }
    latencies_us.sort_unstable();
    let fsync_count = log.metrics().fsyncs - fsyncs_before;
    Ok(SyncRun { writer_count, append_count: latencies_us.len() as u64, fsync_count, elapsed, latencies_us })
}

fn append_until_stopped(log: &Log, stop: &AtomicBool, start: &Barrier, record: &[u8]) -> BenchResult<Vec<u32>> {
    let mut latencies_us = Vec::new();
    start.wait();
    while !stop.load(Ordering::Relaxed) {
        let append_started = Instant::now();
        log.append(&[NewRecord { kind: 1, flags: 0, payload: record }])?;
        latencies_us.push(micros(append_started.elapsed()));
    }
    Ok(latencies_us)
}

fn micros(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}

/// One line of the table: what, how much, compared with what, target, verdict.
type Row = [String; 5];

fn row(what: &str, result: String, ratio: String, target: &str, verdict: &str) -> Row {
    [what.to_owned(), result, ratio, target.to_owned(), verdict.to_owned()]
}

impl Report {
    /// (a) as one number: both runs' bytes over both runs' time.
    fn write_baseline(&self) -> Timed {
        Timed::sum(&self.write_baselines)
    }

    /// The (c) baseline as one number: both runs' appends over their time.
    fn fsync_baseline_per_s(&self) -> f64 {
        let [before, after] = &self.fsync_baselines;
        (before.append_count + after.append_count) as f64 / (before.elapsed + after.elapsed).as_secs_f64()
    }

    fn write_drift(&self) -> f64 {
        let [before, after] = self.write_baselines;
        drift(before.per_s(1e6), after.per_s(1e6))
    }

    fn fsync_drift(&self) -> f64 {
        let [before, after] = &self.fsync_baselines;
        drift(before.appends_per_s(), after.appends_per_s())
    }

    fn append_ratio(&self) -> f64 {
        self.append.payload.per_s(1e6) / self.write_baseline().per_s(1e6)
    }

    fn speedup(&self, run: &SyncRun) -> f64 {
        run.appends_per_s() / self.sync_runs[0].appends_per_s()
    }

    fn speedup_min(run: &SyncRun) -> f64 {
        run.writer_count as f64 * SPEEDUP_FRACTION_OF_LINEAR_MIN
    }

    fn warm_replay_gb_per_s(&self) -> f64 {
        self.replays[1].payload.per_s(1e9)
    }

    fn rows(&self) -> Vec<Row> {
        let a_mb_per_s = self.write_baseline().per_s(1e6);
        let [a_before, a_after] = self.write_baselines;
        let (b, [cold, warm]) = (&self.append, &self.replays);
        let mut rows = vec![
            row("measurement", "result".into(), "ratio / detail".into(), "target", "verdict"),
            row(
                "(a) baseline: write_all 1 MiB buffers, 1 fdatasync",
                format!("{a_mb_per_s:.0} MB/s"),
                format!("runs before/after (b): {:.0} / {:.0} MB/s", a_before.per_s(1e6), a_after.per_s(1e6)),
                "-",
                "",
            ),
            row(
                "(b) append 512 B x 1000/batch, Never, + sync: payload",
                format!("{:.0} MB/s", b.payload.per_s(1e6)),
                format!("{:.1}% of (a)", 100.0 * self.append_ratio()),
                ">= 70% of (a)",
                verdict(self.append_ratio() >= APPEND_TO_WRITE_RATIO_MIN),
            ),
            row(
                "    bytes on disk (frames + headers)",
                format!("{:.0} MB/s", b.disk().per_s(1e6)),
                format!("{:.1}% of (a)", 100.0 * b.disk().per_s(1e6) / a_mb_per_s),
                "-",
                "",
            ),
            row("    records", format!("{:.0} rec/s", b.records_per_s()), "-".into(), "-", ""),
        ];
        rows.extend(self.sync_rows());
        rows.push(row(
            "(d) replay, 1st scan (page cache, fresh maps): payload",
            format!("{:.2} GB/s", cold.payload.per_s(1e9)),
            format!("{:.2} GB/s on disk", cold.disk().per_s(1e9)),
            "-",
            "",
        ));
        rows.push(row(
            "(d) replay, 2nd scan (warm), crcs checked: payload",
            format!("{:.2} GB/s", self.warm_replay_gb_per_s()),
            format!("{:.2} GB/s on disk", warm.disk().per_s(1e9)),
            ">= 1 GB/s",
            verdict(self.warm_replay_gb_per_s() >= REPLAY_GB_PER_S_MIN),
        ));
        rows
    }

    fn sync_rows(&self) -> Vec<Row> {
        let baseline = self.fsync_baseline_per_s();
        let [before, after] = &self.fsync_baselines;
        let runs = format!("runs before/after: {:.0} / {:.0} /s", before.appends_per_s(), after.appends_per_s());
        let what = "(c) baseline: write 512 B + fdatasync, 1 thread";
        let mut rows = vec![row(what, format!("{baseline:.0} /s"), runs, "-", "")];
        for run in &self.sync_runs {
            let what = format!("(c) Always, {:>2} writer(s), 1 record/append", run.writer_count);
            let ratio = format!(
                "{:.2}x 1 writer, {:.2}x baseline, {:.2} appends/fdatasync",
                self.speedup(run),
                run.appends_per_s() / baseline,
                run.appends_per_fsync()
            );
            let (target, verdict) = if run.writer_count == 1 {
                ("-".to_owned(), "")
            } else {
                let min = Self::speedup_min(run);
                (format!(">= {min:.1}x 1 writer"), verdict(self.speedup(run) >= min))
            };
            rows.push(row(&what, format!("{:.0} appends/s", run.appends_per_s()), ratio, &target, verdict));
        }
        rows
    }

    fn print_table(&self) {
        let config = &self.config;
        println!(
            "recstore log_bench: volume {} MiB, (c) runs {:.1} s each, in {} (MB = 10^6 B, GB = 10^9 B)\n",
            config.volume_mib,
            config.duration.as_secs_f64(),
            self.dir.display()
        );
        print_table(&self.rows());
        for (name, drift) in [("(a)", self.write_drift()), ("(c)", self.fsync_drift())] {
            if drift > BASELINE_DRIFT_MAX {
                println!(
                    "WARNING: the {name} baseline changed {drift:.1}x between its two runs; its ratios are unreliable"
                );
            }
        }
        println!();
        self.print_details();
    }

    fn print_details(&self) {
        let b = &self.append;
        for (run_name, a) in ["before", "after"].iter().zip(self.write_baselines) {
            println!("(a) {run_name} (b): {} MiB in {:.3} s", a.bytes / MIB, a.elapsed.as_secs_f64());
        }
        println!(
            "(b) {} records, {} payload bytes, {} bytes on disk in {} segments, {:.3} s",
            b.record_count,
            b.payload.bytes,
            b.disk_bytes,
            self.segment_count,
            b.payload.elapsed.as_secs_f64()
        );
        println!("(c) run                 elapsed s  appends  fdatasyncs  appends/fdatasync  p50 us  p99 us  max us");
        let [before, after] = &self.fsync_baselines;
        let baselines = [("baseline, before", before), ("baseline, after", after)].map(|(n, r)| (n.to_owned(), r));
        let runs = self.sync_runs.iter().map(|r| (format!("Always, {:>2} writers", r.writer_count), r));
        for (name, run) in baselines.into_iter().chain(runs) {
            let (p50, p99, max) = (run.latency_us(0.5), run.latency_us(0.99), run.latency_us(1.0));
            println!(
                "    {name:<19} {:>9.3}  {:>7}  {:>10}  {:>17.2}  {p50:>6}  {p99:>6}  {max:>6}",
                run.elapsed.as_secs_f64(),
                run.append_count,
                run.fsync_count,
                run.appends_per_fsync()
            );
        }
        let [cold, warm] = &self.replays;
        let (cold_s, warm_s) = (cold.payload.elapsed.as_secs_f64(), warm.payload.elapsed.as_secs_f64());
        println!("(d) {} records per scan, 1st scan {cold_s:.3} s, 2nd scan {warm_s:.3} s", warm.record_count);
    }

    fn json(&self) -> serde_json::Value {
        let pass_json = |pass: &Pass| {
            serde_json::json!({
                "record_count": pass.record_count,
                "payload_bytes": pass.payload.bytes,
                "disk_bytes": pass.disk_bytes,
                "elapsed_s": pass.payload.elapsed.as_secs_f64(),
                "payload_mb_per_s": pass.payload.per_s(1e6),
                "disk_mb_per_s": pass.disk().per_s(1e6),
                "records_per_s": pass.records_per_s(),
            })
        };
        let timed_json = |timed: Timed| {
            serde_json::json!({ "bytes": timed.bytes, "elapsed_s": timed.elapsed.as_secs_f64(),
                "mb_per_s": timed.per_s(1e6) })
        };
        let runs: Vec<_> = self
            .sync_runs
            .iter()
            .map(|run| {
                let mut json = run.json();
                json["speedup_vs_1_writer"] = self.speedup(run).into();
                json["ratio_to_baseline"] = (run.appends_per_s() / self.fsync_baseline_per_s()).into();
                json["target_speedup_min"] = Self::speedup_min(run).into();
                json["pass"] = (run.writer_count == 1 || self.speedup(run) >= Self::speedup_min(run)).into();
                json
            })
            .collect();
        serde_json::json!({
            "config": { "volume_mib": self.config.volume_mib, "duration_s": self.config.duration.as_secs_f64(),
                "record_size_bytes": RECORD_SIZE_BYTES, "batch_record_count": BATCH_RECORD_COUNT },
            "a_baseline_write": { "combined": timed_json(self.write_baseline()),
                "before": timed_json(self.write_baselines[0]), "after": timed_json(self.write_baselines[1]),
                "drift": self.write_drift() },
            "b_append": { "segment_count": self.segment_count, "ratio_to_a": self.append_ratio(),
                "target_ratio_min": APPEND_TO_WRITE_RATIO_MIN,
                "pass": self.append_ratio() >= APPEND_TO_WRITE_RATIO_MIN, "result": pass_json(&self.append) },
            "c_sync_always": { "baseline_appends_per_s": self.fsync_baseline_per_s(),
                "baseline_before": self.fsync_baselines[0].json(), "baseline_after": self.fsync_baselines[1].json(),
                "baseline_drift": self.fsync_drift(), "runs": runs },
            "d_replay": { "cold": pass_json(&self.replays[0]), "warm": pass_json(&self.replays[1]),
                "target_gb_per_s_min": REPLAY_GB_PER_S_MIN,
                "pass": self.warm_replay_gb_per_s() >= REPLAY_GB_PER_S_MIN },
        })
    }
}
