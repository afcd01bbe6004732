//! Benchmark of the item store against SQLite, measured in the same run.
//!
//! The workload and the targets are those of issue 3 ("Speed and memory").
//! Both stores get the same items from the same seeded generator, at the same
//! durability: one fsync per batch of 1,000 items (recstore `put_batch` with
//! `SyncMode::Always`; SQLite one transaction in WAL mode with
//! `synchronous=FULL`). Opens run in a fresh child process, so that their
//! resident memory is not hidden by heap that earlier phases freed.
//! `tools/README.md` lists the measurements, how to run them, and what the
//! baseline does and does not do. Units: MB = 10^6 bytes.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use recstore::store::views::checkpoint;
use recstore::{NewItem, Query, Store, StoreOptions, SyncMode};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

use common::args::{Flags, config_or_exit};
use common::process::thread_cpu;
use common::report::{Latencies, load_average, print_table, verdict};
use common::sqlite;
use common::workload::{self, DATA_SIZE_BYTES, Workload};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const BATCH_ITEM_COUNT: usize = 1_000;
const GET_COUNT: usize = 100_000;
/// How long the search view may take to catch up after an ingest phase.
const SEARCH_CATCH_UP_MAX: Duration = Duration::from_secs(900);
/// Queries per store: each of the ten types in turn, with one tag.
const QUERY_COUNT: usize = 200;

/// Targets, all from issue 3.
const INGEST_RATIO_MIN: f64 = 5.0;
const GET_MEDIAN_US_MAX: f64 = 5.0;
const QUERY_MEDIAN_US_MAX: f64 = 1_000.0;
const OPEN_CHECKPOINT_S_MAX: f64 = 1.0;
const REPLAY_MB_PER_S_MIN: f64 = 300.0;
const INDEX_BYTES_PER_ITEM_MAX: f64 = 200.0;

const USAGE: &str = "usage: cargo bench --bench store_bench -- [--items N] [--quick] [--million] [--json]
  --items N    items stored first (default 200000); N/4 updates follow
  --quick      smoke run: 20000 items, 5000 updates
  --million    1000000 items, 250000 updates (takes minutes)
  --json       print one JSON object on stdout instead of the table
  --keep       keep the data directory (path printed on stderr), e.g. to profile
               an open with `perf record store_bench --probe-open DIR/recstore`
  (--probe-open DIR is internal: the child process that times an open)";

struct Config {
    item_count: usize,
    update_count: usize,
    json: bool,
    keep: bool,
}

fn main() -> BenchResult<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--probe-open") {
        let dir = args.nth(1).ok_or("--probe-open needs a directory")?;
        return probe_open_child(Path::new(&dir));
    }
    let config = config_or_exit(parse_args(args), USAGE);
    // The same file system as /work on the machines this runs on; TMPDIR moves it.
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let report = run(config, dir.path())?;
    if report.config.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    if report.config.keep {
        progress(&format!("kept {}", dir.keep().display()));
    } else {
        dir.close()?;
    }
    Ok(())
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let (mut item_count, mut json, mut keep) = (None, false, false);
    let mut flags = Flags::new(args, USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "--quick" => item_count = Some(20_000),
            "--million" => item_count = Some(1_000_000),
            "--json" => json = true,
            "--keep" => keep = true,
            "--items" => item_count = Some(flags.value::<usize>(&flag, inline)?),
            // `cargo bench` passes this to every `harness = false` target.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            _ => return Err(flags.unknown(&flag)),
        }
    }
    let item_count = item_count.unwrap_or(200_000);
    if item_count < 100 {
        return Err(format!("--items must be at least 100\n{USAGE}"));
    }
    Ok(Some(Config { item_count, update_count: item_count / 4, json, keep }))
}

fn progress(message: &str) {
    eprintln!("store_bench: {message}");
}

// ---------------------------------------------------------------- SQLite

const SQLITE_LATEST_VERSION: &str = "SELECT max(version) FROM items WHERE id = ?1";
const SQLITE_GET: &str = "SELECT version, data FROM items WHERE id = ?1 ORDER BY version DESC LIMIT 1";
/// Ids of items whose latest version has the type and the tag: what
/// `query_hits` answers (SQLite's rows come unordered).
const SQLITE_QUERY: &str = "
    SELECT i.id FROM items i JOIN item_tags t ON t.id = i.id AND t.version = i.version
    WHERE i.type = ?1 AND t.tag = ?2
      AND i.version = (SELECT max(m.version) FROM items m WHERE m.id = i.id)";

/// One transaction: what `put_batch` does, in SQL. Versions are numbered
/// from the table, as recstore numbers them from its views.
fn sqlite_put_batch(conn: &mut Connection, items: Vec<NewItem>) -> BenchResult<()> {
    let tx = conn.transaction()?;
    {
        let mut latest = tx.prepare_cached(SQLITE_LATEST_VERSION)?;
        let mut insert_item = tx.prepare_cached(
            "INSERT INTO items (id, version, ts, type, source, data, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut insert_tag = tx.prepare_cached("INSERT INTO item_tags (id, version, tag) VALUES (?1, ?2, ?3)")?;
        let mut insert_parent = tx.prepare_cached("INSERT INTO parents (id, version, parent) VALUES (?1, ?2, ?3)")?;
        let timestamp_us = sqlite::now_us();
        for NewItem { data, mut metadata } in items {
            let id = metadata.id.take().ok_or("the workload names every item")?;
            let bytes = data.canonical_bytes();
            let meta = serde_json::to_string(&metadata)?;
            let version = latest.query_row([&id], |row| row.get::<_, Option<i64>>(0))?.map_or(1, |v| v + 1);
            insert_item.execute(params![
                id,
                version,
                timestamp_us,
                metadata.item_type,
                metadata.source_id,
                bytes,
                meta
            ])?;
            for tag in &metadata.tags {
                insert_tag.execute(params![id, version, tag])?;
            }
            for parent in &metadata.parents {
                insert_parent.execute(params![id, version, parent])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// `EXPLAIN QUERY PLAN`, one step per `; `.
fn sqlite_plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> BenchResult<String> {
    let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let steps = statement.query_map(params, |row| row.get::<_, String>(3))?.collect::<Result<Vec<_>, _>>()?;
    Ok(steps.join("; "))
}

fn sqlite_size_bytes(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path, wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

// ---------------------------------------------------------------- measurements

/// Items written in some time, and the CPU time the writing thread used.
#[derive(Clone, Copy, Default)]
struct Ingest {
    item_count: usize,
    elapsed: Duration,
    cpu: Duration,
}

impl Ingest {
    fn per_s(self) -> f64 {
        self.item_count as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_us_per_item(self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.item_count as f64
    }
}

/// Generates `count` items in batches (not timed) and times `write` on each.
fn ingest(
    count: usize,
    make: impl Fn(usize) -> NewItem,
    mut write: impl FnMut(Vec<NewItem>) -> BenchResult<()>,
) -> BenchResult<Ingest> {
    let (mut elapsed, mut cpu) = (Duration::ZERO, Duration::ZERO);
    for start in (0..count).step_by(BATCH_ITEM_COUNT) {
        let batch: Vec<NewItem> = (start..count.min(start + BATCH_ITEM_COUNT)).map(&make).collect();
        let (started, cpu_started) = (Instant::now(), thread_cpu());
        write(batch)?;
        elapsed += started.elapsed();
        cpu += thread_cpu().saturating_sub(cpu_started);
    }
    Ok(Ingest { item_count: count, elapsed, cpu })
}

/// Both stores' answers to the same calls.
#[derive(Default)]
struct Pair<T> {
    recstore: T,
    sqlite: T,
}

/// What one open in a fresh process measured (`probe_open_child`).
struct OpenProbe {
    open_s: f64,
    /// The type+tag queries' median right after the open, in that process.
    query_median_us: f64,
    item_count: u64,
    log_bytes: u64,
    /// kB from /proc/self/status, before and after the open.
    rss_kb: (u64, u64),
    rss_anon_kb: (u64, u64),
    rss_file_kb: (u64, u64),
    hwm_kb: u64,
}

impl OpenProbe {
    fn rss_bytes_per_item(&self) -> f64 {
        self.rss_kb.1.saturating_sub(self.rss_kb.0) as f64 * 1024.0 / self.item_count as f64
    }

    fn anon_bytes_per_item(&self) -> f64 {
        self.rss_anon_kb.1.saturating_sub(self.rss_anon_kb.0) as f64 * 1024.0 / self.item_count as f64
    }

    fn log_mb_per_s(&self) -> f64 {
        self.log_bytes as f64 / 1e6 / self.open_s
    }

    fn json(&self) -> Value {
        json!({
            "open_s": self.open_s, "query_median_us": self.query_median_us, "item_count": self.item_count,
            "log_bytes": self.log_bytes,
            "log_mb_per_s": self.log_mb_per_s(),
            "vm_rss_kb": [self.rss_kb.0, self.rss_kb.1], "rss_anon_kb": [self.rss_anon_kb.0, self.rss_anon_kb.1],
            "rss_file_kb": [self.rss_file_kb.0, self.rss_file_kb.1], "vm_hwm_kb": self.hwm_kb,
            "vm_rss_bytes_per_item": self.rss_bytes_per_item(), "rss_anon_bytes_per_item": self.anon_bytes_per_item(),
        })
    }
}

struct Report {
    config: Config,
    dir: PathBuf,
    load_avg: (String, String),
    initial: Pair<Ingest>,
    updates: Pair<Ingest>,
    /// fdatasyncs and search catch-up of recstore's two ingest phases.
    phases: [RecstorePhase; 2],
    gets: Pair<Latencies>,
    query: Query,
    query_hit_count: usize,
    live_item_count: u64,
    queries: Pair<Latencies>,
    versions: u64,
    log_bytes: u64,
    segment_count: usize,
    sqlite_bytes: u64,
    /// SQLite's plans for the point get and the query, to show that they use the indices.
    sqlite_plans: [String; 2],
    close_s: f64,
    checkpoint_bytes: u64,
    open_checkpoint: OpenProbe,
    open_replay: OpenProbe,
    open_empty: OpenProbe,
}

fn run(config: Config, dir: &Path) -> BenchResult<Report> {
    let load_start = load_average();
    let workload = Workload::new(config.item_count);
    let store_dir = dir.join("recstore");
    let sqlite_path = dir.join("sqlite.db");
    let store = Store::open(&store_dir, StoreOptions::default().sync(SyncMode::Always))?;
    let mut conn = sqlite::open(&sqlite_path)?;
    progress(&format!("ingest: {} items, recstore then SQLite, in {}", config.item_count, dir.display()));
    let (initial, updates, phases) = ingest_both(&config, &workload, &store, &mut conn)?;
    // Not timed: gives SQLite's planner the statistics it needs for the join.
    // The bundled SQLite is built with STAT4, whose histograms make every
    // statement whose plan could depend on a bound value re-prepare itself
    // on each new binding (two thirds of a point get's time in a trial run).
    // Only the sqlite_stat1 row counts are kept; they give the same plans.
    conn.execute_batch("ANALYZE; DELETE FROM sqlite_stat4; ANALYZE sqlite_schema;")?;

    progress(&format!("point gets: {GET_COUNT} random ids, each store"));
    let gets = point_gets(&store, &conn, &workload.random_ids(GET_COUNT))?;
    let stats = store.stats();
    let query = pick_query(&stats, 0)?;
    progress(&format!("queries: {QUERY_COUNT} type+tag queries (tag {:?}), each store", query.tags));
    let (queries, query_hit_count) = type_tag_queries(&store, &conn, &stats, &query)?;
    let sqlite_plans = [
        sqlite_plan(&conn, SQLITE_GET, params!["item-00000000"])?,
        sqlite_plan(&conn, SQLITE_QUERY, params![query.item_type, query.tags[0]])?,
    ];
    let sqlite_bytes = sqlite_size_bytes(&sqlite_path);
    drop(conn);

    progress("close (writes the checkpoint), then opens in a child process");
    let (close_s, checkpoint_bytes, [open_checkpoint, open_replay, open_empty]) = close_and_open(store, dir)?;
    Ok(Report {
        config,
        dir: dir.to_path_buf(),
        load_avg: (load_start, load_average()),
        initial,
        updates,
        phases,
        gets,
        query,
        query_hit_count,
        live_item_count: stats.items_live,
        queries,
        versions: stats.versions,
        log_bytes: stats.log_bytes,
        segment_count: stats.segment_count,
        sqlite_bytes,
        sqlite_plans,
        close_s,
        checkpoint_bytes,
        open_checkpoint,
        open_replay,
        open_empty,
    })
}

/// The new items, then the updates: each phase on recstore, then on SQLite.
/// After each recstore phase the search view is let catch up (timed, not
/// part of the ingest), so that SQLite's phase and the reads that follow do
/// not share the cores with indexing. Also returns recstore's fdatasync
/// count and time, and the search view's catch-up time, in each phase.
fn ingest_both(
    config: &Config,
    workload: &Workload,
    store: &Store,
    conn: &mut Connection,
) -> BenchResult<(Pair<Ingest>, Pair<Ingest>, [RecstorePhase; 2])> {
    let (items, updates) = (config.item_count, config.update_count);
    let (recstore, initial_phase) = recstore_phase(store, || {
        ingest(items, |i| workload.new_item(i), |batch| Ok(store.put_batch(batch).map(drop)?))
    })?;
    let sqlite = ingest(items, |i| workload.new_item(i), |batch| sqlite_put_batch(conn, batch))?;
    let initial = Pair { recstore, sqlite };
    progress(&format!("ingest: {updates} updates, recstore then SQLite"));
    let (recstore, update_phase) = recstore_phase(store, || {
        ingest(updates, |u| workload.new_update(u), |batch| Ok(store.put_batch(batch).map(drop)?))
    })?;
    let sqlite = ingest(updates, |u| workload.new_update(u), |batch| sqlite_put_batch(conn, batch))?;
    Ok((initial, Pair { recstore, sqlite }, [initial_phase, update_phase]))
}

/// What one recstore ingest phase cost beyond its timed puts.
#[derive(Clone, Copy)]
struct RecstorePhase {
    fsync_count: u64,
    fsync_time: Duration,
    /// From the last acknowledged put until searches see all of them.
    search_catch_up: Duration,
}

fn recstore_phase(store: &Store, run: impl FnOnce() -> BenchResult<Ingest>) -> BenchResult<(Ingest, RecstorePhase)> {
    let before = store.log().metrics();
    let ingest = run()?;
    let after = store.log().metrics();
    let started = Instant::now();
    // Each wait gives up after recstore::search::SEARCH_WAIT_MS_MAX; a
    // million items' updates take longer to index than that.
    while let Err(error) = store.search_wait_for(store.log().next_offset()) {
        if started.elapsed() > SEARCH_CATCH_UP_MAX {
            return Err(error.into());
        }
    }
    let phase = RecstorePhase {
        fsync_count: after.fsyncs - before.fsyncs,
        fsync_time: Duration::from_micros(after.fsync_sum_us - before.fsync_sum_us),
        search_catch_up: started.elapsed(),
    };
    Ok((ingest, phase))
}

/// Closes the store (timed: it writes the checkpoint), then opens it in a
/// child process with the checkpoint, again without it, and opens an empty
/// store for the fixed part of the memory. Returns the close time, the
/// checkpoint's size and the three opens.
fn close_and_open(store: Store, dir: &Path) -> BenchResult<(f64, u64, [OpenProbe; 3])> {
    let store_dir = store.dir().to_path_buf();
    let started = Instant::now();
    store.close()?;
    let close_s = started.elapsed().as_secs_f64();
    let checkpoint_path = checkpoint::path(&store_dir.join(recstore::store::VIEWS_DIR_NAME));
    let checkpoint_bytes = std::fs::metadata(&checkpoint_path)?.len();
    let open_checkpoint = probe_open_median(&store_dir, || Ok(()))?;
    // A store opened by a replay writes a checkpoint as it closes.
    let remove_checkpoint = || match std::fs::remove_file(&checkpoint_path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    };
    let open_replay = probe_open_median(&store_dir, remove_checkpoint)?;
    let empty_dir = dir.join("empty");
    Store::open(&empty_dir, StoreOptions::default())?.close()?;
    let open_empty = probe_open(&empty_dir)?;
    Ok((close_s, checkpoint_bytes, [open_checkpoint, open_replay, open_empty]))
}

/// Times `get` of the latest version, then SQLite's SELECT, for each id;
/// checks that the two agree on the first few.
fn point_gets(store: &Store, conn: &Connection, ids: &[String]) -> BenchResult<Pair<Latencies>> {
    const CHECKED_COUNT: usize = 1_000;
    let mut recstore = Latencies::default();
    let mut found = Vec::with_capacity(CHECKED_COUNT);
    for id in ids {
        let item = recstore.time(|| store.get(id))?;
        if found.len() < CHECKED_COUNT {
            found.push((item.version, item.bytes));
        }
    }
    let mut sqlite = Latencies::default();
    let mut statement = conn.prepare_cached(SQLITE_GET)?;
    for (index, id) in ids.iter().enumerate() {
        let (version, bytes) =
            sqlite.time(|| statement.query_row([id], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, Vec<u8>>(1)?))))?;
        if index < found.len() && found[index] != (version, bytes) {
            return Err(format!("recstore and SQLite disagree on the latest version of {id}").into());
        }
    }
    Ok(Pair { recstore: recstore.finish(), sqlite: sqlite.finish() })
}

/// The type+tag query closest to 1% of the live items (see the workload).
fn pick_query(stats: &recstore::StoreStats, type_index: usize) -> BenchResult<Query> {
    Ok(workload::type_tag_query(stats, type_index)?)
}

/// Runs the query for each type in turn on both stores; checks that both
/// return the same number of ids. Returns the latencies and the mean hit count.
fn type_tag_queries(
    store: &Store,
    conn: &Connection,
    stats: &recstore::StoreStats,
    query: &Query,
) -> BenchResult<(Pair<Latencies>, usize)> {
    let queries: Vec<Query> = (0..stats.by_type.len())
        .map(|t| Query { item_type: pick_query(stats, t).ok().and_then(|q| q.item_type), ..query.clone() })
        .collect();
    let mut recstore = Latencies::default();
    let mut hit_counts = vec![0usize; queries.len()];
    for repeat in 0..QUERY_COUNT {
        let index = repeat % queries.len();
        hit_counts[index] = recstore.time(|| store.query_hits(&queries[index]))?.len();
    }
    let mut sqlite = Latencies::default();
    let mut statement = conn.prepare_cached(SQLITE_QUERY)?;
    for repeat in 0..QUERY_COUNT {
        let index = repeat % queries.len();
        let (item_type, tag) = (queries[index].item_type.as_deref(), queries[index].tags[0].as_str());
        let ids = sqlite.time(|| {
            statement.query_map(params![item_type, tag], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()
        })?;
        if ids.len() != hit_counts[index] {
            let message =
                format!("query {:?}: recstore found {}, SQLite {}", queries[index], hit_counts[index], ids.len());
            return Err(message.into());
        }
    }
    let mean_hit_count = hit_counts.iter().sum::<usize>() / hit_counts.len().max(1);
    Ok((Pair { recstore: recstore.finish(), sqlite: sqlite.finish() }, mean_hit_count))
}

/// Opens a store this many times, each in a fresh process, for the median.
const OPEN_PROBE_COUNT: usize = 3;

/// The probe with the median open time of [`OPEN_PROBE_COUNT`]: one open
/// on a shared machine can take half again as long as the next.
/// `prepare` runs before each open.
fn probe_open_median(store_dir: &Path, prepare: impl Fn() -> BenchResult<()>) -> BenchResult<OpenProbe> {
    let probe = |_| {
        prepare()?;
        probe_open(store_dir)
    };
    let mut probes = (0..OPEN_PROBE_COUNT).map(probe).collect::<BenchResult<Vec<_>>>()?;
    probes.sort_by(|a, b| a.open_s.total_cmp(&b.open_s));
    Ok(probes.swap_remove(OPEN_PROBE_COUNT / 2))
}

/// Opens the store in a fresh process of this binary and reads what it measured.
fn probe_open(store_dir: &Path) -> BenchResult<OpenProbe> {
    let output = Command::new(std::env::current_exe()?).arg("--probe-open").arg(store_dir).output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("open probe failed ({}): {stderr}", output.status).into());
    }
    let value: Value = serde_json::from_slice(&output.stdout)?;
    let number = |key: &str| value[key].as_u64().ok_or_else(|| format!("open probe printed no {key}: {value}"));
    let pair = |key: &str| -> BenchResult<(u64, u64)> {
        Ok((number(&format!("{key}_before"))?, number(&format!("{key}_after"))?))
    };
    Ok(OpenProbe {
        open_s: value["open_s"].as_f64().ok_or("open probe printed no open_s")?,
        query_median_us: value["query_median_us"].as_f64().unwrap_or(f64::NAN),
        item_count: number("item_count")?,
        log_bytes: number("log_bytes")?,
        rss_kb: pair("vm_rss_kb")?,
        rss_anon_kb: pair("rss_anon_kb")?,
        rss_file_kb: pair("rss_file_kb")?,
        hwm_kb: number("vm_hwm_kb")?,
    })
}

/// The child side of [`probe_open`]: open, measure, print one JSON line.
fn probe_open_child(store_dir: &Path) -> BenchResult<()> {
    let before = proc_status()?;
    let started = Instant::now();
    let store = Store::open(store_dir, StoreOptions::default())?;
    let open_s = started.elapsed().as_secs_f64();
    let after = proc_status()?;
    let stats = store.stats();
    let query_median_us = time_queries_after_open(&store, &stats)?;
    let field = |status: &[(String, u64)], name: &str| status.iter().find(|(n, _)| n == name).map_or(0, |(_, kb)| *kb);
    let value = json!({
        "open_s": open_s,
        "query_median_us": query_median_us,
        "item_count": stats.items_live + stats.items_deleted,
        "log_bytes": stats.log_bytes,
        "vm_rss_kb_before": field(&before, "VmRSS"), "vm_rss_kb_after": field(&after, "VmRSS"),
        "rss_anon_kb_before": field(&before, "RssAnon"), "rss_anon_kb_after": field(&after, "RssAnon"),
        "rss_file_kb_before": field(&before, "RssFile"), "rss_file_kb_after": field(&after, "RssFile"),
        "vm_hwm_kb": field(&after, "VmHWM"),
    });
    println!("{value}");
    drop(store);
    Ok(())
}

/// Median time of the type+tag queries in the process that just opened
/// the store: the heap holds the views as a checkpoint load lays them out,
/// not as a long ingest left them. NaN for a store without items.
fn time_queries_after_open(store: &Store, stats: &recstore::StoreStats) -> BenchResult<f64> {
    let queries: Vec<Query> = (0..stats.by_type.len()).filter_map(|t| pick_query(stats, t).ok()).collect();
    let mut latencies = Latencies::default();
    let query_count = if queries.is_empty() { 0 } else { QUERY_COUNT };
    for repeat in 0..query_count {
        latencies.time(|| store.query_hits(&queries[repeat % queries.len()]))?;
    }
    Ok(latencies.finish().quantile_us(0.5))
}

/// The `kB` lines of /proc/self/status, as (name, kB).
fn proc_status() -> BenchResult<Vec<(String, u64)>> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let kb = rest.trim().strip_suffix(" kB")?.trim().parse().ok()?;
            Some((name.to_owned(), kb))
        })
        .collect())
}

// ---------------------------------------------------------------- report

/// One line of the table.
type Row = [String; 6];

fn row(what: &str, recstore: String, sqlite: String, ratio: String, target: &str, verdict: &str) -> Row {
    [what.to_owned(), recstore, sqlite, ratio, target.to_owned(), verdict.to_owned()]
}

impl Report {
    fn ingest_ratio(pair: &Pair<Ingest>) -> f64 {
        pair.recstore.per_s() / pair.sqlite.per_s()
    }

    fn checks(&self) -> [(&'static str, bool); 7] {
        [
            ("ingest_initial", Self::ingest_ratio(&self.initial) >= INGEST_RATIO_MIN),
            ("ingest_updates", Self::ingest_ratio(&self.updates) >= INGEST_RATIO_MIN),
            ("get_median", self.gets.recstore.quantile_us(0.5) < GET_MEDIAN_US_MAX),
            ("query_median", self.queries.recstore.quantile_us(0.5) < QUERY_MEDIAN_US_MAX),
            ("open_checkpoint", self.open_checkpoint.open_s < OPEN_CHECKPOINT_S_MAX),
            ("replay", self.open_replay.log_mb_per_s() >= REPLAY_MB_PER_S_MIN),
            ("index_memory", self.open_checkpoint.rss_bytes_per_item() < INDEX_BYTES_PER_ITEM_MAX),
        ]
    }

    fn rows(&self) -> Vec<Row> {
        let [ingest_initial, ingest_updates, get, query, open, replay, memory] = self.checks().map(|(_, p)| p);
        let ingest_row = |what: &str, pair: &Pair<Ingest>, pass: bool| {
            row(
                what,
                format!("{:.0} items/s", pair.recstore.per_s()),
                format!("{:.0} items/s", pair.sqlite.per_s()),
                format!("{:.2}x", Self::ingest_ratio(pair)),
                ">= 5x SQLite",
                verdict(pass),
            )
        };
        let latency_row = |what: &str, pair: &Pair<Latencies>, quantile: f64, target: &str, verdict: &str| {
            let (r, s) = (pair.recstore.quantile_us(quantile), pair.sqlite.quantile_us(quantile));
            row(what, format!("{r:.2} us"), format!("{s:.2} us"), format!("{:.1}x faster", s / r), target, verdict)
        };
        let (oc, or) = (&self.open_checkpoint, &self.open_replay);
        let selectivity = 100.0 * self.query_hit_count as f64 / self.live_item_count as f64;
        vec![
            row("measurement", "recstore".into(), "SQLite".into(), "ratio".into(), "target", "verdict"),
            ingest_row(
                &format!("ingest {} new items, 1000/batch", self.config.item_count),
                &self.initial,
                ingest_initial,
            ),
            ingest_row(
                &format!("ingest {} updates, 1000/batch", self.config.update_count),
                &self.updates,
                ingest_updates,
            ),
            latency_row("point get, latest version: median", &self.gets, 0.5, "< 5 us", verdict(get)),
            latency_row("point get, latest version: p99", &self.gets, 0.99, "-", ""),
            latency_row(
                &format!("type+tag query -> ids ({} hits, {selectivity:.2}%): median", self.query_hit_count),
                &self.queries,
                0.5,
                "< 1 ms",
                verdict(query),
            ),
            latency_row("type+tag query -> ids: p99", &self.queries, 0.99, "-", ""),
            row("open with checkpoint", format!("{:.3} s", oc.open_s), "-".into(), "-".into(), "< 1 s", verdict(open)),
            row(
                "open without checkpoint: full replay",
                format!("{:.0} MB/s", or.log_mb_per_s()),
                "-".into(),
                format!("{:.3} s for {:.1} MB", or.open_s, or.log_bytes as f64 / 1e6),
                ">= 300 MB/s",
                verdict(replay),
            ),
            row(
                "index memory (VmRSS delta of open w/ checkpoint)",
                format!("{:.0} B/item", oc.rss_bytes_per_item()),
                "-".into(),
                format!("anon {:.0} B/item", oc.anon_bytes_per_item()),
                "< 200 B/item",
                verdict(memory),
            ),
            row(
                "checkpoint file",
                format!("{:.0} B/item", self.checkpoint_bytes as f64 / oc.item_count as f64),
                "-".into(),
                format!("{:.1} MB", self.checkpoint_bytes as f64 / 1e6),
                "-",
                "",
            ),
            row(
                "size on disk",
                format!("{:.1} MB", self.log_bytes as f64 / 1e6),
                format!("{:.1} MB", self.sqlite_bytes as f64 / 1e6),
                format!("{:.2}x smaller", self.sqlite_bytes as f64 / self.log_bytes as f64),
                "-",
                "",
            ),
        ]
    }

    fn print(&self) {
        let config = &self.config;
        println!(
            "recstore store_bench: {} items + {} updates of ~{DATA_SIZE_BYTES} B JSON, in {}",
            config.item_count,
            config.update_count,
            self.dir.display()
        );
        println!("load average (1/5/15 min): {} at start, {} at end (2 cores)\n", self.load_avg.0, self.load_avg.1);
        print_table(&self.rows());
        println!();
        self.print_details();
    }

    fn print_details(&self) {
        for (name, pair, phase) in
            [("new items", &self.initial, self.phases[0]), ("updates", &self.updates, self.phases[1])]
        {
            let (r, s) = (pair.recstore, pair.sqlite);
            println!(
                "ingest {name}: recstore {:.3} s ({} fdatasyncs, {:.3} s in them; search view caught up {:.3} s \
                 later), SQLite {:.3} s",
                r.elapsed.as_secs_f64(),
                phase.fsync_count,
                phase.fsync_time.as_secs_f64(),
                phase.search_catch_up.as_secs_f64(),
                s.elapsed.as_secs_f64()
            );
            println!(
                "    CPU time of the writing thread: recstore {:.1} us/item, SQLite {:.1} us/item ({:.2}x)",
                r.cpu_us_per_item(),
                s.cpu_us_per_item(),
                s.cpu_us_per_item() / r.cpu_us_per_item()
            );
        }
        println!(
            "recstore: {} versions, {} live items, {} segments, close (checkpoint write) {:.3} s",
            self.versions, self.live_item_count, self.segment_count, self.close_s
        );
        println!("query: {:?} with each of the types in turn, {QUERY_COUNT} runs per store", self.query.tags);
        println!("SQLite plan of the get: {}", self.sqlite_plans[0]);
        println!("SQLite plan of the query: {}", self.sqlite_plans[1]);
        let (with, empty) = (&self.open_checkpoint, &self.open_empty);
        let net_kb = (with.rss_kb.1 - with.rss_kb.0).saturating_sub(empty.rss_kb.1 - empty.rss_kb.0);
        println!(
            "index memory beyond what an empty store's open takes: {:.0} B/item (VmRSS)",
            net_kb as f64 * 1024.0 / with.item_count as f64
        );
        let probes = [
            ("with checkpoint", &self.open_checkpoint),
            ("full replay", &self.open_replay),
            ("of an empty store", &self.open_empty),
        ];
        for (name, probe) in probes {
            println!(
                "open {name:<17}: {:.3} s, then query median {:.0} us; VmRSS {} -> {} kB, RssAnon {} -> {} kB, \
                 RssFile {} -> {} kB, VmHWM {} kB",
                probe.open_s,
                probe.query_median_us,
                probe.rss_kb.0,
                probe.rss_kb.1,
                probe.rss_anon_kb.0,
                probe.rss_anon_kb.1,
                probe.rss_file_kb.0,
                probe.rss_file_kb.1,
                probe.hwm_kb
            );
        }
    }

    fn json(&self) -> Value {
        let ingest = |pair: &Pair<Ingest>, phase: RecstorePhase| {
            json!({
                "recstore": { "items": pair.recstore.item_count, "elapsed_s": pair.recstore.elapsed.as_secs_f64(),
                    "items_per_s": pair.recstore.per_s(), "cpu_s": pair.recstore.cpu.as_secs_f64(),
                    "fdatasyncs": phase.fsync_count, "fdatasync_s": phase.fsync_time.as_secs_f64(),
                    "search_catch_up_s": phase.search_catch_up.as_secs_f64() },
                "sqlite": { "items": pair.sqlite.item_count, "elapsed_s": pair.sqlite.elapsed.as_secs_f64(),
                    "items_per_s": pair.sqlite.per_s(), "cpu_s": pair.sqlite.cpu.as_secs_f64() },
                "ratio": Self::ingest_ratio(pair), "target_ratio_min": INGEST_RATIO_MIN,
            })
        };
        let pair = |pair: &Pair<Latencies>| json!({ "recstore": pair.recstore.json(), "sqlite": pair.sqlite.json() });
        let checks: serde_json::Map<String, Value> =
            self.checks().iter().map(|(name, pass)| ((*name).to_owned(), Value::Bool(*pass))).collect();
        json!({
            "config": { "item_count": self.config.item_count, "update_count": self.config.update_count,
                "data_size_bytes": DATA_SIZE_BYTES, "batch_item_count": BATCH_ITEM_COUNT },
            "load_average": { "start": self.load_avg.0, "end": self.load_avg.1 },
            "ingest_initial": ingest(&self.initial, self.phases[0]),
            "ingest_updates": ingest(&self.updates, self.phases[1]),
            "point_get": pair(&self.gets), "target_get_median_us_max": GET_MEDIAN_US_MAX,
            "type_tag_query": { "tags": self.query.tags, "mean_hit_count": self.query_hit_count,
                "live_item_count": self.live_item_count, "latency": pair(&self.queries),
                "target_median_us_max": QUERY_MEDIAN_US_MAX },
            "recstore": { "versions": self.versions, "log_bytes": self.log_bytes, "segment_count": self.segment_count,
                "close_s": self.close_s, "checkpoint_bytes": self.checkpoint_bytes },
            "sqlite_bytes": self.sqlite_bytes,
            "sqlite_plans": { "get": self.sqlite_plans[0], "query": self.sqlite_plans[1] },
            "open_with_checkpoint": self.open_checkpoint.json(), "target_open_s_max": OPEN_CHECKPOINT_S_MAX,
            "open_full_replay": self.open_replay.json(), "target_replay_mb_per_s_min": REPLAY_MB_PER_S_MIN,
            "open_empty_store": self.open_empty.json(),
            "target_index_bytes_per_item_max": INDEX_BYTES_PER_ITEM_MAX,
            "pass": checks,
        })
    }
}
