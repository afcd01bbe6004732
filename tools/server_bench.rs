//! Benchmark of the HTTP server: a real `recstore serve` process, driven
//! over loopback, beside an in-process SQLite baseline at the same
//! durability.
//!
//! The server is the release binary (`target/release/recstore`, built by
//! `cargo build --release`; this benchmark builds nothing), run on a fresh
//! data directory with its defaults: a write is acknowledged after
//! fdatasync, and concurrent writes share one (group commit). The load comes
//! from this process through a tokio + reqwest client, so client and server
//! share the machine's cores. Every run is bounded in time and in request
//! count, and everything stays on 127.0.0.1. `tools/README.md` lists the
//! measurements, their baselines and where each target comes from.

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

use common::args::{Flags, config_or_exit};
use common::process::{self, SKIP_TO_UTIME, proc_cpu, process_cpu, sample_threads};
use common::report::{drift, load_average, print_table, quantile, verdict};
use common::sqlite;
use common::workload::{DATA_SIZE_BYTES, Item, Rng, STREAM_GET, Workload};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const CLIENT_COUNTS: [usize; 2] = [1, 32];
/// POST runs per client count, each bracketed by its own SQLite runs; the
/// median ratio is judged.
const TRIAL_COUNT: usize = 3;
/// A run also stops after this many requests, whatever its duration.
const RUN_REQUEST_COUNT_MAX: u64 = 1_000_000;
const QUERY_LIMIT: usize = 100;
const PRELOAD_BATCH_ITEM_COUNT: usize = 1_000;
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

// Targets. Issue 6 names the measurements but sets no numbers, so these are
// this benchmark's own; tools/README.md gives the reasoning for each.
/// POST, 1 client: at least SQLite's rate with 1 thread, in-process.
const POST_1_RATIO_MIN: f64 = 1.0;
/// POST, 32 clients: issue 3's ingest ratio, carried over to single items.
const POST_32_RATIO_MIN: f64 = 5.0;
/// GET by id, 32 clients: at least this fraction of the /healthz rate.
const GET_TO_HEALTHZ_MIN: f64 = 0.5;
/// Query of 100 items, 1 client: median latency.
const QUERY_P50_US_MAX: f64 = 2_000.0;
/// Follower: median from the append's acknowledgement to the delivered line.
const FOLLOW_P50_US_MAX: f64 = 1_000.0;
/// A baseline run before and after what it serves differs by more than
/// this factor: the disk changed speed meanwhile, so the ratios are suspect.
const BASELINE_DRIFT_MAX: f64 = 1.5;

const USAGE: &str = "usage: cargo build --release && cargo bench --bench server_bench -- [--quick] [--json] [options]
  --duration-s S     length of each load run, seconds (default 3; --quick: 1)
  --items N          items preloaded for GET and query (default 50000; --quick: 10000)
  --follow-count N   items posted one at a time for the follower latency (default 1000; --quick: 200)
  --binary PATH      the recstore binary (default: target/release/recstore)
  --quick            smoke run: the smaller defaults above
  --json             print one JSON object on stdout instead of the table";

struct Config {
    duration: Duration,
    preload_count: usize,
    follow_count: usize,
    binary: PathBuf,
    json: bool,
}

fn main() -> BenchResult<()> {
    let config = config_or_exit(parse_args(std::env::args().skip(1)), USAGE);
    process::check_binary_or_exit("server_bench", &config.binary);
    // The same file system as /work on the machines this runs on; TMPDIR moves it.
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(run(config, dir.path()))?;
    if report.config.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    drop(runtime);
    dir.close()?;
    Ok(())
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let (mut quick, mut json, mut duration_s, mut items, mut follow, mut binary) =
        (false, false, None, None, None, None);
    let mut flags = Flags::new(args, USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "--duration-s" => duration_s = Some(flags.value::<f64>(&flag, inline)?),
            "--items" => items = Some(flags.value::<usize>(&flag, inline)?),
            "--follow-count" => follow = Some(flags.value::<usize>(&flag, inline)?),
            "--binary" => binary = Some(flags.value::<PathBuf>(&flag, inline)?),
            // `cargo bench` passes this to every `harness = false` target.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            _ => return Err(flags.unknown(&flag)),
        }
    }
    let duration_s = duration_s.unwrap_or(if quick { 1.0 } else { 3.0 });
    let preload_count = items.unwrap_or(if quick { 10_000 } else { 50_000 });
    let follow_count = follow.unwrap_or(if quick { 200 } else { 1_000 });
    if !(duration_s > 0.0 && duration_s.is_finite()) || preload_count < 100 || follow_count == 0 {
        return Err(format!("--duration-s and --follow-count must be positive, --items at least 100\n{USAGE}"));
    }
    let binary = binary.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/recstore"));
    Ok(Some(Config { duration: Duration::from_secs_f64(duration_s), preload_count, follow_count, binary, json }))
}

fn progress(message: &str) {
    eprintln!("server_bench: {message}");
}

// ---------------------------------------------------------------- workload

/// Item `index` of the shared workload, renamed `{prefix}{index}` when the
/// prefix is not the preload's `item-`. Only preloaded items have parents,
/// so that POSTs never name an item that is not there.
fn named_item(workload: &Workload, prefix: &str, index: usize) -> Item {
    let mut item = workload.item(index);
    if prefix != "item-" {
        item.id = format!("{prefix}{index}");
        item.parents.clear();
    }
    item
}

// ---------------------------------------------------------------- the server process

/// The `recstore serve` child process; killed if dropped while running.
struct Server {
    child: Option<Child>,
    pid: u32,
    base: String,
    stderr_path: PathBuf,
}

impl Server {
    fn start(binary: &Path, data_dir: &Path, stderr_path: &Path) -> BenchResult<Self> {
        let mut child = Command::new(binary)
            .arg("--data")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_path)?)
            .spawn()?;
        let pid = child.id();
        let stdout = child.stdout.take().ok_or("the server has no stdout")?;
        let (sender, receiver) = std::sync::mpsc::channel();
        // Reads the first line, then drains the rest so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = sender.send(reader.read_line(&mut line).map(|_| line));
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let mut server = Self { child: Some(child), pid, base: String::new(), stderr_path: stderr_path.to_path_buf() };
        let line = match receiver.recv_timeout(SERVER_START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => return Err(server.failed(&format!("reading its stdout: {error}"))),
            Err(_) => return Err(server.failed("no `recstore listening on` line within 60 s")),
        };
        let Some(base) = line.trim().strip_prefix("recstore listening on ") else {
            return Err(server.failed(&format!("unexpected first line {line:?}")));
        };
        if !base.starts_with("http://127.0.0.1:") {
            return Err(server.failed(&format!("listening on {base}, not on loopback")));
        }
        server.base = base.to_owned();
        Ok(server)
    }

    /// An error naming what went wrong, with the end of the server's stderr.
    fn failed(&mut self, what: &str) -> Box<dyn Error + Send + Sync> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail: String =
            stderr.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        format!("recstore serve (pid {}): {what}\nits stderr ends with:\n{tail}", self.pid).into()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// User plus system time of the whole server process.
    fn cpu(&self) -> Duration {
        proc_cpu(Path::new(&format!("/proc/{}/stat", self.pid)), SKIP_TO_UTIME)
    }

    /// SIGTERM (through `kill`, as an operator would), then waits for the
    /// exit. Returns the status and how long the shutdown took.
    async fn terminate(&mut self) -> BenchResult<(ExitStatus, Duration)> {
        let mut child = self.child.take().ok_or("the server was already stopped")?;
        let started = Instant::now();
        let kill = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status()?;
        if !kill.success() {
            return Err(format!("kill -TERM {} failed: {kill}", self.pid).into());
        }
        while started.elapsed() < SHUTDOWN_TIMEOUT {
            if let Some(status) = child.try_wait()? {
                return Ok((status, started.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("the server did not exit within {} s of SIGTERM; killed it", SHUTDOWN_TIMEOUT.as_secs()).into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The fdatasync counters of the server's `/metrics`.
#[derive(Clone, Copy, Default)]
struct FsyncCounters {
    count: u64,
    sum_s: f64,
    records: u64,
}

async fn fsync_counters(client: &reqwest::Client, server: &Server) -> BenchResult<FsyncCounters> {
    let text = client.get(server.url("/metrics")).send().await?.error_for_status()?.text().await?;
    let value = |name: &str| -> BenchResult<f64> {
        let line = text.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '));
        let raw = line.and_then(|l| l.split_whitespace().nth(1)).ok_or_else(|| format!("/metrics has no {name}"))?;
        Ok(raw.parse()?)
    };
    Ok(FsyncCounters {
        count: value("recstore_fsync_duration_seconds_count")? as u64,
        sum_s: value("recstore_fsync_duration_seconds_sum")?,
        records: value("recstore_log_records_total")? as u64,
    })
}

// ---------------------------------------------------------------- load runs

/// One fixed-duration run with some number of concurrent clients.
struct Run {
    what: String,
    client_count: usize,
    request_count: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    server_cpu: Duration,
    /// CPU of this whole process: the HTTP client, or SQLite's work.
    bench_cpu: Duration,
    /// fdatasyncs during the run (POSTs only) and log records appended.
    fsyncs: Option<(FsyncCounters, FsyncCounters)>,
}

impl Run {
    fn per_s(&self) -> f64 {
        self.request_count as f64 / self.elapsed.as_secs_f64()
    }

    fn latency_us(&self, at: f64) -> u32 {
        quantile(&self.latencies_us, at).unwrap_or(0)
    }

    fn cpu_us_per_request(cpu: Duration, count: u64) -> f64 {
        cpu.as_secs_f64() * 1e6 / count.max(1) as f64
    }

    fn fsync_delta(&self) -> Option<(u64, f64, u64)> {
        self.fsyncs.map(|(a, b)| (b.count - a.count, b.sum_s - a.sum_s, b.records - a.records))
    }

    fn json(&self) -> Value {
        let mut value = json!({
            "what": self.what, "client_count": self.client_count, "request_count": self.request_count,
            "elapsed_s": self.elapsed.as_secs_f64(), "per_s": self.per_s(),
            "latency_p50_us": self.latency_us(0.5), "latency_p99_us": self.latency_us(0.99),
            "latency_max_us": self.latency_us(1.0),
            "server_cpu_us_per_request": Self::cpu_us_per_request(self.server_cpu, self.request_count),
            "bench_cpu_us_per_request": Self::cpu_us_per_request(self.bench_cpu, self.request_count),
        });
        if let Some((count, sum_s, records)) = self.fsync_delta() {
            value["fdatasyncs"] = count.into();
            value["fdatasync_s"] = sum_s.into();
            value["records_per_fdatasync"] = (records as f64 / count.max(1) as f64).into();
        }
        value
    }
}

/// Builds the request with this index; the index makes ids unique.
type Build = Arc<dyn Fn(u64) -> reqwest::RequestBuilder + Send + Sync>;

/// `client_count` tasks send requests built by `build`, each waiting for the
/// whole response before the next, until `duration` is up.
async fn drive(server: &Server, what: &str, client_count: usize, duration: Duration, build: Build) -> BenchResult<Run> {
    let next = Arc::new(AtomicU64::new(0));
    let (cpu_before, bench_before) = (server.cpu(), process_cpu());
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..client_count)
        .map(|_| {
            let (next, build) = (Arc::clone(&next), Arc::clone(&build));
            tokio::spawn(async move { client_loop(&next, deadline, &*build).await })
        })
        .collect();
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Run {
        what: what.to_owned(),
        client_count,
        request_count: latencies_us.len() as u64,
        elapsed,
        latencies_us,
        server_cpu: server.cpu().saturating_sub(cpu_before),
        bench_cpu: process_cpu().saturating_sub(bench_before),
        fsyncs: None,
    })
}

async fn client_loop(
    next: &AtomicU64,
    deadline: Instant,
    build: &(dyn Fn(u64) -> reqwest::RequestBuilder + Send + Sync),
) -> BenchResult<Vec<u32>> {
    let mut latencies_us = Vec::new();
    while Instant::now() < deadline {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= RUN_REQUEST_COUNT_MAX {
            break;
        }
        let request = build(index);
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        latencies_us.push(micros(started.elapsed()));
        if !status.is_success() {
            let excerpt = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(format!("request {index}: status {status}: {excerpt}").into());
        }
    }
    Ok(latencies_us)
}

fn micros(elapsed: Duration) -> u32 {
    u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)
}

/// Signed microseconds from `from` to `to` (negative when `to` came first).
fn signed_micros(from: Instant, to: Instant) -> i64 {
    match to.checked_duration_since(from) {
        Some(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        None => -i64::try_from(from.duration_since(to).as_micros()).unwrap_or(i64::MAX),
    }
}

// ---------------------------------------------------------------- SQLite baseline

/// One transaction for one item: what a single-item POST does, in SQL.
fn sqlite_put(conn: &mut Connection, item: &Item) -> BenchResult<()> {
    let data = serde_json::to_vec(&item.data)?;
    let meta = serde_json::to_string(&item.metadata_json())?;
    let tx = conn.transaction()?;
    {
        let mut latest = tx.prepare_cached("SELECT max(version) FROM items WHERE id = ?1")?;
        let version = latest.query_row([&item.id], |row| row.get::<_, Option<i64>>(0))?.map_or(1, |v| v + 1);
        let mut insert = tx.prepare_cached(
            "INSERT INTO items (id, version, ts, type, source, data, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        insert.execute(params![item.id, version, sqlite::now_us(), item.item_type, item.source_id, data, meta])?;
        let mut insert_tag = tx.prepare_cached("INSERT INTO item_tags (id, version, tag) VALUES (?1, ?2, ?3)")?;
        for tag in &item.tags {
            insert_tag.execute(params![item.id, version, tag])?;
        }
        let mut insert_parent = tx.prepare_cached("INSERT INTO parents (id, version, parent) VALUES (?1, ?2, ?3)")?;
        for parent in &item.parents {
            insert_parent.execute(params![item.id, version, parent])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// `thread_count` threads put one item per transaction into a fresh
/// database until `duration` is up. They share one connection behind a
/// mutex: SQLite has one writer at a time anyway, and separate connections
/// would wait in its busy handler's sleeps instead.
fn sqlite_run(path: &Path, thread_count: usize, duration: Duration, workload: &Workload) -> BenchResult<Run> {
    let conn = Mutex::new(sqlite::open(path)?);
    let next = AtomicU64::new(0);
    let bench_before = process_cpu();
    let started = Instant::now();
    let deadline = started + duration;
    let per_thread: Vec<BenchResult<Vec<u32>>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..thread_count)
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies_us = Vec::new();
                    while Instant::now() < deadline {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= RUN_REQUEST_COUNT_MAX {
                            break;
                        }
                        let item = named_item(workload, "sqlite-", index as usize);
                        let put_started = Instant::now();
                        let mut conn = conn.lock().map_err(|_| "a SQLite thread panicked")?;
                        sqlite_put(&mut conn, &item)?;
                        drop(conn);
                        latencies_us.push(micros(put_started.elapsed()));
                    }
                    Ok(latencies_us)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("a SQLite thread panicked".into()))).collect()
    });
    let elapsed = started.elapsed();
    let mut latencies_us = Vec::new();
    for latencies in per_thread {
        latencies_us.extend(latencies?);
    }
    latencies_us.sort_unstable();
    Ok(Run {
        what: format!("SQLite in-process, {thread_count} thread(s)"),
        client_count: thread_count,
        request_count: latencies_us.len() as u64,
        elapsed,
        latencies_us,
        server_cpu: Duration::ZERO,
        bench_cpu: process_cpu().saturating_sub(bench_before),
        fsyncs: None,
    })
}

/// Runs with one client count, each bracketed by SQLite runs with as many
/// threads, just before and just after it.
struct Trial {
    before: Run,
    post: Run,
    after: Run,
}

impl Trial {
    /// The two SQLite runs as one: their items over their time.
    fn baseline_per_s(&self) -> f64 {
        let (before, after) = (&self.before, &self.after);
        (before.request_count + after.request_count) as f64 / (before.elapsed + after.elapsed).as_secs_f64()
    }

    fn ratio(&self) -> f64 {
        self.post.per_s() / self.baseline_per_s()
    }

    fn drift(&self) -> f64 {
        drift(self.before.per_s(), self.after.per_s())
    }

    fn json(&self) -> Value {
        json!({ "sqlite_before": self.before.json(), "post": self.post.json(), "sqlite_after": self.after.json(),
            "baseline_per_s": self.baseline_per_s(), "ratio": self.ratio(), "baseline_drift": self.drift() })
    }
}

/// Several runs as one: their requests over their time, and all their latencies.
fn pooled<'a>(what: &str, runs: impl IntoIterator<Item = &'a Run>) -> Run {
    let mut all = Run {
        what: what.to_owned(),
        client_count: 0,
        request_count: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        server_cpu: Duration::ZERO,
        bench_cpu: Duration::ZERO,
        fsyncs: None,
    };
    for run in runs {
        all.client_count = run.client_count;
        all.request_count += run.request_count;
        all.elapsed += run.elapsed;
        all.latencies_us.extend_from_slice(&run.latencies_us);
        all.server_cpu += run.server_cpu;
        all.bench_cpu += run.bench_cpu;
    }
    all.latencies_us.sort_unstable();
    all
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------- the phases

/// Everything one run measured.
struct Report {
    config: Config,
    dir: PathBuf,
    load_avg: (String, String),
    preload_s: f64,
    search_catch_up_s: [f64; 2],
    query: (String, Vec<String>, usize),
    healthz: Vec<Run>,
    /// The POST trials, one list per entry of CLIENT_COUNTS.
    trials: Vec<Vec<Trial>>,
    gets: Vec<Run>,
    queries: Vec<Run>,
    follow: Follow,
    server_threads: BTreeMap<String, Duration>,
    shutdown: (ExitStatus, Duration, bool),
}

async fn run(config: Config, dir: &Path) -> BenchResult<Report> {
    let load_start = load_average();
    let workload = Arc::new(Workload::new(config.preload_count));
    progress(&format!("starting {} serve on a fresh data directory in {}", config.binary.display(), dir.display()));
    let mut server = Server::start(&config.binary, &dir.join("recstore"), &dir.join("server.stderr"))?;
    let sampling_done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (pid, done) = (server.pid, Arc::clone(&sampling_done));
        std::thread::spawn(move || sample_threads(pid, &done, Duration::from_millis(50)))
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()?;
    progress(&format!("preloading {} items in batches of {PRELOAD_BATCH_ITEM_COUNT}", config.preload_count));
    let preload_s = preload(&client, &server, &workload, config.preload_count).await?;
    let catch_up_1 = search_catch_up(&client, &server).await?;
    let query = pick_query(&client, &server).await?;
    check_reads(&client, &server, &workload, &query).await?;

    let healthz = runs(&server, &config, "GET /healthz", |_| -> Build {
        let (client, url) = (client.clone(), server.url("/healthz"));
        Arc::new(move |_| client.get(&url))
    })
    .await?;
    let trials = post_trials(&client, &server, &config, &workload, dir).await?;
    // The search follower indexes what the POSTs wrote; let it finish first.
    let catch_up_2 = search_catch_up(&client, &server).await?;
    let preload_count = config.preload_count as u64;
    let gets = runs(&server, &config, "GET /v1/items/{id}", |_| -> Build {
        let (client, base) = (client.clone(), server.url("/v1/items/"));
        Arc::new(move |index| {
            let id = Workload::id(Rng::new(STREAM_GET, index).below(preload_count) as usize);
            client.get(format!("{base}{id}"))
        })
    })
    .await?;
    let queries = runs(&server, &config, "GET /v1/query type+tag limit=100", |_| -> Build {
        let (client, base, types, tag) = (client.clone(), server.url("/v1/query"), query.1.clone(), query.0.clone());
        Arc::new(move |index| {
            let item_type = &types[index as usize % types.len()];
            client.get(format!("{base}?type={item_type}&tag={tag}&limit={QUERY_LIMIT}"))
        })
    })
    .await?;
    progress(&format!("follower: {} items posted one at a time", config.follow_count));
    let (follow, reader) = follow_latency(&client, &server, &workload, config.follow_count).await?;
    sampling_done.store(true, Ordering::Relaxed);
    let mut server_threads = sampler.join().map_err(|_| "the thread sampler panicked")?;
    let sampled: Duration = server_threads.values().sum();
    server_threads.insert("(not sampled)".into(), server.cpu().saturating_sub(sampled));
    progress("SIGTERM, with the follow stream still open");
    let (status, shutdown_elapsed) = server.terminate().await?;
    let stream_ended = tokio::time::timeout(Duration::from_secs(5), reader).await.is_ok();
    Ok(Report {
        config,
        dir: dir.to_path_buf(),
        load_avg: (load_start, load_average()),
        preload_s,
        search_catch_up_s: [catch_up_1, catch_up_2],
        query,
        healthz,
        trials,
        gets,
        queries,
        follow,
        server_threads,
        shutdown: (status, shutdown_elapsed, stream_ended),
    })
}

/// One run per client count, with requests from `make(client_count)`.
async fn runs(server: &Server, config: &Config, what: &str, make: impl Fn(usize) -> Build) -> BenchResult<Vec<Run>> {
    let mut runs = Vec::new();
    for client_count in CLIENT_COUNTS {
        progress(&format!("{what}, {client_count} client(s)"));
        runs.push(drive(server, what, client_count, config.duration, make(client_count)).await?);
    }
    Ok(runs)
}

/// For each client count, TRIAL_COUNT trials: SQLite with as many threads,
/// then the POSTs, then SQLite again, so that each POST run has a baseline
/// measured just before and just after it.
async fn post_trials(
    client: &reqwest::Client,
    server: &Server,
    config: &Config,
    workload: &Arc<Workload>,
    dir: &Path,
) -> BenchResult<Vec<Vec<Trial>>> {
    let mut all = Vec::new();
    for client_count in CLIENT_COUNTS {
        let mut trials = Vec::new();
        for trial_index in 0..TRIAL_COUNT {
            let trial = format!("trial {}/{TRIAL_COUNT}", trial_index + 1);
            let sqlite = |when: &str| -> BenchResult<Run> {
                progress(&format!("{trial}: SQLite {when}, {client_count} thread(s), 1 transaction per item"));
                let path = dir.join(format!("sqlite-{client_count}-{trial_index}-{when}.db"));
                sqlite_run(&path, client_count, config.duration, workload)
            };
            let before = sqlite("before")?;
            progress(&format!("{trial}: POST /v1/items single item, {client_count} client(s)"));
            let post = post_run(client, server, config, workload, client_count, trial_index).await?;
            let after = sqlite("after")?;
            trials.push(Trial { before, post, after });
        }
        all.push(trials);
    }
    Ok(all)
}

/// Single-item POSTs of new ids, with the server's fdatasync counters around the run.
async fn post_run(
    client: &reqwest::Client,
    server: &Server,
    config: &Config,
    workload: &Arc<Workload>,
    client_count: usize,
    trial_index: usize,
) -> BenchResult<Run> {
    let (client_for_run, url, workload) = (client.clone(), server.url("/v1/items"), Arc::clone(workload));
    let prefix = format!("post{client_count}-{trial_index}-");
    let build: Build = Arc::new(move |index| {
        let body = serde_json::to_vec(&named_item(&workload, &prefix, index as usize).body_json()).unwrap_or_default();
        client_for_run.post(&url).header("content-type", "application/json").body(body)
    });
    let before = fsync_counters(client, server).await?;
    let mut run = drive(server, "POST /v1/items", client_count, config.duration, build).await?;
    run.fsyncs = Some((before, fsync_counters(client, server).await?));
    Ok(run)
}

/// POSTs the preload as atomic batches; returns the time it took.
async fn preload(client: &reqwest::Client, server: &Server, workload: &Workload, count: usize) -> BenchResult<f64> {
    let started = Instant::now();
    for start in (0..count).step_by(PRELOAD_BATCH_ITEM_COUNT) {
        let end = count.min(start + PRELOAD_BATCH_ITEM_COUNT);
        let bodies: Vec<Value> = (start..end).map(|i| workload.item(i).body_json()).collect();
        let response = client.post(server.url("/v1/items")).json(&bodies).send().await?;
        let status = response.status();
        let refs: Value = response.json().await?;
        let stored = refs.as_array().map_or(0, Vec::len);
        if !status.is_success() || stored != end - start {
            return Err(format!("preload batch at {start}: status {status}, {stored} refs: {refs}").into());
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A search waits until the search index covers the log, so this returns
/// once the server's background indexing is done (its time is returned).
async fn search_catch_up(client: &reqwest::Client, server: &Server) -> BenchResult<f64> {
    let started = Instant::now();
    client.get(server.url("/v1/search?q=type:type-0&limit=1")).send().await?.error_for_status()?.bytes().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// The tag whose live count is closest to 10% of the items, so that a
/// type+tag query (types are uniform over ten) selects about 1%; and the
/// types. Returns (tag, types, live items).
async fn pick_query(client: &reqwest::Client, server: &Server) -> BenchResult<(String, Vec<String>, usize)> {
    let stats: Value = client.get(server.url("/v1/stats")).send().await?.error_for_status()?.json().await?;
    let live = stats["items_live"].as_u64().ok_or("stats has no items_live")? as f64;
    let by_tag = stats["by_tag"].as_object().ok_or("stats has no by_tag")?;
    let tag = by_tag
        .iter()
        .min_by(|a, b| {
            let distance = |v: &Value| (v.as_f64().unwrap_or(0.0) - live * 0.1).abs();
            distance(a.1).total_cmp(&distance(b.1))
        })
        .map(|(tag, _)| tag.clone())
        .ok_or("the store has no tags")?;
    let types: Vec<String> = stats["by_type"].as_object().ok_or("stats has no by_type")?.keys().cloned().collect();
    Ok((tag, types, live as usize))
}

/// Before trusting the read runs: a GET returns the item's data, and a
/// query returns a full page of items that carry the type and the tag.
async fn check_reads(
    client: &reqwest::Client,
    server: &Server,
    workload: &Workload,
    query: &(String, Vec<String>, usize),
) -> BenchResult<()> {
    let got: Value = client.get(server.url("/v1/items/item-00000042")).send().await?.error_for_status()?.json().await?;
    if got != workload.item(42).data {
        return Err(format!("GET /v1/items/item-00000042 returned other data: {got}").into());
    }
    let (tag, types, _) = query;
    let url = server.url(&format!("/v1/query?type={}&tag={tag}&limit={QUERY_LIMIT}", types[0]));
    let hits: Vec<Value> = client.get(url).send().await?.error_for_status()?.json().await?;
    let matches =
        |hit: &Value| hit["type"] == types[0] && hit["tags"].as_array().is_some_and(|t| t.contains(&json!(tag)));
    if hits.is_empty() || !hits.iter().all(matches) {
        return Err(
            format!("the query for {} and {tag} returned {} hits, not all matching", types[0], hits.len()).into()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- follower latency

/// Per item posted one at a time: from its POST's acknowledgement to the
/// line that delivered it on the follow stream (signed: the line may come
/// first), and from the send.
struct Follow {
    ack_to_line_us: Vec<i64>,
    send_to_line_us: Vec<i64>,
    post_us: Vec<i64>,
}

impl Follow {
    fn quantile(sorted: &[i64], at: f64) -> i64 {
        quantile(sorted, at).unwrap_or(0)
    }

    fn line_first_fraction(&self) -> f64 {
        self.ack_to_line_us.iter().filter(|&&us| us < 0).count() as f64 / self.ack_to_line_us.len().max(1) as f64
    }

    fn json(&self) -> Value {
        let summary = |sorted: &[i64]| {
            json!({ "p50_us": Self::quantile(sorted, 0.5), "p99_us": Self::quantile(sorted, 0.99),
                "max_us": Self::quantile(sorted, 1.0) })
        };
        json!({ "item_count": self.ack_to_line_us.len(), "ack_to_line": summary(&self.ack_to_line_us),
            "send_to_line": summary(&self.send_to_line_us), "post_round_trip": summary(&self.post_us),
            "line_before_ack_fraction": self.line_first_fraction(), "target_p50_us_max": FOLLOW_P50_US_MAX })
    }
}

/// Opens `GET /v1/log?from=<next>&follow=true`, then posts `count` items one
/// at a time, waiting for each one's line before the next. Returns the
/// latencies and the task still reading the stream (it ends when the
/// server ends the stream).
async fn follow_latency(
    client: &reqwest::Client,
    server: &Server,
    workload: &Workload,
    count: usize,
) -> BenchResult<(Follow, tokio::task::JoinHandle<BenchResult<()>>)> {
    let stats: Value = client.get(server.url("/v1/stats")).send().await?.error_for_status()?.json().await?;
    let from = stats["next_offset"].as_u64().ok_or("stats has no next_offset")?;
    // No overall timeout: the stream stays open until the server ends it.
    let streaming = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build()?;
    let response = streaming.get(server.url(&format!("/v1/log?from={from}&follow=true"))).send().await?;
    let response = response.error_for_status()?;
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let reader = tokio::spawn(read_lines(response, sender));
    let mut follow = Follow { ack_to_line_us: Vec::new(), send_to_line_us: Vec::new(), post_us: Vec::new() };
    for index in 0..count {
        let body = serde_json::to_vec(&named_item(workload, "follow-", index).body_json())?;
        let sent = Instant::now();
        let response = client.post(server.url("/v1/items")).header("content-type", "application/json").body(body);
        let response = response.send().await?.error_for_status()?;
        let acked = Instant::now();
        let stored: Value = response.json().await?;
        let offset = stored["offset"].as_u64().ok_or_else(|| format!("POST returned no offset: {stored}"))?;
        let delivered = loop {
            let next = tokio::time::timeout(DELIVERY_TIMEOUT, lines.recv()).await;
            let (line_offset, at) = next.ok().flatten().ok_or_else(|| format!("offset {offset} was not delivered"))?;
            if line_offset == offset {
                break at;
            }
            if line_offset > offset {
                return Err(format!("the stream skipped offset {offset}: it delivered {line_offset}").into());
            }
        };
        follow.ack_to_line_us.push(signed_micros(acked, delivered));
        follow.send_to_line_us.push(signed_micros(sent, delivered));
        follow.post_us.push(signed_micros(sent, acked));
    }
    for latencies in [&mut follow.ack_to_line_us, &mut follow.send_to_line_us, &mut follow.post_us] {
        latencies.sort_unstable();
    }
    Ok((follow, reader))
}

/// Sends each NDJSON line's offset with the time its last byte arrived.
async fn read_lines(
    response: reqwest::Response,
    sender: tokio::sync::mpsc::UnboundedSender<(u64, Instant)>,
) -> BenchResult<()> {
    let mut chunks = response.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let arrived = Instant::now();
        pending.extend_from_slice(&chunk?);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let event: Value = serde_json::from_slice(&line)?;
            let offset = event["offset"].as_u64().ok_or_else(|| format!("a line without offset: {event}"))?;
            // The receiver is gone once the measurement is over; keep reading to the end.
            let _ = sender.send((offset, arrived));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- report

/// One line of the table.
type Row = [String; 6];

fn row(what: &str, rate: String, latency: String, detail: String, target: &str, verdict: &str) -> Row {
    [what.to_owned(), rate, latency, detail, target.to_owned(), verdict.to_owned()]
}

fn latency_cell(run: &Run) -> String {
    format!("{} / {} us", run.latency_us(0.5), run.latency_us(0.99))
}

impl Report {
    /// The ratio judged for `index` into CLIENT_COUNTS: the median of its trials'.
    fn post_ratio(&self, index: usize) -> f64 {
        median(self.trials[index].iter().map(Trial::ratio).collect())
    }

    /// The trial whose ratio is the median one.
    fn median_trial(&self, index: usize) -> Option<&Trial> {
        let ratio = self.post_ratio(index);
        self.trials[index].iter().find(|t| t.ratio() == ratio)
    }

    fn sqlite_pooled(&self, index: usize) -> Run {
        let runs = self.trials[index].iter().flat_map(|t| [&t.before, &t.after]);
        pooled("SQLite", runs)
    }

    fn post_pooled(&self, index: usize) -> Run {
        pooled("POST", self.trials[index].iter().map(|t| &t.post))
    }

    fn checks(&self) -> [(&'static str, bool); 6] {
        let (status, _, _) = self.shutdown;
        [
            ("post_1_client", self.post_ratio(0) >= POST_1_RATIO_MIN),
            ("post_32_clients", self.post_ratio(1) >= POST_32_RATIO_MIN),
            ("get_32_clients", self.gets[1].per_s() / self.healthz[1].per_s() >= GET_TO_HEALTHZ_MIN),
            ("query_1_client_p50", f64::from(self.queries[0].latency_us(0.5)) < QUERY_P50_US_MAX),
            ("follow_p50", (Follow::quantile(&self.follow.ack_to_line_us, 0.5) as f64) < FOLLOW_P50_US_MAX),
            ("sigterm_exit_0", status.code() == Some(0)),
        ]
    }

    fn rows(&self) -> Vec<Row> {
        let [post_1, post_32, get_32, query_p50, follow_p50, exit_0] = self.checks().map(|(_, pass)| pass);
        let mut rows =
            vec![row("measurement", "rate".into(), "p50 / p99".into(), "ratio / detail".into(), "target", "verdict")];
        for run in &self.healthz {
            let what = format!("null baseline: GET /healthz, {:>2} client(s)", run.client_count);
            rows.push(row(&what, format!("{:.0} req/s", run.per_s()), latency_cell(run), "-".into(), "-", ""));
        }
        for (index, client_count) in CLIENT_COUNTS.into_iter().enumerate() {
            let sqlite = self.sqlite_pooled(index);
            let rates: Vec<f64> = self.trials[index].iter().flat_map(|t| [t.before.per_s(), t.after.per_s()]).collect();
            let (low, high) = rates.iter().fold((f64::MAX, 0.0f64), |(l, h), &r| (l.min(r), h.max(r)));
            let what = format!("baseline: SQLite in-process, {client_count:>2} thread(s), 1 txn/item");
            let detail = format!("{} runs, {low:.0} to {high:.0} /s", rates.len());
            rows.push(row(&what, format!("{:.0} items/s", sqlite.per_s()), latency_cell(&sqlite), detail, "-", ""));
        }
        for (index, (pass, min)) in [(post_1, POST_1_RATIO_MIN), (post_32, POST_32_RATIO_MIN)].into_iter().enumerate() {
            let run = self.post_pooled(index);
            let what = format!("POST /v1/items 1 item, {:>2} client(s)", run.client_count);
            let ratios: Vec<String> = self.trials[index].iter().map(|t| format!("{:.2}", t.ratio())).collect();
            let detail = format!("median {:.2}x SQLite (trials {})", self.post_ratio(index), ratios.join(", "));
            let target = format!(">= {min:.0}x SQLite");
            rows.push(row(
                &what,
                format!("{:.0} req/s", run.per_s()),
                latency_cell(&run),
                detail,
                &target,
                verdict(pass),
            ));
        }
        for (index, run) in self.gets.iter().enumerate() {
            let what = format!("GET /v1/items/{{id}}, {:>2} client(s)", run.client_count);
            let ratio = run.per_s() / self.healthz[index].per_s();
            let (target, pass) = if index == 1 {
                (format!(">= {GET_TO_HEALTHZ_MIN}x /healthz"), verdict(get_32))
            } else {
                ("-".into(), "")
            };
            let detail = format!("{ratio:.2}x /healthz");
            rows.push(row(&what, format!("{:.0} req/s", run.per_s()), latency_cell(run), detail, &target, pass));
        }
        for (index, run) in self.queries.iter().enumerate() {
            let what = format!("GET /v1/query type+tag limit=100, {:>2} client(s)", run.client_count);
            let detail = format!("{:.2}x /healthz", run.per_s() / self.healthz[index].per_s());
            let (target, pass) = if index == 0 { ("p50 < 2 ms", verdict(query_p50)) } else { ("-", "") };
            rows.push(row(&what, format!("{:.0} req/s", run.per_s()), latency_cell(run), detail, target, pass));
        }
        let f = &self.follow;
        let (p50, p99) = (Follow::quantile(&f.ack_to_line_us, 0.5), Follow::quantile(&f.ack_to_line_us, 0.99));
        let detail = format!(
            "send -> line {} / {} us; line before ack {:.0}%",
            Follow::quantile(&f.send_to_line_us, 0.5),
            Follow::quantile(&f.send_to_line_us, 0.99),
            100.0 * f.line_first_fraction()
        );
        rows.push(row(
            "follow: POST ack -> line delivered",
            "-".into(),
            format!("{p50} / {p99} us"),
            detail,
            "p50 < 1 ms",
            verdict(follow_p50),
        ));
        let (status, elapsed, stream_ended) = self.shutdown;
        let detail = format!(
            "in {:.0} ms; follow stream ended: {}",
            elapsed.as_secs_f64() * 1e3,
            if stream_ended { "yes" } else { "NO" }
        );
        rows.push(row("SIGTERM -> exit status", format!("{status}"), "-".into(), detail, "exit 0", verdict(exit_0)));
        rows
    }

    fn print(&self) {
        let config = &self.config;
        println!(
            "recstore server_bench: {}, {} preloaded items of ~{DATA_SIZE_BYTES} B JSON, runs of {:.1} s, in {}",
            config.binary.display(),
            config.preload_count,
            config.duration.as_secs_f64(),
            self.dir.display()
        );
        println!(
            "load average (1/5/15 min): {} at start, {} at end (2 cores, shared by client and server)\n",
            self.load_avg.0, self.load_avg.1
        );
        print_table(&self.rows());
        for (index, client_count) in CLIENT_COUNTS.into_iter().enumerate() {
            let drift = self.median_trial(index).map_or(0.0, Trial::drift);
            if drift > BASELINE_DRIFT_MAX {
                println!(
                    "WARNING: in the median {client_count}-client trial, the SQLite baseline changed {drift:.1}x \
                     between the runs around the POSTs; that ratio is unreliable"
                );
            }
        }
        println!();
        self.print_details();
    }

    fn print_details(&self) {
        println!(
            "preload: {} items in {:.2} s; search index catch-up waits {:.2} s (after preload), {:.2} s (after POSTs)",
            self.config.preload_count, self.preload_s, self.search_catch_up_s[0], self.search_catch_up_s[1]
        );
        let (tag, types, live) = &self.query;
        println!("query: tag {tag:?} with each of {} types in turn, over {live} live items", types.len());
        println!(
            "run                                        clients  requests  elapsed s  server CPU us/req  bench CPU us/req  cores busy  max us"
        );
        let trials = self.trials.iter().flat_map(|trials| {
            trials.iter().enumerate().flat_map(|(index, trial)| {
                let runs =
                    [("SQLite before", &trial.before), ("POST /v1/items", &trial.post), ("SQLite after", &trial.after)];
                runs.map(|(what, run)| (format!("trial {}: {what}", index + 1), run))
            })
        });
        let reads = self.healthz.iter().chain(&self.gets).chain(&self.queries).map(|r| (r.what.clone(), r));
        for (what, run) in reads.chain(trials) {
            let busy = (run.server_cpu + run.bench_cpu).as_secs_f64() / run.elapsed.as_secs_f64();
            println!(
                "{what:<44} {:>6}  {:>8}  {:>9.3}  {:>17.1}  {:>16.1}  {busy:>10.2}  {:>6}",
                run.client_count,
                run.request_count,
                run.elapsed.as_secs_f64(),
                Run::cpu_us_per_request(run.server_cpu, run.request_count),
                Run::cpu_us_per_request(run.bench_cpu, run.request_count),
                run.latency_us(1.0)
            );
        }
        for trials in &self.trials {
            let (mut count, mut sum_s, mut records) = (0, 0.0, 0);
            for (fsyncs, fsync_s, appended) in trials.iter().filter_map(|t| t.post.fsync_delta()) {
                (count, sum_s, records) = (count + fsyncs, sum_s + fsync_s, records + appended);
            }
            let client_count = trials.first().map_or(0, |t| t.post.client_count);
            let drifts: Vec<String> = trials.iter().map(|t| format!("{:.1}x", t.drift())).collect();
            println!(
                "POST, {client_count:>2} client(s): {count} fdatasyncs ({:.2} ms mean), {:.2} records per fdatasync; \
                 SQLite before/after drift per trial: {}",
                sum_s * 1e3 / count.max(1) as f64,
                records as f64 / count.max(1) as f64,
                drifts.join(", ")
            );
        }
        let f = &self.follow;
        println!(
            "follow: {} items; POST round trip {} / {} us (p50 / p99); ack -> line max {} us",
            f.ack_to_line_us.len(),
            Follow::quantile(&f.post_us, 0.5),
            Follow::quantile(&f.post_us, 0.99),
            Follow::quantile(&f.ack_to_line_us, 1.0)
        );
        let threads: Vec<String> =
            self.server_threads.iter().map(|(name, cpu)| format!("{name} {:.2} s", cpu.as_secs_f64())).collect();
        println!("server CPU by thread name over the whole run (sampled every 50 ms): {}", threads.join(", "));
    }

    fn json(&self) -> Value {
        let runs = |runs: &[Run]| runs.iter().map(Run::json).collect::<Vec<_>>();
        let checks: serde_json::Map<String, Value> =
            self.checks().iter().map(|(name, pass)| ((*name).to_owned(), Value::Bool(*pass))).collect();
        let (status, elapsed, stream_ended) = self.shutdown;
        let threads: serde_json::Map<String, Value> =
            self.server_threads.iter().map(|(name, cpu)| (name.clone(), cpu.as_secs_f64().into())).collect();
        json!({
            "config": { "binary": self.config.binary, "duration_s": self.config.duration.as_secs_f64(),
                "preload_count": self.config.preload_count, "follow_count": self.config.follow_count,
                "client_counts": CLIENT_COUNTS, "data_size_bytes": DATA_SIZE_BYTES },
            "load_average": { "start": self.load_avg.0, "end": self.load_avg.1 },
            "preload_s": self.preload_s, "search_catch_up_s": self.search_catch_up_s,
            "healthz": runs(&self.healthz),
            "post_trials": self.trials.iter().map(|t| t.iter().map(Trial::json).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "post_pooled": [self.post_pooled(0).json(), self.post_pooled(1).json()],
            "sqlite_pooled": [self.sqlite_pooled(0).json(), self.sqlite_pooled(1).json()],
            "post_ratio_median": [self.post_ratio(0), self.post_ratio(1)],
            "get": runs(&self.gets), "query": runs(&self.queries),
            "query_params": { "tag": self.query.0, "types": self.query.1, "live_items": self.query.2 },
            "follow": self.follow.json(),
            "shutdown": { "exit_code": status.code(), "elapsed_ms": elapsed.as_secs_f64() * 1e3,
                "follow_stream_ended": stream_ended },
            "server_thread_cpu_s": threads,
            "targets": { "post_1_ratio_min": POST_1_RATIO_MIN, "post_32_ratio_min": POST_32_RATIO_MIN,
                "get_to_healthz_min": GET_TO_HEALTHZ_MIN, "query_p50_us_max": QUERY_P50_US_MAX,
                "follow_p50_us_max": FOLLOW_P50_US_MAX },
            "pass": checks,
        })
    }
}
