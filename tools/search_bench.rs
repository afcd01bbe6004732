//! Benchmark of the search view (issue 4, "Speed"): indexing throughput,
//! index size per item, and search latency.
//!
//! Workload: 200,000 items of about 512 bytes of JSON, 10 types, 1,000
//! sources, 1 to 3 of 50 tags, words from a vocabulary of 5,000 in the data,
//! written in batches of 1,000 with `SyncMode::Always` (one fsync a batch).
//! Phases:
//! 1. write while the follower indexes in the background; time until the
//!    last write is searchable;
//! 2. close; size of `search/`;
//! 3. reopen with the index up to date (no catch-up) vs. without an index;
//! 4. delete `search/`, reopen, time the rebuild from the log;
//! 5. search latency: a tag, a type, a free-text word; limit 10; latest;
//! 6. read-your-own-writes: put one item, then search for its unique word;
//! 7. the same log indexed with `index_data_text: false`, for its size.
//!
//! Run: `cargo bench --bench search_bench -- [--items N] [--quick]`.
//! Units: MB = 10^6 bytes, µs = microseconds.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recstore::log::{Log, LogOptions};
use recstore::search::{SEARCH_DIR_NAME, SearchIndex, SearchOptions};
use recstore::{Data, Metadata, NewItem, Store, StoreOptions, SyncMode};
use serde_json::json;

#[path = "common/mod.rs"]
mod common;

use common::report::Latencies;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const BATCH_ITEM_COUNT: usize = 1_000;
const DATA_SIZE_BYTES: usize = 512;
const TYPE_COUNT: usize = 10;
const SOURCE_COUNT: usize = 1_000;
const TAG_COUNT: usize = 50;
const SITE_COUNT: usize = 20;
const VOCABULARY_WORD_COUNT: usize = 5_000;
const SEARCH_COUNT: usize = 1_000;
const SEARCH_LIMIT: usize = 10;
const OWN_WRITE_COUNT: usize = 200;
const SEED: u64 = 0x7365_6172_6368;

struct Lcg(u64);

/// Draws one query of a kind.
type MakeQuery = Box<dyn Fn(&mut Lcg) -> String>;

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// One item of the workload: about [`DATA_SIZE_BYTES`] of JSON.
fn item(n: usize, rng: &mut Lcg) -> NewItem {
    let mut tags: Vec<String> = (0..1 + rng.below(3)).map(|_| format!("tag_{}", rng.below(TAG_COUNT))).collect();
    tags.sort();
    tags.dedup();
    let mut extra = serde_json::Map::new();
    extra.insert("site".into(), json!(format!("site_{}", rng.below(SITE_COUNT))));
    let metadata = Metadata {
        id: Some(format!("item_{n:07}")),
        item_type: Some(format!("type_{}", rng.below(TYPE_COUNT))),
        source_id: Some(format!("source_{}", rng.below(SOURCE_COUNT))),
        tags,
        extra,
        ..Metadata::default()
    };
    let mut note = String::new();
    let base = json!({"seq": n, "reading": {"value": rng.below(100_000) as f64 / 100.0, "unit": "celsius"}});
    let base_size_bytes = base.to_string().len() + 12;
    while base_size_bytes + note.len() < DATA_SIZE_BYTES {
        note.push_str(&format!("w{} ", rng.below(VOCABULARY_WORD_COUNT)));
    }
    let mut data = base;
    data["note"] = json!(note.trim_end());
    NewItem { data: Data::Json(data), metadata }
}

/// One line of section 5 or 6: median and p99 of finished `latencies`.
fn latency_line(what: &str, latencies: &Latencies, hit_count: usize) {
    println!(
        "{what:<44} median {:>9.1} µs   p99 {:>9.1} µs   ({} runs, {:.0} hits/run)",
        latencies.quantile_us(0.5),
        latencies.quantile_us(0.99),
        latencies.count(),
        hit_count as f64 / latencies.count().max(1) as f64
    );
}

fn dir_size_bytes(dir: &Path) -> BenchResult<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() { dir_size_bytes(&entry.path())? } else { metadata.len() };
    }
    Ok(total)
}

fn options() -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Always)
}

fn main() -> BenchResult<()> {
    let mut item_count = 200_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--items" => item_count = args.next().ok_or("--items needs a number")?.parse()?,
            "--quick" => item_count = 20_000,
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}; use --items N or --quick").into()),
        }
    }
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let data_dir = dir.path().join("store");
    let search_dir = data_dir.join(SEARCH_DIR_NAME);
    println!(
        "search_bench: {item_count} items of ~{DATA_SIZE_BYTES} B JSON, {TYPE_COUNT} types, {SOURCE_COUNT} sources, 1-3 of {TAG_COUNT} tags"
    );

    // 1. Writes with the follower indexing alongside.
    let mut rng = Lcg(SEED);
    let store = Store::open(&data_dir, options())?;
    let started = Instant::now();
    let mut written = 0;
    while written < item_count {
        let batch_count = BATCH_ITEM_COUNT.min(item_count - written);
        store.put_batch((written..written + batch_count).map(|n| item(n, &mut rng)).collect())?;
        written += batch_count;
    }
    let write_s = started.elapsed().as_secs_f64();
    let next_offset = store.log().next_offset();
    store.search_wait_for(next_offset)?;
    let searchable_s = started.elapsed().as_secs_f64();
    println!(
        "1. write + follow: writes took {write_s:.2} s ({:.0} items/s); all searchable after {searchable_s:.2} s: {:.0} items/s indexed live",
        item_count as f64 / write_s,
        item_count as f64 / searchable_s
    );
    let (search_cpu_s, process_cpu_s) = cpu_seconds()?;
    println!(
        "   CPU during phase 1: {process_cpu_s:.2} s for the process, of which {search_cpu_s:.2} s in search threads (follower, tantivy)"
    );
    let log_bytes = store.log().size_bytes();

    // 2. Clean close and size.
    let started = Instant::now();
    drop(store);
    let close_s = started.elapsed().as_secs_f64();
    let index_bytes = dir_size_bytes(&search_dir)?;
    println!(
        "2. close {close_s:.2} s; index {:.1} MB = {:.0} B/item (log {:.1} MB = {:.0} B/item)",
        index_bytes as f64 / 1e6,
        index_bytes as f64 / item_count as f64,
        log_bytes as f64 / 1e6,
        log_bytes as f64 / item_count as f64
    );

    // 3. Reopen: index up to date vs. no index (the open's search part).
    let started = Instant::now();
    let store = Store::open(&data_dir, options())?;
    store.search_wait_for(next_offset)?;
    let open_s = started.elapsed().as_secs_f64();
    let outcome = store.search_index()?.open_outcome().clone();
    let reindexed = store.search_index()?.indexed_records_since_open();
    drop(store);
    let parked = dir.path().join("parked_search");
    std::fs::rename(&search_dir, &parked)?;
    let started = Instant::now();
    let store = Store::open(&data_dir, options())?;
    let open_without_s = started.elapsed().as_secs_f64();
    drop(store);
    println!(
        "3. reopen, index up to date: {open_s:.3} s ({outcome:?}, {reindexed} records re-indexed); open without an index: {open_without_s:.3} s"
    );

    // 4. Rebuild from the log.
    std::fs::remove_dir_all(&search_dir)?;
    let started = Instant::now();
    let store = Store::open(&data_dir, options())?;
    store.search_wait_for(next_offset)?;
    let rebuild_s = started.elapsed().as_secs_f64();
    println!("4. rebuild from the log: {rebuild_s:.2} s = {:.0} items/s", item_count as f64 / rebuild_s);
    drop(store);
    std::fs::remove_dir_all(&search_dir)?;
    std::fs::rename(&parked, &search_dir)?;

    // 5. Search latency.
    let store = Store::open(&data_dir, options())?;
    store.search_wait_for(next_offset)?;
    let mut rng = Lcg(SEED ^ 1);
    let kinds: [(&str, MakeQuery); 4] = [
        ("tag (tags:tag_N)", Box::new(|rng: &mut Lcg| format!("tags:tag_{}", rng.below(TAG_COUNT)))),
        ("type (type:type_N)", Box::new(|rng: &mut Lcg| format!("type:type_{}", rng.below(TYPE_COUNT)))),
        ("free text (one word)", Box::new(|rng: &mut Lcg| format!("w{}", rng.below(VOCABULARY_WORD_COUNT)))),
        (
            "type AND tag",
            Box::new(|rng: &mut Lcg| {
                format!("type:type_{} AND tags:tag_{}", rng.below(TYPE_COUNT), rng.below(TAG_COUNT))
            }),
        ),
    ];
    println!("5. search latency, limit {SEARCH_LIMIT}, latest versions (SearchIndex::search, hits only):");
    let index = store.search_index()?;
    for (what, make) in &kinds {
        let (latencies, hit_count) =
            time_searches(|| index.search(&make(&mut rng), SEARCH_LIMIT, None).map(|h| h.len()))?;
        latency_line(&format!("   {what}"), &latencies, hit_count);
    }
    let (latencies, hit_count) = time_searches(|| {
        store.search(&format!("tags:tag_{}", rng.below(TAG_COUNT)), SEARCH_LIMIT, None).map(|m| m.len())
    })?;
    latency_line("   tag, Store::search (hits -> ItemMeta)", &latencies, hit_count);
    let middle = next_offset / 2;
    let (latencies, hit_count) = time_searches(|| {
        index.search(&format!("tags:tag_{}", rng.below(TAG_COUNT)), SEARCH_LIMIT, Some(middle)).map(|h| h.len())
    })?;
    latency_line("   tag, as of the log's midpoint", &latencies, hit_count);

    // 6. Read your own writes.
    let mut put_and_search = Latencies::default();
    let mut search_only = Latencies::default();
    for n in 0..OWN_WRITE_COUNT {
        let mut new = item(item_count + n, &mut rng);
        if let Data::Json(data) = &mut new.data {
            data["marker"] = json!(format!("ownwrite{n}"));
        }
        let started = Instant::now();
        store.put(new.data, new.metadata)?;
        let searching = Instant::now();
        let found = store.search_hits(&format!("ownwrite{n}"), 1, None)?;
        search_only.push(searching.elapsed());
        put_and_search.push(started.elapsed());
        if found.len() != 1 {
            return Err(format!("own write {n} not found").into());
        }
    }
    println!("6. read your own writes:");
    latency_line("   put (fsync) + search for it", &put_and_search.finish(), OWN_WRITE_COUNT);
    latency_line("   of which the search (waits for a commit)", &search_only.finish(), OWN_WRITE_COUNT);
    drop(store);

    // 7. Without data text.
    let log = Arc::new(Log::open(&data_dir.join("log"), LogOptions::default())?);
    let plain_dir = dir.path().join("search_without_data_text");
    let started = Instant::now();
    let plain = SearchIndex::open(&plain_dir, &log, SearchOptions { index_data_text: false })?;
    plain.wait_for(log.next_offset(), Duration::from_secs(3600))?;
    let plain_s = started.elapsed().as_secs_f64();
    drop(plain);
    let plain_bytes = dir_size_bytes(&plain_dir)?;
    println!(
        "7. index_data_text=false: built in {plain_s:.2} s ({:.0} items/s); {:.1} MB = {:.0} B/item",
        item_count as f64 / plain_s,
        plain_bytes as f64 / 1e6,
        plain_bytes as f64 / item_count as f64
    );
    Ok(())
}

fn time_searches(mut search: impl FnMut() -> recstore::Result<usize>) -> BenchResult<(Latencies, usize)> {
    for _ in 0..50 {
        search()?;
    }
    let mut latencies = Latencies::default();
    let mut hit_count = 0;
    for _ in 0..SEARCH_COUNT {
        hit_count += latencies.time(&mut search)?;
    }
    Ok((latencies.finish(), hit_count))
}

/// CPU seconds (user + system) of the threads that index (the follower and
/// tantivy's), and of the whole process, from /proc. Threads that already
/// ended are counted in the process figure only.
fn cpu_seconds() -> BenchResult<(f64, f64)> {
    let ticks = |stat: &str| -> f64 {
        // Fields after the parenthesised name: state is the 1st, utime the 12th, stime the 13th.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        (field(11) + field(12)) / 100.0
    };
    let mut search = 0.0;
    for entry in std::fs::read_dir("/proc/self/task")? {
        let path = entry?.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if ["recstore-search", "thrd-tantivy", "merge_thread", "segment_updater"].iter().any(|p| name.starts_with(p)) {
            search += ticks(&std::fs::read_to_string(path.join("stat")).unwrap_or_default());
        }
    }
    Ok((search, ticks(&std::fs::read_to_string("/proc/self/stat")?)))
}
