//! The wall clock that stamps records and segment headers, and the range of
//! readings the log accepts (segments-format.md, "Timestamps").
//!
//! Owns the conversion of a clock reading into `timestamp_us`. It never
//! panics on a reading and never stamps one outside 1970..=9999: such a
//! reading is refused before any byte is written. Tests replace the clock
//! through [`LogOptions`](super::LogOptions) to read any time they like.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::LogError;

/// The last microsecond of year 9999 UTC: the latest stamp that RFC 3339
/// (four-digit years) can print.
pub const TIMESTAMP_US_MAX: u64 = 253_402_300_799_999_999;

/// Where a log reads the time. The default reads the system clock.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use recstore::log::Clock;
/// let before_1970 = Clock::new(|| UNIX_EPOCH - Duration::from_secs(1));
/// ```
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// A clock that reads `now` each time it is asked.
    pub fn new(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The reading as microseconds since 1970, or an error naming it if it
    /// lies before 1970 or after year 9999.
    pub(crate) fn now_us(&self) -> Result<u64, LogError> {
        timestamp_us_of((self.0)())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new(SystemTime::now)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Microseconds since 1970 of `reading`, if it lies in 1970..=9999.
pub(crate) fn timestamp_us_of(reading: SystemTime) -> Result<u64, LogError> {
    let refused = || LogError::ClockOutOfRange { reading: describe(reading) };
    let since_epoch = reading.duration_since(UNIX_EPOCH).map_err(|_| refused())?;
    u64::try_from(since_epoch.as_micros()).ok().filter(|&us| us <= TIMESTAMP_US_MAX).ok_or_else(refused)
}

/// The current system time for names and cutoffs that are not stamped into
/// the log (quarantine folders, retention): 0 if the clock is out of range,
/// rather than a panic.
pub(crate) fn system_now_us() -> u64 {
    timestamp_us_of(SystemTime::now()).unwrap_or(0)
}

/// A reading as a calendar time where chrono can say it, else as seconds
/// from 1970.
fn describe(reading: SystemTime) -> String {
    let micros: i128 = match reading.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_micros()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_micros()).map_or(i128::MIN, |us| -us),
    };
    let seconds = i64::try_from(micros.div_euclid(1_000_000)).unwrap_or(i64::MAX);
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0);
    match chrono::DateTime::from_timestamp(seconds, nanos) {
        Some(time) => time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("{seconds} s from 1970"),
    }
}

/// Formats a record stamp (microseconds since the epoch) as RFC 3339 UTC
/// with microseconds.
pub fn format_timestamp(timestamp_us: u64) -> String {
    let micros = i64::try_from(timestamp_us).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn readings_inside_1970_to_9999_convert_and_those_outside_are_refused_by_name() {
        assert_eq!(timestamp_us_of(UNIX_EPOCH).ok(), Some(0));
        let last = UNIX_EPOCH + Duration::from_micros(TIMESTAMP_US_MAX);
        assert_eq!(timestamp_us_of(last).ok(), Some(TIMESTAMP_US_MAX));
        let early = timestamp_us_of(UNIX_EPOCH - Duration::from_secs(86_400)).map_err(|e| e.to_string());
        assert_eq!(early.err().as_deref(), Some(clock_message("1969-12-31T00:00:00.000000Z").as_str()));
        let late = timestamp_us_of(last + Duration::from_micros(1)).map_err(|e| e.to_string());
        assert!(late.is_err_and(|e| e.contains("10000-01-01T00:00:00.000000Z")));
    }

    fn clock_message(reading: &str) -> String {
        LogError::ClockOutOfRange { reading: reading.into() }.to_string()
    }
}
