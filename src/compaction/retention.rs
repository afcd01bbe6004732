//! The retention policy: which of one item's records compaction drops, and why.
//!
//! Owns the rules, nothing else. [`decide`] is a pure function of an item's
//! events and the policy: no I/O, no clock, no locks. The views call it when
//! they apply a compaction record and the worker's plan calls it before
//! appending one, so both reach the same answer, and so does a replay of the
//! compacted log. The reasoning that makes that true (drops form a prefix,
//! and deciding again changes nothing) is written next to [`decide`] and
//! checked by the property tests below.

use serde::{Deserialize, Serialize};

/// Versions kept per item unless the policy says otherwise (the old store's 5).
pub const MAX_VERSIONS_DEFAULT: u32 = 5;
/// Days of superseded history kept unless the policy says otherwise (the old store's 30).
pub const RETENTION_DAYS_DEFAULT: u32 = 30;
const MICROS_PER_DAY: u64 = 86_400 * 1_000_000;

/// What compaction keeps. Every field is plain data, so a policy can be
/// written into the log (the compaction record) and applied again on replay.
///
/// ```
/// use recstore::compaction::Policy;
/// let policy = Policy::default().max_versions(Some(3)).cutoff_us(Some(1_700_000_000_000_000)).purge(true);
/// assert_eq!(policy.max_versions, Some(3));
/// assert!(policy.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Keep at most this many versions of each item (the newest ones); `None`: no limit.
    pub max_versions: Option<u32>,
    /// Drop history that ended before this time (microseconds since the
    /// epoch): versions superseded, and items deleted, before it. `None`: no cutoff.
    pub cutoff_us: Option<u64>,
    /// Also drop the current version of a live item stored before the cutoff
    /// (the old store's cleanup).
    pub expire: bool,
    /// Leave no audit stub: dropped records, and the tombstones that ended
    /// them, disappear from the log, and items left with nothing are forgotten.
    pub purge: bool,
}

impl Default for Policy {
    /// Five versions per item, 30 days of history counted back from now,
    /// no expiry, audit stubs kept.
    fn default() -> Self {
        Self { max_versions: Some(MAX_VERSIONS_DEFAULT), cutoff_us: None, expire: false, purge: false }
            .retention_days(RETENTION_DAYS_DEFAULT)
    }
}

impl Policy {
    /// A policy that drops nothing: compaction then only finishes the work a
    /// crash interrupted.
    pub fn keep_everything() -> Self {
        Self { max_versions: None, cutoff_us: None, expire: false, purge: false }
    }

    /// The store's configured defaults: `max_versions` and `retention_days`.
    pub fn from_options(options: &crate::store::StoreOptions) -> Self {
        Self::default().max_versions(Some(options.max_versions)).retention_days(options.retention_days)
    }

    /// Sets the number of versions kept per item.
    pub fn max_versions(mut self, max_versions: Option<u32>) -> Self {
        self.max_versions = max_versions;
        self
    }

    /// Sets the cutoff to `days` before now.
    pub fn retention_days(mut self, days: u32) -> Self {
        self.cutoff_us = Some(now_us().saturating_sub(u64::from(days) * MICROS_PER_DAY));
        self
    }

    /// Sets an explicit cutoff time, or none.
    pub fn cutoff_us(mut self, cutoff_us: Option<u64>) -> Self {
        self.cutoff_us = cutoff_us;
        self
    }

    /// Sets whether live items older than the cutoff lose their current version.
    pub fn expire(mut self, expire: bool) -> Self {
        self.expire = expire;
        self
    }

    /// Sets whether dropped records leave audit stubs (`false`) or nothing (`true`).
    pub fn purge(mut self, purge: bool) -> Self {
        self.purge = purge;
        self
    }

    /// Refuses policies that make no sense: keeping zero versions (use
    /// `expire` to drop current versions), or expiring without a cutoff.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_versions == Some(0) {
            return Err("max_versions must be at least 1: the newest version is dropped only by expire".into());
        }
        if self.expire && self.cutoff_us.is_none() {
            return Err("expire needs a cutoff (retention_days or an explicit time)".into());
        }
        Ok(())
    }
}

fn now_us() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}

/// Why a record was dropped. The code is what audit stubs store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    /// More than `max_versions` newer versions of the item exist.
    MaxVersions,
    /// Superseded by a later version before the cutoff.
    Retention,
    /// The current version of a live item, stored before the cutoff (`expire`).
    Expired,
    /// A version (or tombstone) of an item deleted before the cutoff.
    Deleted,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Reason; 4] = [Reason::MaxVersions, Reason::Retention, Reason::Expired, Reason::Deleted];

    /// The byte stored in an audit stub.
    pub fn code(self) -> u8 {
        match self {
            Reason::MaxVersions => 1,
            Reason::Retention => 2,
            Reason::Expired => 3,
            Reason::Deleted => 4,
        }
    }

    /// The reason a stub's byte names, if it names one.
    pub fn from_code(code: u8) -> Option<Self> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A stable lower-case name, for reports and messages.
    pub fn name(self) -> &'static str {
        match self {
            Reason::MaxVersions => "max_versions",
            Reason::Retention => "retention",
            Reason::Expired => "expired",
            Reason::Deleted => "deleted",
        }
    }
}

/// Records counted by the reason they were dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCounts {
    /// Dropped for [`Reason::MaxVersions`].
    pub max_versions: u64,
    /// Dropped for [`Reason::Retention`].
    pub retention: u64,
    /// Dropped for [`Reason::Expired`].
    pub expired: u64,
    /// Dropped for [`Reason::Deleted`].
    pub deleted: u64,
}

impl ReasonCounts {
    /// Adds `count` records dropped for `reason`.
    pub fn add(&mut self, reason: Reason, count: u64) {
        *self.slot(reason) += count;
    }

    /// Records dropped for `reason`.
    pub fn get(&self, reason: Reason) -> u64 {
        match reason {
            Reason::MaxVersions => self.max_versions,
            Reason::Retention => self.retention,
            Reason::Expired => self.expired,
            Reason::Deleted => self.deleted,
        }
    }

    /// Records dropped for any reason.
    pub fn total(&self) -> u64 {
        Reason::ALL.iter().map(|r| self.get(*r)).sum()
    }

    fn slot(&mut self, reason: Reason) -> &mut u64 {
        match reason {
            Reason::MaxVersions => &mut self.max_versions,
            Reason::Retention => &mut self.retention,
            Reason::Expired => &mut self.expired,
            Reason::Deleted => &mut self.deleted,
        }
    }
}

/// One event of an item as the policy sees it: the views' `ItemEvent`
/// without the attributes the policy does not look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Offset of the record.
    pub offset: u64,
    /// Its ingestion time.
    pub timestamp_us: u64,
    /// The version a put created; 0 for a delete.
    pub version: u32,
}

impl Event {
    fn is_delete(&self) -> bool {
        self.version == 0
    }
}

/// Decides, for each of one item's events (in offset order), whether
/// compaction drops its record, and why. `None` keeps it.
///
/// Only events below `eligible_end` (the records in the segments being
/// compacted) are looked at, and everything is judged as of that point: an
/// event's successor, the item's current version and whether it is deleted
/// are taken from the eligible events alone. Events at or after
/// `eligible_end` are always kept. For a put:
///
/// 1. superseded (by the next event) before the cutoff: dropped, as
///    [`Reason::Deleted`] if the item is deleted, else [`Reason::Retention`];
/// 2. the current version of a live item stored before the cutoff, with
///    `expire`: dropped as [`Reason::Expired`];
/// 3. followed by `max_versions` or more puts: dropped as [`Reason::MaxVersions`];
/// 4. anything else is kept; so the current version of a live item is kept
///    unless rule 2 drops it.
///
/// A tombstone is dropped only with `purge`, and then exactly when the put
/// it ended is dropped (for the same reason): a tombstone whose put is gone
/// would be a delete of nothing on replay.
///
/// Why the views, the worker and a replay agree: timestamps never decrease
/// in offset order, so rule 1 drops a prefix of the events; rule 3 drops a
/// prefix of the puts; rule 2 drops the last event only when rule 1 already
/// drops everything before it. The dropped puts are therefore a prefix of
/// the puts, and with `purge` the dropped events are a prefix of the events.
/// Removing that prefix leaves every other event with the same successor,
/// the same number of later puts and the same last event, so deciding again
/// drops nothing new: the policy is idempotent. The decision never looks at
/// whether a record is already a stub, so a replay that meets stubs (or
/// gaps) where the live store met puts decides the same.
pub fn decide(events: &[Event], eligible_end: u64, policy: &Policy) -> Vec<Option<Reason>> {
    let mut fates = vec![None; events.len()];
    decide_into(events, eligible_end, policy, &mut fates);
    fates
}

/// [`decide`] into a caller's buffer (`fates.len() == events.len()`), so a
/// pass over every item allocates nothing per item.
pub fn decide_into(events: &[Event], eligible_end: u64, policy: &Policy, fates: &mut [Option<Reason>]) {
    assert_eq!(events.len(), fates.len(), "one fate per event");
    fates.fill(None);
    let eligible = &events[..events.partition_point(|e| e.offset < eligible_end)];
    let Some(last) = eligible.last() else { return };
    let deleted = last.is_delete();
    let before_cutoff = |timestamp_us: u64| policy.cutoff_us.is_some_and(|cutoff| timestamp_us < cutoff);
    let mut later_puts: u32 = 0;
    for (index, event) in eligible.iter().enumerate().rev() {
        if event.is_delete() {
            continue;
        }
        let successor = eligible.get(index + 1);
        fates[index] = match successor {
            Some(next) if before_cutoff(next.timestamp_us) => {
                Some(if deleted { Reason::Deleted } else { Reason::Retention })
            }
            None if policy.expire && before_cutoff(event.timestamp_us) => Some(Reason::Expired),
            _ if policy.max_versions.is_some_and(|max| later_puts >= max) => Some(Reason::MaxVersions),
            _ => None,
        };
        later_puts = later_puts.saturating_add(1);
    }
    if policy.purge {
        let mut ended: Option<Option<Reason>> = None;
        for (index, event) in eligible.iter().enumerate() {
            if event.is_delete() {
                // A tombstone with no put before it cannot occur in the views;
                // keeping it is the safe answer if it ever did.
                fates[index] = ended.flatten();
            } else {
                ended = Some(fates[index]);
            }
        }
    }
}

/// The as-of horizon one item's drops imply: `(offset, timestamp_us)` such
/// that reads as of any bound at or above `offset` (any time at or after
/// `timestamp_us`) see none of the dropped records as current. For a dropped
/// record with a successor that is just past the successor; for one without
/// (an expired current version, a purged final tombstone), just past itself.
pub fn horizon(events: &[Event], fates: &[Option<Reason>]) -> Option<(u64, u64)> {
    let last_dropped = fates.iter().rposition(Option::is_some)?;
    let event = events.get(last_dropped + 1).unwrap_or(&events[last_dropped]);
    Some((event.offset + 1, event.timestamp_us))
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    const DAY_US: u64 = MICROS_PER_DAY;

    fn put(offset: u64, day: u64, version: u32) -> Event {
        Event { offset, timestamp_us: day * DAY_US, version }
    }

    fn delete(offset: u64, day: u64) -> Event {
        Event { offset, timestamp_us: day * DAY_US, version: 0 }
    }

    fn policy(max_versions: Option<u32>, cutoff_day: Option<u64>) -> Policy {
        Policy { max_versions, cutoff_us: cutoff_day.map(|d| d * DAY_US), expire: false, purge: false }
    }

    #[test]
    fn keeps_the_newest_versions() {
        let events: Vec<Event> = (1..=7).map(|v| put(u64::from(v) * 10, 100, v)).collect();
        let fates = decide(&events, u64::MAX, &policy(Some(5), None));
        assert_eq!(fates[..2], [Some(Reason::MaxVersions); 2]);
        assert!(fates[2..].iter().all(Option::is_none));
    }

    #[test]
    fn drops_history_that_ended_before_the_cutoff() {
        // v1 ended on day 20 (dropped), v2 ended on day 40 (kept), v3 is current.
        let events = [put(1, 10, 1), put(2, 20, 2), put(3, 40, 3)];
        let fates = decide(&events, u64::MAX, &policy(None, Some(30)));
        assert_eq!(fates, [Some(Reason::Retention), None, None]);
    }

    #[test]
    fn the_current_version_stays_unless_expired() {
        let events = [put(1, 10, 1)];
        assert_eq!(decide(&events, u64::MAX, &policy(Some(1), Some(30))), [None]);
        let expire = policy(Some(1), Some(30)).expire(true);
        assert_eq!(decide(&events, u64::MAX, &expire), [Some(Reason::Expired)]);
    }

    #[test]
    fn deleted_items_go_with_their_tombstone_only_when_purged() {
        let events = [put(1, 10, 1), put(2, 11, 2), delete(3, 12)];
        let keep_stubs = policy(None, Some(30));
        assert_eq!(decide(&events, u64::MAX, &keep_stubs), [Some(Reason::Deleted), Some(Reason::Deleted), None]);
        let purge = keep_stubs.purge(true);
        assert_eq!(decide(&events, u64::MAX, &purge), [Some(Reason::Deleted); 3]);
        // Deleted after the cutoff: the last version is still history within retention.
        let recent = [put(1, 10, 1), delete(2, 40)];
        assert_eq!(decide(&recent, u64::MAX, &purge), [None, None]);
    }

    #[test]
    fn only_eligible_events_count() {
        // v3 arrived after the roll: v2 is still the current version as of it.
        let events = [put(1, 10, 1), put(2, 20, 2), put(3, 25, 3)];
        let fates = decide(&events, 3, &policy(Some(1), Some(30)));
        assert_eq!(fates, [Some(Reason::Retention), None, None]);
        assert_eq!(horizon(&events, &fates), Some((3, 20 * DAY_US)));
    }

    #[test]
    fn horizon_is_past_the_successor_of_the_last_drop() {
        let events = [put(5, 10, 1), put(9, 11, 2), put(30, 12, 3)];
        let fates = decide(&events, u64::MAX, &policy(Some(2), None));
        assert_eq!(horizon(&events, &fates), Some((10, 11 * DAY_US)));
        let expired = decide(&events, u64::MAX, &policy(None, Some(30)).expire(true));
        assert_eq!(horizon(&events, &expired), Some((31, 12 * DAY_US)));
        assert_eq!(horizon(&events, &[None, None, None]), None);
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(Policy::keep_everything().max_versions(Some(0)).validate().is_err());
        assert!(Policy::keep_everything().expire(true).validate().is_err());
        assert!(Policy::default().validate().is_ok());
        for reason in Reason::ALL {
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
        }
    }

    /// A valid event list: puts and deletes alternating as the views allow
    /// (a delete only of a live item), timestamps non-decreasing.
    fn events() -> impl Strategy<Value = Vec<Event>> {
        vec((any::<bool>(), 0..3u64, 1..4u64), 1..24).prop_map(|steps| {
            let (mut offset, mut day, mut version, mut live) = (0, 0, 0, false);
            let mut events = Vec::new();
            for (want_delete, day_step, offset_step) in steps {
                offset += offset_step;
                day += day_step;
                if want_delete && live {
                    events.push(delete(offset, day));
                    live = false;
                } else {
                    version += 1;
                    events.push(put(offset, day, version));
                    live = true;
                }
            }
            events
        })
    }

    fn policies() -> impl Strategy<Value = Policy> {
        (proptest::option::of(1..5u32), proptest::option::of(0..40u64), any::<bool>(), any::<bool>()).prop_map(
            |(max_versions, cutoff_day, expire, purge)| Policy {
                max_versions,
                cutoff_us: cutoff_day.map(|d| d * DAY_US),
                expire: expire && cutoff_day.is_some(),
                purge,
            },
        )
    }

    /// What the log holds after compaction, as the policy sees it.
    fn compacted(events: &[Event], fates: &[Option<Reason>], purge: bool) -> Vec<Event> {
        events.iter().zip(fates).filter(|(_, fate)| !(purge && fate.is_some())).map(|(e, _)| *e).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn drops_are_a_prefix(events in events(), policy in policies(), cut in 0..80u64) {
            let fates = decide(&events, cut, &policy);
            let puts: Vec<bool> = events.iter().zip(&fates).filter(|(e, _)| !e.is_delete()).map(|(_, f)| f.is_some()).collect();
            prop_assert!(puts.windows(2).all(|w| w[0] || !w[1]), "dropped puts must be a prefix: {:?}", fates);
            if policy.purge {
                prop_assert!(fates.windows(2).all(|w| w[0].is_some() || w[1].is_none()), "{:?}", fates);
            } else {
                prop_assert!(events.iter().zip(&fates).all(|(e, f)| !e.is_delete() || f.is_none()));
            }
            for (event, fate) in events.iter().zip(&fates) {
                prop_assert!(event.offset < cut || fate.is_none(), "an ineligible event was dropped");
            }
        }

        #[test]
        fn deciding_again_drops_nothing_new(events in events(), policy in policies(), cut in 0..80u64) {
            let fates = decide(&events, cut, &policy);
            let after = compacted(&events, &fates, policy.purge);
            let again = decide(&after, cut, &policy);
            if policy.purge {
                prop_assert!(again.iter().all(Option::is_none), "purge left droppable events: {:?}", again);
            } else {
                prop_assert_eq!(&again, &fates);
            }
        }

        #[test]
        fn keeps_what_the_policy_promises(events in events(), policy in policies()) {
            let fates = decide(&events, u64::MAX, &policy);
            let last = events.len() - 1;
            let live = !events[last].is_delete();
            let old = policy.cutoff_us.is_some_and(|c| events[last].timestamp_us < c);
            if live {
                prop_assert_eq!(fates[last].is_some(), policy.expire && old, "the current version: {:?}", fates);
            } else {
                prop_assert!(policy.purge || fates[last].is_none(), "a tombstone dropped without purge");
            }
            if let Some(max) = policy.max_versions {
                let kept = events.iter().zip(&fates).filter(|(e, f)| !e.is_delete() && f.is_none()).count();
                prop_assert!(kept <= max as usize);
            }
            for (index, (event, fate)) in events.iter().zip(&fates).enumerate() {
                let ended_recently = events.get(index + 1).is_none_or(|n| policy.cutoff_us.is_none_or(|c| n.timestamp_us >= c));
                let within_max = policy.max_versions.is_none_or(|max| {
                    events[index + 1..].iter().filter(|e| !e.is_delete()).count() < max as usize
                });
                if !event.is_delete() && ended_recently && within_max && !(index == last && policy.expire && old) {
                    prop_assert!(fate.is_none(), "event {} was dropped without a reason: {:?}", index, fates);
                }
            }
        }

        #[test]
        fn an_earlier_compaction_replayed_over_a_later_one_changes_nothing(
            events in events(), first in policies(), second in policies(), cut_first in 0..40u64, cut_extra in 0..40u64,
        ) {
            // The live store applies C1 then C2. A replay meets the log as C2
            // left it, then applies C1 and C2 again: neither may drop more.
            let cut_second = cut_first + cut_extra;
            let fates_first = decide(&events, cut_first, &first);
            let after_first = compacted(&events, &fates_first, first.purge);
            let fates_second = decide(&after_first, cut_second, &second);
            let last = compacted(&after_first, &fates_second, second.purge);
            let replay_first = decide(&last, cut_first, &first);
            let dropped_before: std::collections::HashSet<u64> = events
                .iter()
                .zip(&fates_first)
                .chain(after_first.iter().zip(&fates_second))
                .filter(|(_, f)| f.is_some())
                .map(|(e, _)| e.offset)
                .collect();
            for (event, fate) in last.iter().zip(&replay_first) {
                prop_assert!(fate.is_none() || dropped_before.contains(&event.offset), "replayed C1 drops {:?}", event);
                prop_assert!(fate.is_none() || !first.purge, "replayed C1 would purge {:?} again", event);
            }
            let replay_second = decide(&last, cut_second, &second);
            for (event, fate) in last.iter().zip(&replay_second) {
                prop_assert!(fate.is_none() || dropped_before.contains(&event.offset), "replayed C2 drops {:?}", event);
                prop_assert!(fate.is_none() || !second.purge, "replayed C2 would purge {:?} again", event);
            }
        }
    }
}
