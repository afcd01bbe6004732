//! The retention policy: which of one item's records compaction drops, and why.
//!
//! Owns the rules, nothing else. [`decide`] is a pure function of an item's
//! events, the versions of it that datasets pin, and the policy: no I/O, no
//! clock, no locks. The views call it when they apply a compaction record
//! and the worker's plan calls it before appending one, so both reach the
//! same answer, and so does a replay of the compacted log. The reasoning
//! that makes that true (what a compaction removes is a prefix, and
//! deciding again changes nothing) is written next to [`decide`] and checked
//! by the property tests below.

use serde::{Deserialize, Serialize};

/// The time `days` before `now_us`, or the epoch if that is earlier: a
/// product or difference that does not fit a u64 keeps everything rather
/// than wrapping to a recent cutoff.
pub fn cutoff_days_before(now_us: u64, days: u32) -> u64 {
    u64::from(days).checked_mul(MICROS_PER_DAY).map_or(0, |span_us| now_us.saturating_sub(span_us))
}

/// Refuses a retention of more than [`crate::limits::RETENTION_DAYS_MAX`]
/// days, naming the maximum: what each surface checks before anything runs.
pub fn check_retention_days(days: u64) -> Result<u32, String> {
    let max = crate::limits::RETENTION_DAYS_MAX;
    u32::try_from(days)
        .ok()
        .filter(|&days| days <= max)
        .ok_or_else(|| format!("retention_days {days} is above the maximum of {max} days"))
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Policy {
    /// Keep at most this many versions of each item (the newest ones, plus
    /// any that a dataset's latest version pins); `None`: no limit.
    pub max_versions: Option<u32>,
    /// Drop history that ended before this time (microseconds since the
    /// epoch): versions superseded, and items deleted, before it. `None`: no cutoff.
    pub cutoff_us: Option<u64>,
    /// Also drop the current version of a live item stored before the cutoff
    /// (the old store's cleanup).
    pub expire: bool,
    /// Leave no audit stub: dropped records, and the tombstones that ended
    /// them, disappear from the log, and items left with nothing are
    /// forgotten. A version a dataset pins stops this for the versions
    /// after it: those that are dropped become audit stubs (see [`decide`]).
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

    /// Sets the number of versions kept per item.
    pub fn max_versions(mut self, max_versions: Option<u32>) -> Self {
        self.max_versions = max_versions;
        self
    }

    /// Sets the cutoff to `days` before now. Every surface refuses more
    /// than [`crate::limits::RETENTION_DAYS_MAX`] days; here a larger value
    /// puts the cutoff at the epoch (keep all history), never a wrap.
    pub fn retention_days(mut self, days: u32) -> Self {
        self.cutoff_us = Some(cutoff_days_before(now_us(), days));
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
    crate::log::system_now_us()
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Whether this event is a delete.
    pub fn is_delete(&self) -> bool {
        self.version == 0
    }

    /// Whether this event is the put that created `version`.
    pub fn is_put_of(&self, version: u32) -> bool {
        !self.is_delete() && self.version == version
    }
}

/// What compaction does with one item's events: [`decide`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// For each event, `Some(reason)` if its record is dropped, `None` if kept.
    pub fates: Vec<Option<Reason>>,
    /// With `purge`, the first `removed_count` events leave the log (and the
    /// views) altogether; a dropped put after them becomes an audit stub,
    /// as without `purge`. Always 0 without `purge`.
    pub removed_count: usize,
}

/// Decides, for each of one item's events (in offset order), whether
/// compaction drops its record, and why; and, with `purge`, how many of
/// them leave the log instead of becoming audit stubs.
///
/// `pinned_versions` are the item's versions that the latest version of
/// some dataset pins (as the compaction record lists them; they need not
/// all be among `events`). Only events below `eligible_end` (the records in
/// the segments being compacted) are looked at, and everything is judged as
/// of that point: an event's successor, the item's current version and
/// whether it is deleted are taken from the eligible events alone. Events at
/// or after `eligible_end` are always kept. For a put:
///
/// 1. pinned: kept, whatever the rules below say, exactly as the current
///    version of a live item is kept (it counts as a later version for the
///    puts before it, like any put);
/// 2. superseded (by the next event) before the cutoff: dropped, as
///    [`Reason::Deleted`] if the item is deleted, else [`Reason::Retention`];
/// 3. the current version of a live item stored before the cutoff, with
///    `expire`: dropped as [`Reason::Expired`];
/// 4. followed by `max_versions` or more puts: dropped as [`Reason::MaxVersions`];
/// 5. anything else is kept; so the current version of a live item is kept
///    unless rule 3 drops it.
///
/// Without `purge` a dropped put becomes an audit stub and a tombstone is
/// never dropped. With `purge`, the events removed from the log are the
/// longest prefix made of dropped puts below the item's lowest pinned
/// version and the tombstones that ended them; the removed tombstones are
/// dropped for the reason of their put, every other tombstone is kept, and
/// a dropped put after that prefix becomes an audit stub. Only a pin can
/// leave one there, or a delete at or after `eligible_end` that ended the
/// last eligible put (which is then not removed). So a tombstone leaves
/// only with the put it ended and a put never leaves without its tombstone
/// (a tombstone whose put is gone would be a delete of nothing on replay,
/// or would end a different version), and an item is never left live by
/// the removal of the tombstone that deleted it.
///
/// Why the views, the worker and a replay agree. Timestamps never decrease
/// in offset order, so, pins aside, rule 2 drops a prefix of the events,
/// rule 4 a prefix of the puts, and rule 3 drops the last event only when
/// rule 2 already drops everything before it: the puts dropped without pins
/// are a prefix of the puts. Each rule looks only at the event and the
/// events after it, and so does the removal, which is bounded by the lowest
/// pinned *version* (not by where, or whether, that version still is in the
/// log). What a compaction removes is therefore a prefix, and removing a
/// prefix leaves every other event with the same successor, the same later
/// puts, the same last event and the same pins: deciding again with the same
/// pins drops the same records and removes nothing more (the policy is
/// idempotent), and a replay that meets this compaction's record after a
/// later compaction removed more of the prefix decides the same for what is
/// left. The decision never looks at whether a record is already a stub, so
/// a replay that meets stubs (or gaps) where the live store met puts decides
/// the same.
pub fn decide(events: &[Event], pinned_versions: &[u32], eligible_end: u64, policy: &Policy) -> Decision {
    let mut fates = vec![None; events.len()];
    let removed_count = decide_into(events, pinned_versions, eligible_end, policy, &mut fates);
    Decision { fates, removed_count }
}

/// [`decide`] into a caller's buffer (`fates.len() == events.len()`), so a
/// pass over every item allocates nothing per item. Returns the removed
/// count ([`Decision::removed_count`]).
pub fn decide_into(
    events: &[Event],
    pinned_versions: &[u32],
    eligible_end: u64,
    policy: &Policy,
    fates: &mut [Option<Reason>],
) -> usize {
    assert_eq!(events.len(), fates.len(), "one fate per event");
    fates.fill(None);
    let eligible = &events[..events.partition_point(|e| e.offset < eligible_end)];
    let Some(last) = eligible.last() else { return 0 };
    let deleted = last.is_delete();
    let before_cutoff = |timestamp_us: u64| policy.cutoff_us.is_some_and(|cutoff| timestamp_us < cutoff);
    let mut later_puts: u32 = 0;
    for (index, event) in eligible.iter().enumerate().rev() {
        if event.is_delete() {
            continue;
        }
        let successor = eligible.get(index + 1);
        let fate = match successor {
            Some(next) if before_cutoff(next.timestamp_us) => {
                Some(if deleted { Reason::Deleted } else { Reason::Retention })
            }
            None if policy.expire && before_cutoff(event.timestamp_us) => Some(Reason::Expired),
            _ if policy.max_versions.is_some_and(|max| later_puts >= max) => Some(Reason::MaxVersions),
            _ => None,
        };
        fates[index] = fate.filter(|_| !pinned_versions.contains(&event.version));
        later_puts = later_puts.saturating_add(1);
    }
    if policy.purge { removed_prefix(events, eligible.len(), pinned_versions, fates) } else { 0 }
}

/// With purge: the length of the prefix [`decide`] removes from `events`,
/// of which the first `eligible_count` are eligible, giving each removed
/// tombstone its put's reason.
fn removed_prefix(
    events: &[Event],
    eligible_count: usize,
    pinned_versions: &[u32],
    fates: &mut [Option<Reason>],
) -> usize {
    let pinned_min = pinned_versions.iter().copied().min().unwrap_or(u32::MAX);
    let mut removed_count = 0;
    for (index, event) in events[..eligible_count].iter().enumerate() {
        let removed = if event.is_delete() {
            // Everything before it is removed, so its put is too. A
            // tombstone with no put before it cannot occur in the views;
            // keeping it is the safe answer if it ever did.
            index > 0
        } else {
            fates[index].is_some() && event.version < pinned_min
        };
        if !removed {
            break;
        }
        if event.is_delete() {
            fates[index] = fates[index - 1];
        }
        removed_count += 1;
    }
    // A delete written after the compaction sealed its segments ends the
    // last eligible put (an expired one): removing that put would leave the
    // delete ending nothing, so it stays, as a stub.
    if events.get(removed_count).is_some_and(Event::is_delete) {
        removed_count = removed_count.saturating_sub(1);
    }
    removed_count
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
    use std::collections::HashMap;

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

    /// The fates of `events` with nothing pinned.
    fn fates(events: &[Event], eligible_end: u64, policy: &Policy) -> Vec<Option<Reason>> {
        decide(events, &[], eligible_end, policy).fates
    }

    #[test]
    fn keeps_the_newest_versions() {
        let events: Vec<Event> = (1..=7).map(|v| put(u64::from(v) * 10, 100, v)).collect();
        let fates = fates(&events, u64::MAX, &policy(Some(5), None));
        assert_eq!(fates[..2], [Some(Reason::MaxVersions); 2]);
        assert!(fates[2..].iter().all(Option::is_none));
    }

    #[test]
    fn drops_history_that_ended_before_the_cutoff() {
        // v1 ended on day 20 (dropped), v2 ended on day 40 (kept), v3 is current.
        let events = [put(1, 10, 1), put(2, 20, 2), put(3, 40, 3)];
        let fates = fates(&events, u64::MAX, &policy(None, Some(30)));
        assert_eq!(fates, [Some(Reason::Retention), None, None]);
    }

    #[test]
    fn the_current_version_stays_unless_expired() {
        let events = [put(1, 10, 1)];
        assert_eq!(fates(&events, u64::MAX, &policy(Some(1), Some(30))), [None]);
        let expire = policy(Some(1), Some(30)).expire(true);
        assert_eq!(fates(&events, u64::MAX, &expire), [Some(Reason::Expired)]);
    }

    #[test]
    fn deleted_items_go_with_their_tombstone_only_when_purged() {
        let events = [put(1, 10, 1), put(2, 11, 2), delete(3, 12)];
        let keep_stubs = policy(None, Some(30));
        assert_eq!(fates(&events, u64::MAX, &keep_stubs), [Some(Reason::Deleted), Some(Reason::Deleted), None]);
        let purge = keep_stubs.purge(true);
        assert_eq!(
            decide(&events, &[], u64::MAX, &purge),
            Decision { fates: vec![Some(Reason::Deleted); 3], removed_count: 3 }
        );
        // Deleted after the cutoff: the last version is still history within retention.
        let recent = [put(1, 10, 1), delete(2, 40)];
        assert_eq!(decide(&recent, &[], u64::MAX, &purge), Decision { fates: vec![None, None], removed_count: 0 });
    }

    #[test]
    fn only_eligible_events_count() {
        // v3 arrived after the roll: v2 is still the current version as of it.
        let events = [put(1, 10, 1), put(2, 20, 2), put(3, 25, 3)];
        let fates = fates(&events, 3, &policy(Some(1), Some(30)));
        assert_eq!(fates, [Some(Reason::Retention), None, None]);
        assert_eq!(horizon(&events, &fates), Some((3, 20 * DAY_US)));
    }

    #[test]
    fn horizon_is_past_the_successor_of_the_last_drop() {
        let events = [put(5, 10, 1), put(9, 11, 2), put(30, 12, 3)];
        let fates_max = fates(&events, u64::MAX, &policy(Some(2), None));
        assert_eq!(horizon(&events, &fates_max), Some((10, 11 * DAY_US)));
        let expired = fates(&events, u64::MAX, &policy(None, Some(30)).expire(true));
        assert_eq!(horizon(&events, &expired), Some((31, 12 * DAY_US)));
        assert_eq!(horizon(&events, &[None, None, None]), None);
    }

    #[test]
    fn a_pinned_version_is_never_dropped() {
        // A dataset pins v1; v2..v7 followed, all before the cutoff.
        let events: Vec<Event> = (1..=7).map(|v| put(u64::from(v), u64::from(v), v)).collect();
        let strict = policy(Some(1), Some(30));
        let decision = decide(&events, &[1], u64::MAX, &strict);
        assert_eq!(decision.fates[0], None, "pinned v1 stays");
        assert!(decision.fates[1..6].iter().all(Option::is_some), "{decision:?}");
        assert_eq!(decision.fates[6], None, "the current version stays");
        // Pinned and expired: still kept.
        let expire = strict.expire(true);
        assert_eq!(decide(&events, &[7], u64::MAX, &expire).fates[6], None);
        assert_eq!(decide(&events, &[], u64::MAX, &expire).fates[6], Some(Reason::Expired));
    }

    #[test]
    fn purge_removes_only_what_is_below_the_lowest_pin() {
        let events: Vec<Event> = (1..=5).map(|v| put(u64::from(v), u64::from(v), v)).collect();
        let purge = policy(Some(1), Some(30)).purge(true);
        let decision = decide(&events, &[3], u64::MAX, &purge);
        assert_eq!(decision.removed_count, 2, "v1 and v2 leave the log");
        assert_eq!(decision.fates[2], None, "v3 is pinned");
        assert_eq!(decision.fates[3], Some(Reason::Retention), "v4 becomes a stub");
        // A pin bounds the removal even when its version is no longer in the
        // log (a later compaction purged it): a replay decides the same.
        assert_eq!(decide(&events[3..], &[3], u64::MAX, &purge).removed_count, 0);
    }

    #[test]
    fn purge_keeps_a_deleted_item_with_a_pinned_version_deleted() {
        let events = [put(1, 1, 1), put(2, 2, 2), delete(3, 3)];
        let purge = policy(None, Some(30)).purge(true);
        let decision = decide(&events, &[1], u64::MAX, &purge);
        assert_eq!(decision, Decision { fates: vec![None, Some(Reason::Deleted), None], removed_count: 0 });
        let last_pinned = decide(&events, &[2], u64::MAX, &purge);
        assert_eq!(last_pinned, Decision { fates: vec![Some(Reason::Deleted), None, None], removed_count: 1 });
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

    /// Pinned versions: none half the time, else one to three (some of
    /// which may name no event).
    fn pins() -> impl Strategy<Value = Vec<u32>> {
        prop_oneof![Just(Vec::new()), vec(1..16u32, 1..4)]
    }

    /// What the log holds after compaction, as the policy sees it.
    fn compacted(events: &[Event], decision: &Decision) -> Vec<Event> {
        events[decision.removed_count..].to_vec()
    }

    /// Fates by offset, to compare decisions over different event lists.
    fn by_offset(events: &[Event], fates: &[Option<Reason>]) -> HashMap<u64, Option<Reason>> {
        events.iter().zip(fates).map(|(e, f)| (e.offset, *f)).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn removals_are_a_prefix_and_pins_are_kept(
            events in events(), pins in pins(), policy in policies(), cut in 0..80u64,
        ) {
            let Decision { fates, removed_count } = decide(&events, &pins, cut, &policy);
            let pinned = |e: &Event| pins.contains(&e.version);
            let unpinned_puts: Vec<bool> = events.iter().zip(&fates)
                .filter(|(e, _)| !e.is_delete() && !pinned(e)).map(|(_, f)| f.is_some()).collect();
            prop_assert!(unpinned_puts.windows(2).all(|w| w[0] || !w[1]), "unpinned drops must be a prefix: {:?}", fates);
            prop_assert!(fates[..removed_count].iter().all(Option::is_some), "only dropped records are removed");
            prop_assert!(policy.purge || removed_count == 0);
            let pinned_min = pins.iter().copied().min().unwrap_or(u32::MAX);
            for (index, (event, fate)) in events.iter().zip(&fates).enumerate() {
                prop_assert!(event.offset < cut || fate.is_none(), "an ineligible event was dropped");
                prop_assert!(!pinned(event) || event.is_delete() || fate.is_none(), "pinned v{} dropped", event.version);
                if event.is_delete() {
                    prop_assert_eq!(fate.is_some(), index < removed_count, "a tombstone goes only with its removed put");
                } else if index < removed_count {
                    prop_assert!(event.version < pinned_min, "v{} removed at or above a pin", event.version);
                }
            }
            if removed_count < events.len() {
                prop_assert!(!events[removed_count].is_delete(), "what is left starts with a put");
            }
        }

        #[test]
        fn deciding_again_drops_nothing_new(events in events(), pins in pins(), policy in policies(), cut in 0..80u64) {
            let decision = decide(&events, &pins, cut, &policy);
            let after = compacted(&events, &decision);
            let again = decide(&after, &pins, cut, &policy);
            prop_assert_eq!(again.removed_count, 0, "a second run removes more: {:?}", again);
            prop_assert_eq!(&again.fates[..], &decision.fates[decision.removed_count..]);
        }

        #[test]
        fn keeps_what_the_policy_promises(events in events(), pins in pins(), policy in policies()) {
            let Decision { fates, removed_count } = decide(&events, &pins, u64::MAX, &policy);
            let pinned = |e: &Event| !e.is_delete() && pins.contains(&e.version);
            let last = events.len() - 1;
            let live = !events[last].is_delete();
            let old = policy.cutoff_us.is_some_and(|c| events[last].timestamp_us < c);
            if live {
                let expired = policy.expire && old && !pinned(&events[last]);
                prop_assert_eq!(fates[last].is_some(), expired, "the current version: {:?}", fates);
            } else if removed_count <= last {
                prop_assert!(fates[last].is_none(), "a deleted item that keeps a record keeps its tombstone");
            }
            if let Some(max) = policy.max_versions {
                let kept = events.iter().zip(&fates).filter(|(e, f)| !e.is_delete() && !pinned(e) && f.is_none()).count();
                prop_assert!(kept <= max as usize);
            }
            for (index, (event, fate)) in events.iter().zip(&fates).enumerate() {
                let ended_recently = events.get(index + 1).is_none_or(|n| policy.cutoff_us.is_none_or(|c| n.timestamp_us >= c));
                let within_max = policy.max_versions.is_none_or(|max| {
                    events[index + 1..].iter().filter(|e| !e.is_delete()).count() < max as usize
                });
                let expired = index == last && policy.expire && old;
                if !event.is_delete() && (pinned(event) || (ended_recently && within_max && !expired)) {
                    prop_assert!(fate.is_none(), "event {} was dropped without a reason: {:?}", index, fates);
                }
            }
        }

        #[test]
        fn an_earlier_compaction_replayed_over_a_later_one_changes_nothing(
            events in events(), first in policies(), second in policies(), pins_first in pins(), pins_second in pins(),
            cut_first in 0..40u64, cut_extra in 0..40u64,
        ) {
            // The live store applies C1 then C2, each with the pins of its
            // time. A replay meets the log as C2 left it, then applies C1 and
            // C2 again: each must decide as it did live, and remove nothing.
            let cut_second = cut_first + cut_extra;
            let live_first = decide(&events, &pins_first, cut_first, &first);
            let after_first = compacted(&events, &live_first);
            let live_second = decide(&after_first, &pins_second, cut_second, &second);
            let last = compacted(&after_first, &live_second);
            for (pins, cut, policy, live, live_events) in [
                (&pins_first, cut_first, &first, &live_first, &events),
                (&pins_second, cut_second, &second, &live_second, &after_first),
            ] {
                let replay = decide(&last, pins, cut, policy);
                prop_assert_eq!(replay.removed_count, 0, "a replayed compaction removes {:?}", replay);
                let live_fates = by_offset(live_events, &live.fates);
                for (event, fate) in last.iter().zip(&replay.fates) {
                    prop_assert_eq!(Some(fate), live_fates.get(&event.offset), "replay differs at {:?}", event);
                }
            }
        }
    }
}
