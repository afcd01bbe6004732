//! What the benchmarks share for reporting: the result table, per-call
//! latencies and their quantiles, the load average and the verdict words.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The word in a table's verdict column.
pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// Prints `rows` as left-aligned columns two spaces apart; the first row is
/// the header and gets a rule under it.
pub fn print_table<R: AsRef<[String]>>(rows: &[R]) {
    let column_count = rows.iter().map(|row| row.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..column_count)
        .map(|column| rows.iter().filter_map(|row| row.as_ref().get(column)).map(|c| c.chars().count()).max())
        .map(Option::unwrap_or_default)
        .collect();
    for (index, row) in rows.iter().enumerate() {
        let line: Vec<String> =
            row.as_ref().iter().zip(&widths).map(|(cell, &width)| format!("{cell:<width$}")).collect();
        println!("{}", line.join("  ").trim_end());
        if index == 0 {
            println!("{}", "-".repeat(widths.iter().sum::<usize>() + 2 * column_count.saturating_sub(1)));
        }
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// How many times faster the faster of two runs of one baseline was.
pub fn drift(first: f64, second: f64) -> f64 {
    first.max(second) / first.min(second)
}

/// The value at `quantile` (0 to 1) of sorted values, nearest rank; `None`
/// when there are none.
pub fn quantile<T: Copy>(sorted: &[T], quantile: f64) -> Option<T> {
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted.get(index).copied()
}

/// Per-call latencies in nanoseconds; sorted by [`Latencies::finish`].
#[derive(Default, Clone)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    /// Runs `call` and records how long it took, on its own.
    pub fn time<T>(&mut self, call: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = call();
        self.push(started.elapsed());
        result
    }

    pub fn push(&mut self, elapsed: Duration) {
        self.0.push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn finish(mut self) -> Self {
        self.0.sort_unstable();
        self
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// After [`Latencies::finish`]; NaN when nothing was timed.
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        self::quantile(&self.0, quantile).map_or(f64::NAN, |ns| ns as f64 / 1_000.0)
    }

    pub fn json(&self) -> Value {
        json!({ "count": self.0.len(), "median_us": self.quantile_us(0.5), "p99_us": self.quantile_us(0.99) })
    }
}
