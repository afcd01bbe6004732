//! Queries over the latest versions of live items, answered from the
//! type, source, tag and time indices: a selective query touches only the
//! items it returns, never every item.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::Store;
use super::item::ItemMeta;
use super::read::LATEST;
use super::views::{ByAttribute, ItemEvent, ItemState, Views};
use crate::error::{Error, Result};

/// What to look for. Every set field must match; results are in the order
/// items were first stored.
///
/// ```
/// use recstore::Query;
/// // The old store's retrieve_by_query({"type": ..., "tag": ...}):
/// let query = Query::from_json(&serde_json::json!({"type": "sensor_reading", "tag": "raw_data"}))?;
/// assert_eq!(query.tags, vec!["raw_data".to_string()]);
/// # Ok::<(), recstore::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Items of this type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub item_type: Option<String>,
    /// Items from this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Items carrying all of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Latest version stored at or after this time (microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_us: Option<u64>,
    /// Latest version stored before this time (microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_us: Option<u64>,
    /// At most this many results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Skip this many results first.
    #[serde(default)]
    pub offset: usize,
}

/// One query result without its metadata: enough to fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueryHit {
    /// The id.
    pub id: String,
    /// The latest version.
    pub version: u32,
    /// Offset of its record.
    pub offset: u64,
}

impl Query {
    /// Reads the old store's query shape: `type`, `tag` (one) or `tags`
    /// (list), `source` or `source_id`, `since`/`until` (RFC 3339), `limit`, `offset`.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let object = value.as_object().ok_or_else(|| Error::invalid("a query is a JSON object"))?;
        let mut query = Query::default();
        for (key, value) in object {
            let text =
                || value.as_str().map(str::to_string).ok_or_else(|| Error::invalid(format!("{key} must be a string")));
            let number = || value.as_u64().ok_or_else(|| Error::invalid(format!("{key} must be a whole number")));
            match key.as_str() {
                "type" => query.item_type = Some(text()?),
                "source" | "source_id" => query.source = Some(text()?),
                "tag" => query.tags.push(text()?),
                "tags" => {
                    let tags = value.as_array().ok_or_else(|| Error::invalid("tags must be a list of strings"))?;
                    for tag in tags {
                        let tag = tag.as_str().ok_or_else(|| Error::invalid("tags must be a list of strings"))?;
                        query.tags.push(tag.to_string());
                    }
                }
                "since" => query.since_us = Some(parse_time(&text()?)?),
                "until" => query.until_us = Some(parse_time(&text()?)?),
                "limit" => query.limit = Some(usize::try_from(number()?).unwrap_or(usize::MAX)),
                "offset" => query.offset = usize::try_from(number()?).unwrap_or(usize::MAX),
                other => return Err(Error::invalid(format!("unknown query field {other:?}"))),
            }
        }
        Ok(query)
    }

    /// The matching live items as a bitmap of item numbers.
    #[allow(clippy::items_after_statements, reason = "a local helper reads best next to its use")]
    pub(super) fn matching(&self, views: &Views) -> RoaringBitmap {
        fn lookup(bitmaps: &[RoaringBitmap], id: Option<u32>) -> Option<&RoaringBitmap> {
            id.and_then(|i| bitmaps.get(i as usize))
        }
        let mut filters: Vec<&RoaringBitmap> = Vec::new();
        let empty = RoaringBitmap::new();
        if let Some(item_type) = &self.item_type {
            filters
                .push(lookup(&views.state.indices.current.by_type, views.state.types.get(item_type)).unwrap_or(&empty));
        }
        if let Some(source) = &self.source {
            filters.push(
                lookup(&views.state.indices.current.by_source, views.state.sources.get(source)).unwrap_or(&empty),
            );
        }
        for tag in &self.tags {
            filters.push(lookup(&views.state.indices.current.by_tag, views.state.tags.get(tag)).unwrap_or(&empty));
        }
        let has_time = self.since_us.is_some() || self.until_us.is_some();
        let (since, until) = (self.since_us.unwrap_or(0), self.until_us.unwrap_or(u64::MAX));
        if filters.is_empty() {
            if !has_time {
                return views.state.indices.live.clone();
            }
            let entries = views.state.indices.by_time.between(since, until);
            return entries.filter(|&(time_us, n)| views.is_current_time(time_us, n)).map(|(_, n)| n).collect();
        }
        filters.sort_by_key(|b| b.len());
        let mut result = filters[1..].iter().fold(filters[0].clone(), |result, bitmap| result & *bitmap);
        if has_time {
            let items = &views.state.items;
            result = result.iter().filter(|&n| (since..until).contains(&items.latest(n).timestamp_us)).collect();
        }
        result
    }
}

/// The first item number in `0..item_count` for which `before` is false;
/// `before` must be true for a prefix of the numbers and false after it.
fn partition_point(item_count: usize, before: impl Fn(u32) -> bool) -> u32 {
    let (mut low, mut high) = (0u32, u32::try_from(item_count).expect("fewer than 4 billion items"));
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// Parses an RFC 3339 time into microseconds since the epoch.
pub fn parse_time(text: &str) -> Result<u64> {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| Error::invalid(format!("{text:?} is not an RFC 3339 time (like 2026-11-25T10:00:00Z): {e}")))?;
    u64::try_from(time.timestamp_micros()).map_err(|_| Error::invalid(format!("{text:?} is before 1970")))
}

impl Query {
    /// The items matching as of `bound` (records below it), each with the
    /// event that is its state then. At the latest bound this is the
    /// current-index fast path; before it, candidates come from the
    /// current and past bitmaps (between them every version an item ever
    /// had) and each is checked against its version at `bound`.
    fn select(&self, views: &Views, bound: u64) -> Vec<(u32, ItemEvent)> {
        let limit = self.limit.unwrap_or(usize::MAX);
        if bound >= views.state.next_offset {
            let items = &views.state.items;
            return self.latest_page(views).into_iter().map(|n| (n, *items.latest(n))).collect();
        }
        self.candidates_before(views, bound)
            .filter_map(|n| views.row(n).last_before(bound).filter(|e| self.accepts(views, e)).map(|e| (n, *e)))
            .skip(self.offset)
            .take(limit)
            .collect()
    }

    /// The item numbers of the page of latest matches that `offset` and
    /// `limit` ask for.
    fn latest_page(&self, views: &Views) -> Vec<u32> {
        let limit = self.limit.unwrap_or(usize::MAX);
        self.matching(views).iter().skip(self.offset).take(limit).collect()
    }

    pub(super) fn candidates_before<'a>(&self, views: &'a Views, bound: u64) -> Box<dyn Iterator<Item = u32> + 'a> {
        let indices = &views.state.indices;
        let ever = |group: fn(&ByAttribute) -> &[RoaringBitmap], id: Option<u32>| {
            let (current, past) = (group(&indices.current), group(&indices.past));
            let at = |i: u32| (current.get(i as usize), past.get(i as usize));
            match id.map_or((None, None), at) {
                (Some(current), Some(past)) => current | past,
                (Some(one), None) | (None, Some(one)) => one.clone(),
                (None, None) => RoaringBitmap::new(),
            }
        };
        let mut filters = Vec::new();
        if let Some(item_type) = &self.item_type {
            filters.push(ever(|by| &by.by_type, views.state.types.get(item_type)));
        }
        if let Some(source) = &self.source {
            filters.push(ever(|by| &by.by_source, views.state.sources.get(source)));
        }
        for tag in &self.tags {
            filters.push(ever(|by| &by.by_tag, views.state.tags.get(tag)));
        }
        match filters.into_iter().reduce(|a, b| a & b) {
            Some(bitmap) => Box::new(bitmap.into_iter()),
            None => {
                // Items are numbered in order of their first put, which is offset order.
                let items = &views.state.items;
                let existing = partition_point(items.len(), |n| items.row(n).events[0].offset < bound);
                Box::new(0..existing)
            }
        }
    }

    /// Whether an item whose state is `event` matches.
    pub(super) fn accepts(&self, views: &Views, event: &ItemEvent) -> bool {
        let state = &views.state;
        let same = |name: &Option<String>, interner: &super::views::Interner, id: u32| {
            name.as_ref().is_none_or(|n| interner.get(n) == Some(id))
        };
        let tags = state.tagsets.tags(event.tagset_id);
        event.item_state() == ItemState::Live
            && same(&self.item_type, &state.types, event.type_id)
            && same(&self.source, &state.sources, event.source_id)
            && self.tags.iter().all(|t| state.tags.get(t).is_some_and(|id| tags.contains(&id)))
            && self.since_us.is_none_or(|since| event.timestamp_us >= since)
            && self.until_us.is_none_or(|until| event.timestamp_us < until)
    }
}

impl Store {
    /// Ids, versions and offsets of the matching items: the fast path.
    pub fn query_hits(&self, query: &Query) -> Result<Vec<QueryHit>> {
        self.query_hits_at(query, LATEST)
    }

    pub(crate) fn query_hits_at(&self, query: &Query, bound: u64) -> Result<Vec<QueryHit>> {
        let views = self.read_views();
        let items = &views.state.items;
        if bound < views.state.next_offset {
            let hit = |(n, event): (u32, ItemEvent)| QueryHit {
                id: items.id(n).to_string(),
                version: event.version,
                offset: event.offset,
            };
            return Ok(query.select(&views, bound).into_iter().map(hit).collect());
        }
        // From the bitmap to the hits through the dense table, whose reads
        // are ordered so that the CPU overlaps their cache misses.
        let hits = items.latest_hits(&query.latest_page(&views)).into_iter();
        Ok(hits.map(|h| QueryHit { id: h.id.to_string(), version: h.version, offset: h.offset }).collect())
    }

    /// Number of matching items (ignores `limit` and `offset`).
    pub fn count(&self, query: &Query) -> Result<u64> {
        self.count_at(query, LATEST)
    }

    pub(crate) fn count_at(&self, query: &Query, bound: u64) -> Result<u64> {
        let views = self.read_views();
        if bound >= views.state.next_offset {
            return Ok(query.matching(&views).len());
        }
        let unpaged = Query { limit: None, offset: 0, ..query.clone() };
        Ok(unpaged.select(&views, bound).len() as u64)
    }

    /// Metadata of the latest version of each matching item.
    pub fn query(&self, query: &Query) -> Result<Vec<ItemMeta>> {
        self.query_at(query, LATEST)
    }

    pub(crate) fn query_at(&self, query: &Query, bound: u64) -> Result<Vec<ItemMeta>> {
        let selected: Vec<(String, ItemEvent)> = {
            let views = self.read_views();
            query.select(&views, bound).into_iter().map(|(n, e)| (views.state.items.id(n).to_string(), e)).collect()
        };
        selected.iter().map(|(id, event)| self.read_meta(id, event)).collect()
    }
}
