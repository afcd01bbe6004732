//! Property tests over the whole input range of each number that meets
//! time or size: retention days, `before`/`since`/`until` times, and log
//! offsets. Regression: `u64::from(days) * MICROS_PER_DAY` wrapped, so
//! `--retention-days 4270079647` set a cutoff 7.4 hours ago and deleted
//! recent history (a panic in debug builds). Now every value either means
//! what it says or is refused, naming its maximum; none wraps or panics.

use chrono::Datelike;
use proptest::prelude::*;
use recstore::compaction::Policy;
use recstore::limits::RETENTION_DAYS_MAX;
use recstore::records::retention::{check_retention_days, cutoff_days_before};
use recstore::timetravel::AsOf;
use recstore::{ErrorKind, Store, StoreOptions};

const MICROS_PER_DAY: u64 = 86_400_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any day count over any clock: the cutoff is exact when it fits, the
    /// epoch when it does not, never later than now, and later days never
    /// give a later cutoff.
    #[test]
    fn a_retention_cutoff_never_wraps(now_us in any::<u64>(), days in any::<u32>(), more in any::<u32>()) {
        let cutoff = cutoff_days_before(now_us, days);
        prop_assert!(cutoff <= now_us);
        match u64::from(days).checked_mul(MICROS_PER_DAY).and_then(|span| now_us.checked_sub(span)) {
            Some(exact) => prop_assert_eq!(cutoff, exact),
            None => prop_assert_eq!(cutoff, 0),
        }
        let longer = days.saturating_add(more);
        prop_assert!(cutoff_days_before(now_us, longer) <= cutoff);
    }

    /// What every surface checks: a day count is taken up to the maximum
    /// and refused above it, naming the maximum.
    #[test]
    fn retention_days_above_the_maximum_are_refused(days in any::<u64>()) {
        match check_retention_days(days) {
            Ok(taken) => prop_assert!(days <= u64::from(RETENTION_DAYS_MAX) && u64::from(taken) == days),
            Err(message) => {
                prop_assert!(days > u64::from(RETENTION_DAYS_MAX));
                prop_assert!(message.contains(&RETENTION_DAYS_MAX.to_string()), "{}", message);
            }
        }
    }

    /// Policies built from the whole u32 range: the cutoff is in the past.
    #[test]
    fn a_policy_of_any_retention_cuts_off_in_the_past(days in any::<u32>()) {
        let cutoff = Policy::default().retention_days(days).cutoff_us.unwrap_or(u64::MAX);
        let now_us = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0);
        prop_assert!(cutoff <= now_us);
        if days > RETENTION_DAYS_MAX {
            prop_assert!(cutoff <= now_us.saturating_sub(u64::from(RETENTION_DAYS_MAX) * MICROS_PER_DAY));
        }
    }

    /// Any RFC 3339 time chrono can write, as `before`/`since`/`until`
    /// take it: its microseconds since the epoch, or (before 1970) a refusal.
    #[test]
    fn any_time_parses_to_its_microseconds_or_is_refused(micros in any::<i64>()) {
        let Some(time) = chrono::DateTime::from_timestamp_micros(micros) else { return Ok(()) };
        let text = time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        match text.parse::<AsOf>() {
            Ok(AsOf::Time { timestamp_us }) => prop_assert_eq!(Some(timestamp_us), u64::try_from(micros).ok()),
            Ok(other) => prop_assert!(false, "{} parsed as {:?}", text, other),
            Err(error) => {
                // RFC 3339 writes years in four digits; chrono writes later ones with a sign.
                prop_assert!(micros < 0 || time.year() > 9999, "{}: {}", text, error);
                prop_assert_eq!(error.kind(), ErrorKind::InvalidInput);
            }
        }
    }

    /// Any text at all as a WHEN: a time, an offset or a refusal, never a panic.
    #[test]
    fn any_when_text_is_taken_or_refused(text in "\\PC{0,40}") {
        let _ = text.parse::<AsOf>();
    }

    /// Any `@OFFSET` text: a u64 parses, anything longer is refused.
    #[test]
    fn any_offset_text_parses_or_is_refused(offset in any::<u128>()) {
        let parsed = format!("@{offset}").parse::<AsOf>();
        match u64::try_from(offset) {
            Ok(small) => prop_assert!(matches!(parsed, Ok(AsOf::Offset(o)) if o == small)),
            Err(_) => prop_assert!(parsed.is_err()),
        }
    }
}

/// Log offsets over the whole u64 range against one small store: up to the
/// next offset a start is taken, beyond it refused as `invalid_input`, and
/// a time at any offset resolves or is refused, never panics.
#[test]
fn any_log_offset_is_taken_or_refused() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    store.put(recstore::Data::Json(serde_json::json!(1)), recstore::Metadata::default())?;
    let next_offset = store.log().next_offset();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2048));
    runner.run(&any::<u64>(), |offset| {
        let start = store.check_log_start(offset);
        prop_assert_eq!(start.is_ok(), offset <= next_offset);
        if let Err(error) = start {
            prop_assert_eq!(error.kind(), ErrorKind::InvalidInput);
            let expected = format!("the next offset is {next_offset}");
            prop_assert!(error.to_string().contains(&expected), "{}", error);
        }
        let time = store.timestamp_of(AsOf::Offset(offset));
        prop_assert_eq!(time.is_ok(), offset < next_offset);
        prop_assert!(store.events(offset, usize::MAX).is_ok());
        Ok(())
    })?;
    Ok(())
}
