//! The read half of `timetravel_bench`: latest and as-of gets, metadata,
//! history and type+tag queries on the same store, interleaved call by call,
//! each answer checked against what the setup wrote.

use recstore::store::format_timestamp;
use recstore::timetravel::{AsOf, StoreAt};
use recstore::{Query, Store};
use serde_json::{Value, json};

use super::common::report::Latencies;
use super::common::workload::{Rng, STREAM_BENCH, Workload};
use super::{
    AS_OF_TO_LATEST_MAX, BenchResult, GET_COUNT, POINT_READ_COUNT, QUERY_COUNT, QUERY_WARM_UP_COUNT, Written, progress,
};

// Random streams of this benchmark's own draws (see the workload's list).
const STREAM_LATEST: u64 = STREAM_BENCH;
const STREAM_OFFSET: u64 = STREAM_BENCH + 1;
const STREAM_TIME: u64 = STREAM_BENCH + 2;
const STREAM_MIDPOINT: u64 = STREAM_BENCH + 3;

/// Where a timed read looks.
#[derive(Clone, Copy)]
enum Point {
    Latest,
    /// `store.at(as_of)` inside the timed call: resolving the point is part
    /// of the cost, as for every as-of request the server answers.
    AsOf(AsOf),
    /// The midpoint's `StoreAt`, made once before the timers.
    Midpoint,
}

/// One timed read: where, which item, and the offset of the version that
/// the read must return.
struct Call {
    point: Point,
    id: String,
    expected_offset: u64,
}

/// `count` calls of one kind. `draw_point` draws the as-of point (or none,
/// for latest reads); the id is drawn among the items live there. Also
/// returns how long resolving each as-of point took: the part of
/// `Store::at` that a read through a `StoreAt` made once does not pay.
fn draw_calls(
    store: &Store,
    written: &Written,
    stream: u64,
    count: usize,
    draw_point: impl Fn(&mut Rng) -> BenchResult<Point>,
) -> BenchResult<(Vec<Call>, Latencies)> {
    let midpoint_offset = midpoint(store);
    let mut resolve = Latencies::default();
    let mut calls = Vec::with_capacity(count);
    for call_index in 0..count {
        let mut rng = Rng::new(stream, call_index as u64);
        let point = draw_point(&mut rng)?;
        let bound = match point {
            Point::Latest => u64::MAX,
            Point::AsOf(as_of) => resolve.time(|| store.resolve_as_of(as_of))?,
            Point::Midpoint => store.resolve_as_of(AsOf::Offset(midpoint_offset))?,
        };
        let index = written.draw_live(&mut rng, bound)?;
        let expected_offset = written.current_offset(index, bound).ok_or("a live item has a version")?;
        calls.push(Call { point, id: Workload::id(index), expected_offset });
    }
    Ok((calls, resolve.finish()))
}

/// The middle offset of the log.
pub fn midpoint(store: &Store) -> u64 {
    let log = store.log();
    log.first_offset() + (log.next_offset() - log.first_offset()) / 2
}

fn random_offset(store: &Store, rng: &mut Rng) -> BenchResult<Point> {
    let log = store.log();
    Ok(Point::AsOf(AsOf::Offset(log.first_offset() + rng.below(log.next_offset() - log.first_offset()))))
}

/// A random time between the first put and the last update, written as
/// RFC 3339 and parsed as a client's would be (outside the timer).
fn random_time(written: &Written, rng: &mut Rng) -> BenchResult<Point> {
    let (first_us, last_us) = written.timestamp_range_us;
    let text = format_timestamp(first_us + rng.below(last_us - first_us + 1));
    Ok(Point::AsOf(text.parse()?))
}

/// A read that returns the offset of the version it found.
type Read = fn(&Store, &StoreAt<'_>, &Call) -> recstore::Result<u64>;

fn get(store: &Store, at_midpoint: &StoreAt<'_>, call: &Call) -> recstore::Result<u64> {
    let item = match call.point {
        Point::Latest => store.get(&call.id)?,
        Point::AsOf(as_of) => store.at(as_of)?.get(&call.id)?,
        Point::Midpoint => at_midpoint.get(&call.id)?,
    };
    Ok(item.offset)
}

fn metadata(store: &Store, at_midpoint: &StoreAt<'_>, call: &Call) -> recstore::Result<u64> {
    let meta = match call.point {
        Point::Latest => store.metadata(&call.id, None)?,
        Point::AsOf(as_of) => store.at(as_of)?.metadata(&call.id, None)?,
        Point::Midpoint => at_midpoint.metadata(&call.id, None)?,
    };
    Ok(meta.offset)
}

/// The history's last event: for an item live at the point, its current version's put.
fn history(store: &Store, at_midpoint: &StoreAt<'_>, call: &Call) -> recstore::Result<u64> {
    let history = match call.point {
        Point::Latest => store.history(&call.id)?,
        Point::AsOf(as_of) => store.at(as_of)?.history(&call.id)?,
        Point::Midpoint => at_midpoint.history(&call.id)?,
    };
    Ok(history.last().map_or(u64::MAX, |entry| entry.offset))
}

/// Times `read` on every kind's calls, interleaved call by call, and checks
/// each answer outside the timer.
fn time_interleaved(store: &Store, read: Read, kinds: &[Vec<Call>]) -> BenchResult<Vec<Latencies>> {
    let at_midpoint = store.at(AsOf::Offset(midpoint(store)))?;
    let mut latencies: Vec<Latencies> = kinds.iter().map(|_| Latencies::default()).collect();
    let call_count = kinds.iter().map(Vec::len).min().unwrap_or(0);
    for call_index in 0..call_count {
        for (kind, calls) in latencies.iter_mut().zip(kinds) {
            let call = &calls[call_index];
            let offset = kind.time(|| read(store, &at_midpoint, call))?;
            if offset != call.expected_offset {
                let expected = call.expected_offset;
                return Err(format!("{}: read the version at @{offset}, expected @{expected}", call.id).into());
            }
        }
    }
    Ok(latencies.into_iter().map(Latencies::finish).collect())
}

/// Latest vs. as-of timings of one kind of read.
pub struct Comparison {
    pub what: String,
    pub latest: Latencies,
    pub as_of: Latencies,
    /// Judged against the 2x; the other rows show where the cost goes.
    pub judged: bool,
}

impl Comparison {
    fn new(what: &str, latest: Latencies, as_of: Latencies, judged: bool) -> Self {
        Self { what: what.to_owned(), latest, as_of, judged }
    }

    pub fn ratio(&self, quantile: f64) -> f64 {
        self.as_of.quantile_us(quantile) / self.latest.quantile_us(quantile)
    }

    pub fn pass(&self) -> bool {
        self.ratio(0.5) <= AS_OF_TO_LATEST_MAX
    }

    pub fn json(&self) -> Value {
        json!({ "what": self.what, "latest": self.latest.json(), "as_of": self.as_of.json(),
            "ratio_median": self.ratio(0.5), "ratio_p99": self.ratio(0.99), "judged": self.judged })
    }
}

/// The point reads' comparisons, and the cost of resolving a point alone.
pub struct PointReads {
    pub comparisons: Vec<Comparison>,
    pub resolve_offset: Latencies,
    pub resolve_time: Latencies,
}

pub fn point_reads(store: &Store, written: &Written) -> BenchResult<PointReads> {
    progress(&format!("drawing {GET_COUNT} calls of each kind (each point resolved and timed on its own)"));
    let (latest, _) = draw_calls(store, written, STREAM_LATEST, GET_COUNT, |_| Ok(Point::Latest))?;
    let (offset, resolve_offset) =
        draw_calls(store, written, STREAM_OFFSET, GET_COUNT, |rng| random_offset(store, rng))?;
    let (time, resolve_time) = draw_calls(store, written, STREAM_TIME, GET_COUNT, |rng| random_time(written, rng))?;
    let (middle, _) = draw_calls(store, written, STREAM_MIDPOINT, GET_COUNT, |_| Ok(Point::Midpoint))?;
    progress(&format!("gets: {GET_COUNT} of each kind, interleaved"));
    let kinds = [latest, offset, time, middle];
    let [latest_get, offset_get, time_get, middle_get]: [Latencies; 4] =
        time_interleaved(store, get, &kinds)?.try_into().map_err(|_| "four kinds of get")?;
    let [latest, offset, ..] = kinds;
    let few = |calls: Vec<Call>| calls.into_iter().take(POINT_READ_COUNT).collect::<Vec<_>>();
    let kinds = [few(latest), few(offset)];
    progress(&format!("metadata and history: {POINT_READ_COUNT} of each kind, interleaved"));
    let [latest_meta, offset_meta]: [Latencies; 2] =
        time_interleaved(store, metadata, &kinds)?.try_into().map_err(|_| "two kinds of metadata")?;
    let [latest_history, offset_history]: [Latencies; 2] =
        time_interleaved(store, history, &kinds)?.try_into().map_err(|_| "two kinds of history")?;
    let comparisons = vec![
        Comparison::new("get, as of a random @offset", latest_get.clone(), offset_get, true),
        Comparison::new("get, as of a random RFC 3339 time", latest_get.clone(), time_get, true),
        Comparison::new("get, as of the midpoint, StoreAt made once", latest_get, middle_get, false),
        Comparison::new("metadata, as of a random @offset", latest_meta, offset_meta, false),
        Comparison::new("history, as of a random @offset", latest_history, offset_history, false),
    ];
    Ok(PointReads { comparisons, resolve_offset, resolve_time })
}

// ---------------------------------------------------------------- queries

/// The query workload and what it returned on each side.
pub struct QueryInfo {
    pub tag: String,
    pub type_count: usize,
    pub latest_mean_hit_count: f64,
    pub as_of_mean_hit_count: f64,
    pub live_latest: u64,
    pub live_at_midpoint: u64,
}

/// The type+tag queries of about 1% selectivity (as `store_bench` picks
/// them), each type in turn: latest, then as of the midpoint, interleaved.
pub fn queries(store: &Store, queries: &[Query]) -> BenchResult<(Comparison, QueryInfo)> {
    let midpoint_as_of = AsOf::Offset(midpoint(store));
    let bound = store.resolve_as_of(midpoint_as_of)?;
    for query in queries.iter().cycle().take(QUERY_WARM_UP_COUNT) {
        store.query_hits(query)?;
        store.at(midpoint_as_of)?.query_hits(query)?;
    }
    let (mut latest, mut as_of) = (Latencies::default(), Latencies::default());
    let (mut latest_hit_count, mut as_of_hit_count) = (0, 0);
    for query in queries.iter().cycle().take(QUERY_COUNT) {
        latest_hit_count += latest.time(|| store.query_hits(query))?.len();
        let hits = as_of.time(|| store.at(midpoint_as_of)?.query_hits(query))?;
        if let Some(hit) = hits.iter().find(|hit| hit.offset >= bound) {
            return Err(format!("{query:?} as of @{bound}: hit {} at @{}, past the point", hit.id, hit.offset).into());
        }
        as_of_hit_count += hits.len();
    }
    let info = QueryInfo {
        tag: queries.first().map(|q| q.tags.join(",")).unwrap_or_default(),
        type_count: queries.len(),
        latest_mean_hit_count: latest_hit_count as f64 / QUERY_COUNT as f64,
        as_of_mean_hit_count: as_of_hit_count as f64 / QUERY_COUNT as f64,
        live_latest: store.stats().items_live,
        live_at_midpoint: store.at(midpoint_as_of)?.stats().items_live,
    };
    let what = "type+tag query -> ids, as of the midpoint";
    Ok((Comparison::new(what, latest.finish(), as_of.finish(), true), info))
}
