//! Queries over the latest versions of live items, answered from the
//! type, source, tag and time indices: a selective query touches only the
//! items it returns, never every item.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::Store;
use super::item::ItemMeta;
use super::views::Views;
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    fn matching(&self, views: &Views) -> RoaringBitmap {
        fn lookup(bitmaps: &[RoaringBitmap], id: Option<u32>) -> Option<&RoaringBitmap> {
            id.and_then(|i| bitmaps.get(i as usize))
        }
        let mut filters: Vec<&RoaringBitmap> = Vec::new();
        let empty = RoaringBitmap::new();
        if let Some(item_type) = &self.item_type {
            filters.push(lookup(&views.by_type, views.state.types.get(item_type)).unwrap_or(&empty));
        }
        if let Some(source) = &self.source {
            filters.push(lookup(&views.by_source, views.state.sources.get(source)).unwrap_or(&empty));
        }
        for tag in &self.tags {
            filters.push(lookup(&views.by_tag, views.state.tags.get(tag)).unwrap_or(&empty));
        }
        let has_time = self.since_us.is_some() || self.until_us.is_some();
        let (since, until) = (self.since_us.unwrap_or(0), self.until_us.unwrap_or(u64::MAX));
        if filters.is_empty() {
            if !has_time {
                return views.live.clone();
            }
            return views.by_time.range((since, 0)..(until, 0)).map(|&(_, item_no)| item_no).collect();
        }
        filters.sort_by_key(|b| b.len());
        let mut result = filters[0].clone();
        for bitmap in &filters[1..] {
            result &= *bitmap;
        }
        if has_time {
            result = result.iter().filter(|&n| (since..until).contains(&views.row(n).last().timestamp_us)).collect();
        }
        result
    }
}

/// Parses an RFC 3339 time into microseconds since the epoch.
pub fn parse_time(text: &str) -> Result<u64> {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| Error::invalid(format!("{text:?} is not an RFC 3339 time (like 2026-11-25T10:00:00Z): {e}")))?;
    u64::try_from(time.timestamp_micros()).map_err(|_| Error::invalid(format!("{text:?} is before 1970")))
}

impl Store {
    /// Ids, versions and offsets of the matching items: the fast path.
    pub fn query_hits(&self, query: &Query) -> Result<Vec<QueryHit>> {
        let views = self.read_views();
        let limit = query.limit.unwrap_or(usize::MAX);
        Ok(query
            .matching(&views)
            .iter()
            .skip(query.offset)
            .take(limit)
            .map(|item_no| {
                let row = views.row(item_no);
                let last = row.last();
                QueryHit { id: row.id.to_string(), version: last.version, offset: last.offset }
            })
            .collect())
    }

    /// Number of matching items (ignores `limit` and `offset`).
    pub fn count(&self, query: &Query) -> Result<u64> {
        Ok(query.matching(&self.read_views()).len())
    }

    /// Metadata of the latest version of each matching item.
    pub fn query(&self, query: &Query) -> Result<Vec<ItemMeta>> {
        let events: Vec<_> = {
            let views = self.read_views();
            let limit = query.limit.unwrap_or(usize::MAX);
            let matching = query.matching(&views);
            matching
                .iter()
                .skip(query.offset)
                .take(limit)
                .map(|n| {
                    let row = views.row(n);
                    (row.id.to_string(), *row.last())
                })
                .collect()
        };
        events.iter().map(|(id, event)| self.read_meta(id, event)).collect()
    }
}
