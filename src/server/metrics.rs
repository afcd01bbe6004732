//! `GET /metrics`: what an operator watches, in the Prometheus text format.
//!
//! Owns the request counters and latency histograms (recorded by
//! [`track_requests`], labelled by route template, method and status, so
//! the label sets stay bounded whatever the ids), and reads everything else
//! at scrape time: the log's counters, the search view's and consumer
//! groups' lag, the checkpoint's age, compaction totals and the process.
//! Never labels by id or any other unbounded value. Encoding is
//! `prometheus-client`'s; names follow Prometheus conventions (`_total`,
//! `_seconds`, `_bytes`).

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::state::AppState;
use crate::Store;
use crate::log::FSYNC_BUCKETS_US;

/// Upper bounds of the request latency buckets, in seconds: 100 µs to 10 s.
const REQUEST_SECONDS_BUCKETS: [f64; 11] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1.0, 2.5, 10.0];

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

/// Labels of a consumer group's figures. Groups are few and named by
/// operators, unlike ids.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

/// The registry and the metrics the server records as requests pass.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    requests_in_flight: Gauge,
    open_connections: Gauge,
}

impl Metrics {
    /// The open-connections gauge, for the accept loop (`listen.rs`), which
    /// counts each connection from accept to close.
    pub fn open_connections(&self) -> Gauge {
        self.open_connections.clone()
    }

    /// Registers every family: the request metrics, and a collector that
    /// reads `state`'s store and counters at each scrape.
    pub fn new(store: std::sync::Arc<Store>, counters: std::sync::Arc<super::state::Counters>) -> Self {
        let mut registry = Registry::with_prefix("recstore");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(REQUEST_SECONDS_BUCKETS.iter().copied())
        });
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response headers",
            Unit::Seconds,
            request_seconds.clone(),
        );
        let requests_in_flight = Gauge::default();
        registry.register("http_requests_in_flight", "Requests being answered now", requests_in_flight.clone());
        registry.register_collector(Box::new(StoreCollector { store, counters }));
        let open_connections = Gauge::default();
        registry.register(
            "http_open_connections",
            "HTTP connections accepted and not yet closed",
            open_connections.clone(),
        );
        Self { registry, requests, request_seconds, requests_in_flight, open_connections }
    }

    /// The text a scrape gets.
    fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        process::render(&mut out);
        out
    }
}

#[utoipa::path(
    get, path = "/metrics", tag = "admin",
    responses((status = 200, description = "The Prometheus text format, 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)),
)]
/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = std::sync::Arc::clone(&state.metrics);
    // The collector reads the store (a record for the search lag, a stat of
    // the checkpoint), so it runs off the async threads.
    let text = tokio::task::spawn_blocking(move || metrics.render()).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], text).into_response()
}

/// Middleware around the whole router: counts every request by route
/// template, method and status, and times it. A request refused before
/// routing (a missing token) or matching no route counts as `unmatched`.
pub async fn track_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = bounded_method(request.method());
    let started = Instant::now();
    state.metrics.requests_in_flight.inc();
    let response = next.run(request).await;
    state.metrics.requests_in_flight.dec();
    let route = response.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let labels = RouteLabels { route, method };
    state.metrics.request_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    let RouteLabels { route, method } = labels;
    state.metrics.requests.get_or_create(&RequestLabels { route, method, status: response.status().as_u16() }).inc();
    response
}

/// Route layer: puts the matched route template on the response, where
/// [`track_requests`], outside the router, can read it.
pub async fn note_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// The method as a label: the standard ones by name, anything else as
/// `other`, so a client cannot grow the label set.
fn bounded_method(method: &axum::http::Method) -> String {
    use axum::http::Method;
    let known = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::HEAD, Method::OPTIONS, Method::PATCH];
    if known.contains(method) { method.as_str().to_string() } else { "other".to_string() }
}

/// Reads the store's figures at scrape time.
struct StoreCollector {
    store: std::sync::Arc<Store>,
    counters: std::sync::Arc<super::state::Counters>,
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollector").field("dir", &self.store.dir()).finish_non_exhaustive()
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.encode_log(&mut encoder)?;
        self.encode_views(&mut encoder)?;
        self.encode_compaction(&mut encoder)?;
        self.encode_groups(&mut encoder)?;
        let counters = &self.counters;
        counter(
            &mut encoder,
            "items_written",
            "Item versions written through the API.",
            None,
            load(&counters.items_written),
        )?;
        counter(&mut encoder, "queries", "Queries and searches answered.", None, load(&counters.queries))?;
        gauge(&mut encoder, "log_followers_open", "Log streams open now.", None, load(&counters.open_followers))
    }
}

impl StoreCollector {
    fn encode_log(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let log = self.store.log();
        let snapshot = log.metrics();
        counter(encoder, "log_appends", "Batches appended to the log.", None, snapshot.appends)?;
        counter(encoder, "log_records", "Records appended to the log.", None, snapshot.records)?;
        counter(encoder, "log_appended", "Frame bytes appended to the log.", Some(Unit::Bytes), snapshot.bytes)?;
        gauge(encoder, "log_next_offset", "Offset the next record will get.", None, log.next_offset())?;
        gauge(encoder, "log_first_offset", "First offset the log still holds.", None, log.first_offset())?;
        gauge(encoder, "log_segments", "Segment files.", None, log.segment_count() as u64)?;
        gauge(encoder, "log_size", "Bytes of all segment files.", Some(Unit::Bytes), log.size_bytes())?;
        // Per-bucket counts: the encoder sums them into cumulative ones.
        let mut buckets: Vec<(f64, u64)> = FSYNC_BUCKETS_US
            .iter()
            .zip(&snapshot.fsync_buckets)
            .map(|(bound_us, count)| (*bound_us as f64 / 1e6, *count))
            .collect();
        let counted: u64 = buckets.iter().map(|(_, count)| count).sum();
        buckets.push((f64::INFINITY, snapshot.fsyncs.saturating_sub(counted)));
        let histogram = SnapshotHistogram { sum: snapshot.fsync_sum_us as f64 / 1e6, count: snapshot.fsyncs, buckets };
        let metric = encoder.encode_descriptor(
            "fsync_duration",
            "fdatasync latency.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        histogram.encode(metric)
    }

    fn encode_views(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let log_next = self.store.log().next_offset();
        if let Ok(index) = self.store.search_index() {
            let indexed_next = index.indexed_next_offset().min(log_next);
            let lag_us = self.lag_us(indexed_next);
            gauge(
                encoder,
                "search_indexed_next_offset",
                "Searches see every record below this offset.",
                None,
                indexed_next,
            )?;
            gauge(
                encoder,
                "search_lag_offsets",
                "Records the search view has not indexed yet.",
                None,
                log_next - indexed_next,
            )?;
            gauge_f64(
                encoder,
                "search_lag",
                "Age of the oldest record the search view lacks.",
                Unit::Seconds,
                lag_us as f64 / 1e6,
            )?;
        }
        gauge(
            encoder,
            "checkpoint_pending_records",
            "Records applied since the last checkpoint.",
            None,
            self.store.records_since_checkpoint(),
        )?;
        if let Some(age) = self.store.checkpoint_age() {
            gauge_f64(
                encoder,
                "checkpoint_age",
                "Time since the views checkpoint was written.",
                Unit::Seconds,
                age.as_secs_f64(),
            )?;
        }
        Ok(())
    }

    /// How long ago the first record below `log_next` that is not in
    /// `next_offset` was written: 0 when nothing lags.
    fn lag_us(&self, next_offset: u64) -> u64 {
        let log = self.store.log();
        if next_offset >= log.next_offset() {
            return 0;
        }
        let oldest_missing_us = log.read(next_offset).map_or(log.last_timestamp_us(), |record| record.timestamp_us);
        let now_us = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0);
        now_us.saturating_sub(oldest_missing_us)
    }

    fn encode_compaction(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counters = &self.counters;
        counter(encoder, "compaction_runs", "Compactions that finished.", None, load(&counters.compactions))?;
        counter(encoder, "compaction_failures", "Compactions that failed.", None, load(&counters.compaction_failures))?;
        let seconds = load(&counters.compaction_duration_us) as f64 / 1e6;
        let metric = encoder.encode_descriptor(
            "compaction_duration",
            "Time spent compacting.",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?;
        ConstCounter::new(seconds).encode(metric)?;
        counter(
            encoder,
            "compaction_reclaimed",
            "Disk bytes compaction gave back.",
            Some(Unit::Bytes),
            load(&counters.compaction_reclaimed_bytes),
        )?;
        counter(
            encoder,
            "compaction_records_dropped",
            "Records compaction dropped.",
            None,
            load(&counters.compaction_records_dropped),
        )
    }

    fn encode_groups(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let groups = self.store.consumer_groups();
        let mut committed = encoder.encode_descriptor(
            "consumer_group_committed_offset",
            "The next offset a group will read.",
            None,
            MetricType::Gauge,
        )?;
        for group in &groups {
            let labels = GroupLabels { group: group.group.clone() };
            ConstGauge::new(i64::try_from(group.offset).unwrap_or(i64::MAX))
                .encode(committed.encode_family(&labels)?)?;
        }
        let mut lag = encoder.encode_descriptor(
            "consumer_group_lag_offsets",
            "Records written that a group has not committed.",
            None,
            MetricType::Gauge,
        )?;
        for group in &groups {
            let labels = GroupLabels { group: group.group.clone() };
            ConstGauge::new(i64::try_from(group.lag).unwrap_or(i64::MAX)).encode(lag.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// A histogram read from elsewhere (the log's fsync buckets), cumulative.
#[derive(Debug)]
struct SnapshotHistogram {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl EncodeMetric for SnapshotHistogram {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(metric)
}

fn gauge_f64(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Unit,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, Some(&unit), MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

/// The standard `process_*` metrics, from `/proc/self` (Linux; elsewhere none).
mod process {
    use std::fmt::Write as _;

    /// Appends the process metrics, as the official clients name them.
    pub(super) fn render(out: &mut String) {
        let Some(stat) = read_stat() else { return };
        let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", stat.cpu_seconds);
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", stat.resident_bytes);
        metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.virtual_bytes);
        metric(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            stat.start_time_seconds,
        );
        metric("process_threads", "gauge", "Number of OS threads in the process.", stat.threads);
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            metric("process_open_fds", "gauge", "Number of open file descriptors.", entries.count() as f64);
        }
    }

    struct Stat {
        cpu_seconds: f64,
        resident_bytes: f64,
        virtual_bytes: f64,
        start_time_seconds: f64,
        threads: f64,
    }

    /// CPU time and start time from `/proc/self/stat` (see proc(5); the
    /// command name may hold spaces, so fields are counted from the last
    /// `)`), memory and threads from `/proc/self/status`.
    fn read_stat() -> Option<Stat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = text.get(text.rfind(')')? + 2..)?.split(' ').collect();
        // Field n of proc(5) is fields[n - 3] here.
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        // USER_HZ: clock ticks are 1/100 s in Linux's user-space ABI.
        let ticks_per_second = 100.0;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let status_field = |name: &str| {
            let line = status.lines().find_map(|line| line.strip_prefix(name))?;
            line.split_whitespace().next()?.parse::<f64>().ok()
        };
        Some(Stat {
            cpu_seconds: (field(14)? + field(15)?) / ticks_per_second,
            start_time_seconds: boot_time_seconds()? + field(22)? / ticks_per_second,
            resident_bytes: status_field("VmRSS:")? * 1024.0,
            virtual_bytes: status_field("VmSize:")? * 1024.0,
            threads: status_field("Threads:")?,
        })
    }

    fn boot_time_seconds() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        text.lines().find_map(|line| line.strip_prefix("btime ")).and_then(|s| s.trim().parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::bounded_method;
    use axum::http::Method;

    #[test]
    fn unknown_methods_share_one_label() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(bounded_method(&Method::GET), "GET");
        assert_eq!(bounded_method(&Method::from_bytes(b"BREW")?), "other");
        Ok(())
    }
}
