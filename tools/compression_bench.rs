//! Benchmark of compressed storage (issue 24): the same store written with
//! compression on and off, and SQLite, in one run.
//!
//! Each store gets the 200,000-item workload plus 50,000 updates (the
//! workload of `store_bench`, `tools/common/workload.rs`) in batches of
//! 1,000 at one fdatasync per batch. Measured: the whole data directory once
//! the search view has caught up, the log segments alone, the point get of a
//! random version (all of them in sealed, compressed segments; the store
//! keeps no cache of decompressed data), the ingest rate on against off, the
//! rate of a full replay (an open without checkpoint) in uncompressed record
//! bytes per second, and the open with a checkpoint. Opens run in this
//! process, one after another; the median of three is reported.
//! Units: MB = 10^6 bytes.

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use recstore::store::views::checkpoint;
use recstore::{NewItem, Store, StoreOptions, SyncMode};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

use common::args::{Flags, config_or_exit};
use common::report::{Latencies, load_average, print_table, verdict};
use common::sqlite;
use common::workload::{Rng, STREAM_BENCH, Workload};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const BATCH_ITEM_COUNT: usize = 1_000;
const GET_COUNT: usize = 100_000;
const OPEN_REPEATS: usize = 3;

/// Targets, all from issue 24.
const DIR_MB_MAX: f64 = 110.0;
const LOG_MB_MAX: f64 = 80.0;
const GET_MEDIAN_US_MAX: f64 = 5.0;
const GET_P99_US_MAX: f64 = 50.0;
const INGEST_RATIO_MIN: f64 = 0.9;
const REPLAY_RATIO_MIN: f64 = 0.8;

const USAGE: &str = "usage: cargo bench --bench compression_bench -- [--items N] [--quick] [--json]
  --items N    items stored first (default 200000); N/4 updates follow
  --quick      smoke run: 20000 items, 5000 updates
  --json       print one JSON object on stdout instead of the table";

struct Config {
    item_count: usize,
    update_count: usize,
    json: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config { item_count: 200_000, update_count: 50_000, json: false };
    let mut flags = Flags::new(args, USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "--items" => {
                config.item_count = flags.value(&flag, inline)?;
                config.update_count = config.item_count / 4;
            }
            "--quick" => (config.item_count, config.update_count) = (20_000, 5_000),
            "--json" => config.json = true,
            "--help" | "-h" => return Ok(None),
            "--bench" => {}
            _ => return Err(flags.unknown(&flag)),
        }
    }
    Ok(Some(config))
}

fn progress(message: &str) {
    eprintln!("compression_bench: {message}");
}

fn main() -> BenchResult<()> {
    let config = config_or_exit(parse_args(std::env::args().skip(1)), USAGE);
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let load_start = load_average();
    let workload = Workload::new(config.item_count);
    let on = measure_store(&config, &workload, &dir.path().join("on"), true)?;
    let off = measure_store(&config, &workload, &dir.path().join("off"), false)?;
    progress("SQLite ingest");
    let sqlite_bytes = sqlite_ingest(&config, &workload, &dir.path().join("sqlite.db"))?;
    let report = Report { on, off, sqlite_bytes, load_avg: (load_start, load_average()) };
    if config.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

/// What one recstore run measured.
struct Measured {
    ingest: Duration,
    item_count: usize,
    dir_bytes: u64,
    log_bytes: u64,
    views_bytes: u64,
    search_bytes: u64,
    checkpoint_bytes: u64,
    logical_bytes: u64,
    stored_bytes: u64,
    gets: Latencies,
    open_checkpoint_s: f64,
    replay_s: f64,
}

fn options(compression: bool) -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Always).compression(compression)
}

fn measure_store(config: &Config, workload: &Workload, dir: &Path, compression: bool) -> BenchResult<Measured> {
    let mode = if compression { "on" } else { "off" };
    progress(&format!("compression {mode}: {} items, {} updates", config.item_count, config.update_count));
    let store = Store::open(dir, options(compression))?;
    let mut ingest = ingest(config.item_count, |i| workload.new_item(i), |b| Ok(store.put_batch(b).map(drop)?))?;
    ingest += ingest_updates(config, workload, &store)?;
    while store.search_wait_for(store.log().next_offset()).is_err() {}
    let stats = store.stats();
    progress(&format!("compression {mode}: {GET_COUNT} gets of random versions"));
    let gets = random_version_gets(config, workload, &store)?;
    store.close()?;
    let dir_bytes = tree_bytes(dir)?;
    let checkpoint_path = checkpoint::path(&dir.join(recstore::store::VIEWS_DIR_NAME));
    let checkpoint_bytes = std::fs::metadata(&checkpoint_path)?.len();
    let open_checkpoint_s = median_open_s(dir, compression, || Ok(()))?;
    let replay_s = median_open_s(dir, compression, || Ok(std::fs::remove_file(&checkpoint_path)?))?;
    Ok(Measured {
        ingest,
        item_count: config.item_count + config.update_count,
        dir_bytes,
        log_bytes: tree_bytes(&dir.join("log"))?,
        views_bytes: tree_bytes(&dir.join(recstore::store::VIEWS_DIR_NAME))?,
        search_bytes: tree_bytes(&dir.join("search"))?,
        checkpoint_bytes,
        logical_bytes: stats.logical_bytes,
        stored_bytes: stats.stored_bytes,
        gets,
        open_checkpoint_s,
        replay_s,
    })
}

fn ingest_updates(config: &Config, workload: &Workload, store: &Store) -> BenchResult<Duration> {
    ingest(config.update_count, |u| workload.new_update(u), |b| Ok(store.put_batch(b).map(drop)?))
}

/// Generates `count` items in batches (not timed) and times `write` on each.
fn ingest(
    count: usize,
    make: impl Fn(usize) -> NewItem,
    mut write: impl FnMut(Vec<NewItem>) -> BenchResult<()>,
) -> BenchResult<Duration> {
    let mut elapsed = Duration::ZERO;
    for start in (0..count).step_by(BATCH_ITEM_COUNT) {
        let batch: Vec<NewItem> = (start..count.min(start + BATCH_ITEM_COUNT)).map(&make).collect();
        let started = Instant::now();
        write(batch)?;
        elapsed += started.elapsed();
    }
    Ok(elapsed)
}

/// Gets of a random version of a random item: versions counted from the
/// updates each item received, so every pick exists.
fn random_version_gets(config: &Config, workload: &Workload, store: &Store) -> BenchResult<Latencies> {
    let mut versions = vec![1u32; config.item_count];
    for update in 0..config.update_count {
        versions[workload.update_target(update)] += 1;
    }
    let mut rng = Rng::new(STREAM_BENCH, 24);
    let mut gets = Latencies::default();
    for _ in 0..GET_COUNT {
        let index = rng.below(config.item_count as u64) as usize;
        let version = 1 + rng.below(u64::from(versions[index])) as u32;
        let id = Workload::id(index);
        let data = gets.time(|| store.get_version(&id, version))?;
        if data.bytes.is_empty() {
            return Err(format!("{id}@{version} came back empty").into());
        }
    }
    Ok(gets.finish())
}

/// Median of [`OPEN_REPEATS`] opens, each after `prepare`.
fn median_open_s(dir: &Path, compression: bool, prepare: impl Fn() -> BenchResult<()>) -> BenchResult<f64> {
    let mut times = Vec::new();
    for _ in 0..OPEN_REPEATS {
        prepare()?;
        let started = Instant::now();
        let store = Store::open(dir, options(compression))?;
        times.push(started.elapsed().as_secs_f64());
        store.close()?;
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn tree_bytes(path: &Path) -> BenchResult<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() { tree_bytes(&entry.path())? } else { metadata.len() };
    }
    Ok(total)
}

/// Ingests the same workload into SQLite (WAL, one transaction per batch);
/// returns the database and WAL size.
fn sqlite_ingest(config: &Config, workload: &Workload, path: &Path) -> BenchResult<u64> {
    let mut conn = sqlite::open(path)?;
    ingest(config.item_count, |i| workload.new_item(i), |b| sqlite_put_batch(&mut conn, b))?;
    ingest(config.update_count, |u| workload.new_update(u), |b| sqlite_put_batch(&mut conn, b))?;
    drop(conn);
    let wal = path.with_extension("db-wal");
    Ok([path, wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum())
}

fn sqlite_put_batch(conn: &mut Connection, items: Vec<NewItem>) -> BenchResult<()> {
    let tx = conn.transaction()?;
    {
        let mut latest = tx.prepare_cached("SELECT max(version) FROM items WHERE id = ?1")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO items (id, version, ts, type, source, data, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut insert_tag = tx.prepare_cached("INSERT INTO item_tags (id, version, tag) VALUES (?1, ?2, ?3)")?;
        let mut insert_parent = tx.prepare_cached("INSERT INTO parents (id, version, parent) VALUES (?1, ?2, ?3)")?;
        let timestamp_us = sqlite::now_us();
        for NewItem { data, mut metadata } in items {
            let id = metadata.id.take().ok_or("the workload names every item")?;
            let meta = serde_json::to_string(&metadata)?;
            let version = latest.query_row([&id], |row| row.get::<_, Option<i64>>(0))?.map_or(1, |v| v + 1);
            let (item_type, source) = (&metadata.item_type, &metadata.source_id);
            insert.execute(params![id, version, timestamp_us, item_type, source, data.canonical_bytes(), meta])?;
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

struct Report {
    on: Measured,
    off: Measured,
    sqlite_bytes: u64,
    load_avg: (String, String),
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

impl Report {
    fn ingest_ratio(&self) -> f64 {
        self.off.ingest.as_secs_f64() / self.on.ingest.as_secs_f64()
    }

    /// Uncompressed record bytes per second: the off store's log, replayed
    /// in each store's replay time.
    fn replay_mb_per_s(&self, measured: &Measured) -> f64 {
        mb(self.off.log_bytes) / measured.replay_s
    }

    fn checks(&self) -> [(&'static str, bool); 6] {
        [
            ("dir", mb(self.on.dir_bytes) <= DIR_MB_MAX),
            ("log", mb(self.on.log_bytes) <= LOG_MB_MAX),
            ("get median", self.on.gets.quantile_us(0.5) <= GET_MEDIAN_US_MAX),
            ("get p99", self.on.gets.quantile_us(0.99) <= GET_P99_US_MAX),
            ("ingest", self.ingest_ratio() >= INGEST_RATIO_MIN),
            ("replay", self.off.replay_s / self.on.replay_s >= REPLAY_RATIO_MIN),
        ]
    }

    fn print(&self) {
        let (on, off) = (&self.on, &self.off);
        let checks = self.checks();
        let rows = vec![
            vec!["what".into(), "on".into(), "off".into(), "SQLite".into(), "target".into(), "verdict".into()],
            vec![
                "data dir MB".into(),
                format!("{:.1}", mb(on.dir_bytes)),
                format!("{:.1}", mb(off.dir_bytes)),
                format!("{:.1}", mb(self.sqlite_bytes)),
                format!("<= {DIR_MB_MAX}"),
                verdict(checks[0].1).into(),
            ],
            vec![
                "log MB".into(),
                format!("{:.1}", mb(on.log_bytes)),
                format!("{:.1}", mb(off.log_bytes)),
                String::new(),
                format!("<= {LOG_MB_MAX}"),
                verdict(checks[1].1).into(),
            ],
            vec![
                "views/ + search/ MB (checkpoint MB)".into(),
                format!("{:.1} + {:.1} ({:.1})", mb(on.views_bytes), mb(on.search_bytes), mb(on.checkpoint_bytes)),
                format!("{:.1} + {:.1} ({:.1})", mb(off.views_bytes), mb(off.search_bytes), mb(off.checkpoint_bytes)),
                String::new(),
                String::new(),
                String::new(),
            ],
            vec![
                "stats logical / stored MB".into(),
                format!("{:.1} / {:.1}", mb(on.logical_bytes), mb(on.stored_bytes)),
                format!("{:.1} / {:.1}", mb(off.logical_bytes), mb(off.stored_bytes)),
                String::new(),
                String::new(),
                String::new(),
            ],
            vec![
                "get random version median / p99 us".into(),
                format!("{:.2} / {:.2}", on.gets.quantile_us(0.5), on.gets.quantile_us(0.99)),
                format!("{:.2} / {:.2}", off.gets.quantile_us(0.5), off.gets.quantile_us(0.99)),
                String::new(),
                format!("<= {GET_MEDIAN_US_MAX} / {GET_P99_US_MAX}"),
                verdict(checks[2].1 && checks[3].1).into(),
            ],
            vec![
                "ingest items/s".into(),
                format!("{:.0}", on.item_count as f64 / on.ingest.as_secs_f64()),
                format!("{:.0}", off.item_count as f64 / off.ingest.as_secs_f64()),
                String::new(),
                format!("on >= {:.0}% of off ({:.0}%)", INGEST_RATIO_MIN * 100.0, self.ingest_ratio() * 100.0),
                verdict(checks[4].1).into(),
            ],
            vec![
                "full replay, uncompressed MB/s".into(),
                format!("{:.0}", self.replay_mb_per_s(on)),
                format!("{:.0}", self.replay_mb_per_s(off)),
                String::new(),
                format!("on >= {:.0}% of off", REPLAY_RATIO_MIN * 100.0),
                verdict(checks[5].1).into(),
            ],
            vec![
                "open with checkpoint s".into(),
                format!("{:.3}", on.open_checkpoint_s),
                format!("{:.3}", off.open_checkpoint_s),
                String::new(),
                "on no slower than off".into(),
                String::new(),
            ],
        ];
        print_table(&rows);
        println!("load average: {} at start, {} at end", self.load_avg.0, self.load_avg.1);
    }

    fn json(&self) -> Value {
        let one = |m: &Measured| {
            json!({
                "ingest_s": m.ingest.as_secs_f64(), "dir_bytes": m.dir_bytes, "log_bytes": m.log_bytes,
                "views_bytes": m.views_bytes, "search_bytes": m.search_bytes, "checkpoint_bytes": m.checkpoint_bytes,
                "logical_bytes": m.logical_bytes, "stored_bytes": m.stored_bytes, "gets": m.gets.json(),
                "open_checkpoint_s": m.open_checkpoint_s, "replay_s": m.replay_s,
                "replay_uncompressed_mb_per_s": self.replay_mb_per_s(m),
            })
        };
        let checks: serde_json::Map<String, Value> =
            self.checks().iter().map(|(name, pass)| (name.to_string(), json!(pass))).collect();
        json!({ "on": one(&self.on), "off": one(&self.off), "sqlite_bytes": self.sqlite_bytes, "checks": checks })
    }
}
