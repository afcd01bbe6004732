//! Benchmark of time travel (issue 4, "Speed"): as-of reads against latest
//! reads of the same store, and a point-in-time restore against a plain
//! copy of the same log bytes, each pair measured in the same run.
//!
//! The store holds issue 3's workload (`tools/common/workload.rs`): N items,
//! N/4 updates, then deletes of 5% of the items, written in that order with
//! `put_batch` of 1,000 and `SyncMode::Never`, and synced once at the end.
//! Durability is not what this benchmark measures, so the setup skips the
//! fdatasyncs. Before any timer starts, the search view is left to catch up,
//! so that its indexing does not share the CPU with the measurements.
//!
//! Calls of different kinds are interleaved one by one (a latest get, then
//! an as-of get, ...), so that a change in the machine's load hits both
//! sides of a ratio alike. `tools/README.md` lists the measurements and the
//! targets. Units: MB = 10^6 bytes, µs = microseconds.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use recstore::store::parse_time;
use recstore::timetravel::AsOf;
use recstore::{NewItem, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;
#[path = "timetravel_bench/reads.rs"]
mod reads;
#[path = "timetravel_bench/restore.rs"]
mod restore;

use common::args::{Flags, config_or_exit};
use common::report::{Latencies, load_average, print_table, verdict};
use common::workload::{self, Rng, STREAM_DELETE, Workload};
use reads::{Comparison, PointReads, QueryInfo, midpoint, point_reads, queries};
use restore::RestoreRun;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const BATCH_ITEM_COUNT: usize = 1_000;
const DELETE_PERCENT: u64 = 5;
/// Gets timed per kind (latest, and each kind of as-of).
const GET_COUNT: usize = 100_000;
/// Metadata and history reads timed per kind.
const POINT_READ_COUNT: usize = 20_000;
/// Type+tag queries timed per kind, after `QUERY_WARM_UP_COUNT` untimed ones.
const QUERY_COUNT: usize = 200;
const QUERY_WARM_UP_COUNT: usize = 20;
/// Issue 4: "as-of should cost at most 2x a latest read", judged on medians.
const AS_OF_TO_LATEST_MAX: f64 = 2.0;

const USAGE: &str = "usage: cargo bench --bench timetravel_bench -- [--items N] [--quick] [--json]
  --items N    items stored first (default 200000); N/4 updates and N/20 deletes follow
  --quick      smoke run: 20000 items
  --json       print one JSON object on stdout instead of the table";

struct Config {
    item_count: usize,
    json: bool,
}

fn main() -> BenchResult<()> {
    let config = config_or_exit(parse_args(std::env::args().skip(1)), USAGE);
    // The same file system as /work on the machines this runs on; TMPDIR moves it.
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let report = run(&config, dir.path())?;
    if config.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    dir.close()?;
    Ok(())
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let (mut item_count, mut json) = (200_000, false);
    let mut flags = Flags::new(args, USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "--quick" => item_count = 20_000,
            "--items" => item_count = flags.value::<usize>(&flag, inline)?,
            "--json" => json = true,
            // `cargo bench` passes this to every `harness = false` target.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            _ => return Err(flags.unknown(&flag)),
        }
    }
    if item_count < 1_000 {
        return Err(format!("--items must be at least 1000\n{USAGE}"));
    }
    Ok(Some(Config { item_count, json }))
}

fn progress(message: &str) {
    eprintln!("timetravel_bench: {message}");
}

// ---------------------------------------------------------------- setup

/// What the setup wrote, kept to pick ids that are live at a point and to
/// check what each as-of read returns.
struct Written {
    /// Per item, the offsets of its versions in order; the first created it.
    version_offsets: Vec<Vec<u64>>,
    /// Per item, the offset of its delete, if it was deleted.
    delete_offsets: Vec<Option<u64>>,
    /// Stamps of the first put and of the last update: random times are
    /// drawn between them.
    timestamp_range_us: (u64, u64),
    update_count: usize,
    delete_count: usize,
    build_s: f64,
    search_catch_up_s: f64,
}

impl Written {
    /// Items created below `bound`. They were written in index order, so
    /// they are a prefix.
    fn created_count(&self, bound: u64) -> usize {
        self.version_offsets.partition_point(|offsets| offsets[0] < bound)
    }

    fn is_live(&self, index: usize, bound: u64) -> bool {
        self.delete_offsets[index].is_none_or(|offset| offset >= bound)
    }

    /// An item live at `bound`, uniform over them (a draw that lands on a
    /// deleted item is drawn again).
    fn draw_live(&self, rng: &mut Rng, bound: u64) -> BenchResult<usize> {
        let created_count = self.created_count(bound) as u64;
        for _ in 0..1_000 {
            let index = rng.below(created_count.max(1)) as usize;
            if index < self.version_offsets.len() && self.is_live(index, bound) {
                return Ok(index);
            }
        }
        Err(format!("no live item below offset {bound}").into())
    }

    /// The offset of the version of item `index` current at `bound`.
    fn current_offset(&self, index: usize, bound: u64) -> Option<u64> {
        self.version_offsets[index].iter().rev().find(|&&offset| offset < bound).copied()
    }
}

fn build(store: &Store, workload: &Workload) -> BenchResult<Written> {
    let item_count = workload.item_count();
    let started = Instant::now();
    let mut version_offsets = vec![Vec::new(); item_count];
    let mut timestamps_us = Vec::new();
    let mut put = |batch: Vec<NewItem>| -> BenchResult<()> {
        for stored in store.put_batch(batch)? {
            let index: usize = stored.id.strip_prefix("item-").ok_or("an id of the workload")?.parse()?;
            version_offsets[index].push(stored.offset);
            timestamps_us.push(parse_time(&stored.timestamp)?);
        }
        Ok(())
    };
    for first in (0..item_count).step_by(BATCH_ITEM_COUNT) {
        put((first..item_count.min(first + BATCH_ITEM_COUNT)).map(|i| workload.new_item(i)).collect())?;
    }
    let update_count = item_count / 4;
    for first in (0..update_count).step_by(BATCH_ITEM_COUNT) {
        put((first..update_count.min(first + BATCH_ITEM_COUNT)).map(|u| workload.new_update(u)).collect())?;
    }
    let mut delete_offsets = vec![None; item_count];
    for (index, deleted) in delete_offsets.iter_mut().enumerate() {
        if Rng::new(STREAM_DELETE, index as u64).below(100) < DELETE_PERCENT {
            *deleted = Some(store.delete(&Workload::id(index))?);
        }
    }
    store.log().sync()?;
    let build_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    store.search_index()?.wait_for(store.log().next_offset(), std::time::Duration::from_secs(3_600))?;
    let timestamp_range_us = (timestamps_us.first().copied().unwrap_or(0), timestamps_us.last().copied().unwrap_or(0));
    Ok(Written {
        version_offsets,
        delete_count: delete_offsets.iter().flatten().count(),
        delete_offsets,
        timestamp_range_us,
        update_count,
        build_s,
        search_catch_up_s: started.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------- the run

struct Report {
    item_count: usize,
    load_avg: (String, String),
    update_count: usize,
    delete_count: usize,
    build_s: f64,
    search_catch_up_s: f64,
    log_bytes: u64,
    segment_count: usize,
    next_offset: u64,
    midpoint_offset: u64,
    reads: PointReads,
    query: Comparison,
    query_info: QueryInfo,
    restore: RestoreRun,
}

fn run(config: &Config, dir: &Path) -> BenchResult<Report> {
    let load_start = load_average();
    let workload = Workload::new(config.item_count);
    let store = Store::open(dir.join("source"), StoreOptions::default().sync(SyncMode::Never))?;
    progress(&format!(
        "setup: {} items, N/4 updates, {DELETE_PERCENT}% deletes, in {}",
        config.item_count,
        dir.display()
    ));
    let written = build(&store, &workload)?;
    progress(&format!("setup took {:.1} s, search catch-up {:.1} s", written.build_s, written.search_catch_up_s));
    let reads = point_reads(&store, &written)?;
    let stats = store.stats();
    let type_tag_queries = (0..stats.by_type.len())
        .map(|type_index| workload::type_tag_query(&stats, type_index))
        .collect::<Result<Vec<_>, _>>()?;
    progress(&format!("queries: {QUERY_COUNT} of each kind, interleaved"));
    let (query, query_info) = queries(&store, &type_tag_queries)?;
    progress("restore as of the midpoint, between two plain copies of the same bytes");
    let midpoint_offset = midpoint(&store);
    let restore = restore::run(&store, AsOf::Offset(midpoint_offset), dir, &type_tag_queries)?;
    Ok(Report {
        item_count: config.item_count,
        load_avg: (load_start, load_average()),
        update_count: written.update_count,
        delete_count: written.delete_count,
        build_s: written.build_s,
        search_catch_up_s: written.search_catch_up_s,
        log_bytes: stats.log_bytes,
        segment_count: stats.segment_count,
        next_offset: stats.next_offset,
        midpoint_offset,
        reads,
        query,
        query_info,
        restore,
    })
}

// ---------------------------------------------------------------- report

/// One line of the table.
type Row = [String; 6];

fn comparison_row(comparison: &Comparison) -> Row {
    let cell =
        |latencies: &Latencies| format!("{:.2} / {:.2} us", latencies.quantile_us(0.5), latencies.quantile_us(0.99));
    let (target, verdict) = if comparison.judged {
        (format!("<= {AS_OF_TO_LATEST_MAX}x latest"), verdict(comparison.pass()).to_owned())
    } else {
        ("-".to_owned(), String::new())
    };
    [
        comparison.what.clone(),
        cell(&comparison.latest),
        cell(&comparison.as_of),
        format!("{:.2}x (p99 {:.2}x)", comparison.ratio(0.5), comparison.ratio(0.99)),
        target,
        verdict,
    ]
}

impl Report {
    fn rows(&self) -> Vec<Row> {
        let header = ["measurement", "latest or baseline", "as-of", "as-of / latest", "target", "verdict"];
        let mut rows = vec![header.map(str::to_owned)];
        rows.extend(self.reads.comparisons.iter().map(comparison_row));
        rows.push(comparison_row(&self.query));
        let restore = &self.restore;
        rows.push([
            format!("restore @{}: {:.1} MB of log", self.midpoint_offset, restore.log_bytes() as f64 / 1e6),
            format!("copy {:.0} MB/s", restore.copy_mb_per_s()),
            format!("{:.0} MB/s", restore.mb_per_s()),
            format!("{:.2}x the copy", restore.mb_per_s() / restore.copy_mb_per_s()),
            "none set".to_owned(),
            String::new(),
        ]);
        rows.push([
            "open of the restored store".to_owned(),
            "-".to_owned(),
            format!("{:.3} s", restore.reopen.as_secs_f64()),
            "-".to_owned(),
            "-".to_owned(),
            String::new(),
        ]);
        rows
    }

    fn print(&self) {
        println!(
            "recstore timetravel_bench: {} items + {} updates + {} deletes of ~{} B JSON",
            self.item_count,
            self.update_count,
            self.delete_count,
            workload::DATA_SIZE_BYTES
        );
        println!("load average (1/5/15 min): {} at start, {} at end (2 cores)\n", self.load_avg.0, self.load_avg.1);
        print_table(&self.rows());
        if self.restore.copy_drift() > restore::COPY_DRIFT_MAX {
            println!(
                "WARNING: the copy baseline changed {:.1}x between its two runs; the restore ratio is unreliable",
                self.restore.copy_drift()
            );
        }
        println!();
        self.print_details();
    }

    fn print_details(&self) {
        println!(
            "setup: {:.1} s with SyncMode::Never and one sync at the end, then {:.1} s for the search view to \
             catch up; log {:.1} MB in {} segment(s), next offset {}",
            self.build_s,
            self.search_catch_up_s,
            self.log_bytes as f64 / 1e6,
            self.segment_count,
            self.next_offset
        );
        println!(
            "as-of cells: median / p99 of {GET_COUNT} gets, {POINT_READ_COUNT} metadata and history reads, \
             {QUERY_COUNT} queries per kind; the latest get is the baseline of the three get rows"
        );
        let (offset, time) = (&self.reads.resolve_offset, &self.reads.resolve_time);
        println!(
            "resolving the point alone (Store::resolve_as_of, what Store::at adds, timed while drawing the calls): \
             @offset {:.2} / {:.2} us, RFC 3339 time {:.2} / {:.2} us (median / p99)",
            offset.quantile_us(0.5),
            offset.quantile_us(0.99),
            time.quantile_us(0.5),
            time.quantile_us(0.99)
        );
        let q = &self.query_info;
        println!(
            "query: tag {:?} with each of the {} types in turn; {:.0} hits of {} live items latest ({:.2}%), \
             {:.0} hits of {} live items as of @{} ({:.2}%)",
            q.tag,
            q.type_count,
            q.latest_mean_hit_count,
            q.live_latest,
            100.0 * q.latest_mean_hit_count / q.live_latest as f64,
            q.as_of_mean_hit_count,
            q.live_at_midpoint,
            self.midpoint_offset,
            100.0 * q.as_of_mean_hit_count / q.live_at_midpoint as f64
        );
        // Fewer items lived at the midpoint, so the as-of query returns
        // fewer hits; per hit, the two sides compare like for like.
        let latest_us_per_hit = self.query.latest.quantile_us(0.5) / q.latest_mean_hit_count;
        let as_of_us_per_hit = self.query.as_of.quantile_us(0.5) / q.as_of_mean_hit_count;
        println!(
            "    median per hit: latest {latest_us_per_hit:.3} us, as of the midpoint {as_of_us_per_hit:.3} us ({:.2}x)",
            as_of_us_per_hit / latest_us_per_hit
        );
        self.restore.print_details();
    }

    fn json(&self) -> Value {
        json!({
            "config": { "item_count": self.item_count, "update_count": self.update_count,
                "delete_count": self.delete_count, "data_size_bytes": workload::DATA_SIZE_BYTES,
                "batch_item_count": BATCH_ITEM_COUNT },
            "load_average": { "start": self.load_avg.0, "end": self.load_avg.1 },
            "setup": { "build_s": self.build_s, "search_catch_up_s": self.search_catch_up_s,
                "log_bytes": self.log_bytes, "segment_count": self.segment_count, "next_offset": self.next_offset },
            "midpoint_offset": self.midpoint_offset,
            "reads": self.reads.comparisons.iter().map(Comparison::json).collect::<Vec<_>>(),
            "resolve_only": { "offset": self.reads.resolve_offset.json(), "time": self.reads.resolve_time.json() },
            "query": self.query.json(),
            "query_mean_hits": { "latest": self.query_info.latest_mean_hit_count,
                "as_of": self.query_info.as_of_mean_hit_count, "tag": self.query_info.tag },
            "restore": self.restore.json(),
            "target_as_of_to_latest_max": AS_OF_TO_LATEST_MAX,
            "pass": self.reads.comparisons.iter().chain([&self.query]).filter(|c| c.judged).all(Comparison::pass),
        })
    }
}
