//! Log records decoded as events: the audit trail and the stream format.
//!
//! One decoder serves every reader of the log as events: `Store::events`,
//! the live subscriptions built on it, `recstore log` and `GET /v1/log`. It
//! decodes every kind the item store writes (segments-format.md, "Record
//! kinds"); a kind it does not know becomes an `unknown` event with only
//! the offset and timestamp, so a newer log still streams.

use serde::{Deserialize, Serialize};

use crate::compaction::{Policy, Reason};
use crate::log::RecordRef;
use crate::records::codec::{
    self, CompactionRecord, ConsumerCommitRecord, ConsumerDeleteRecord, DatasetRecord, DeleteRecord, PutRecord, kind,
};
use crate::store::{ItemMeta, format_timestamp};

/// One record of the log, decoded. Serialises to the NDJSON lines of
/// `recstore log` and `GET /v1/log`; fields a kind does not have are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogEvent {
    /// The record's offset.
    pub offset: u64,
    /// Its ingestion time, RFC 3339. An audit stub keeps the time of the
    /// put it replaced.
    pub timestamp: String,
    /// `put`, `delete`, `dataset`, `consumer_commit`, `consumer_delete`,
    /// `audit_stub`, `compaction` or `unknown`.
    pub kind: String,
    /// Item id (puts, deletes, audit stubs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item or dataset version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The version's metadata object (puts and audit stubs), exactly as
    /// `recstore meta` and `GET /v1/items/{id}/metadata` show it. A stub
    /// keeps its `size` and `md5` though its data is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Dataset name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Dataset members as `[id, version]` pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<(String, u32)>>,
    /// Dataset info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// Consumer group (commits and group deletions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Committed offset (commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_offset: Option<u64>,
    /// Why compaction dropped the put an audit stub replaced:
    /// `max_versions`, `retention`, `expired` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Payload size of the put an audit stub replaced, as it was stored
    /// (after compression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_size_bytes: Option<u32>,
    /// A compaction's retention policy, its cutoff an absolute time in
    /// microseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// A compaction's eligible range ends here: only records below it could
    /// be dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_end: Option<u64>,
    /// The compaction horizon: the one an audit stub was written at, or the
    /// one a compaction set. As-of reads below it are no longer exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_offset: Option<u64>,
    /// Time of the record just below a compaction's `horizon_offset`, RFC
    /// 3339: as-of reads at or after it are exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_timestamp: Option<String>,
    /// `[id, version]` pairs a compaction kept because the latest version
    /// of some dataset pins them; left out when none were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<(String, u32)>>,
}

impl LogEvent {
    /// About how many bytes this event takes in memory (or as a JSON line):
    /// what a follower's byte budget counts. Strings and JSON values are
    /// counted by their text, plus a fixed share for the rest.
    pub fn approximate_size_bytes(&self) -> usize {
        const FIXED_BYTES: usize = 256;
        let strings = [&self.id, &self.name, &self.group, &self.reason].into_iter().flatten().map(String::len);
        let values = [&self.metadata, &self.info].into_iter().flatten().map(json_size_bytes);
        let members = [&self.members, &self.pinned].into_iter().flatten().flatten().map(|(id, _)| id.len() + 16);
        FIXED_BYTES + strings.sum::<usize>() + values.sum::<usize>() + members.sum::<usize>()
    }

    /// Whether this is a commit by consumer group `group`: what a group's
    /// own reads leave out, on the command line and over HTTP alike.
    pub fn is_commit_of(&self, group: Option<&str>) -> bool {
        self.kind == "consumer_commit" && group.is_some() && self.group.as_deref() == group
    }

    /// Decodes a record; a payload that does not decode is an error naming it.
    pub fn decode(record: &RecordRef<'_>) -> Result<Self, crate::Error> {
        let bad = |detail: String| crate::Error::BadRecord { offset: record.offset, detail };
        let mut event = LogEvent {
            offset: record.offset,
            timestamp: format_timestamp(record.timestamp_us),
            kind: "unknown".into(),
            ..LogEvent::default()
        };
        match record.kind {
            kind::PUT => {
                let put = codec::decode_put(record.payload).map_err(bad)?;
                event.put_like("put", &put, record.offset, record.timestamp_us).map_err(bad)?;
            }
            kind::DELETE => {
                let delete: DeleteRecord = codec::decode_json(record.payload).map_err(bad)?;
                event.kind = "delete".into();
                event.id = Some(delete.id);
                event.version = Some(delete.version);
            }
            kind::DATASET => {
                let dataset: DatasetRecord = codec::decode_json(record.payload).map_err(bad)?;
                event.kind = "dataset".into();
                event.name = Some(dataset.name);
                event.version = Some(dataset.version);
                event.members = Some(dataset.members);
                event.info = Some(dataset.info);
            }
            kind::CONSUMER_COMMIT => {
                let commit: ConsumerCommitRecord = codec::decode_json(record.payload).map_err(bad)?;
                event.kind = "consumer_commit".into();
                event.group = Some(commit.group);
                event.committed_offset = Some(commit.offset);
            }
            kind::CONSUMER_DELETE => {
                let deleted: ConsumerDeleteRecord = codec::decode_json(record.payload).map_err(bad)?;
                event.kind = "consumer_delete".into();
                event.group = Some(deleted.group);
            }
            kind::AUDIT_STUB => event.audit_stub(record).map_err(bad)?,
            kind::COMPACTION => {
                let compaction: CompactionRecord = codec::decode_json(record.payload).map_err(bad)?;
                event.kind = "compaction".into();
                event.policy = Some(compaction.policy);
                event.eligible_end = Some(compaction.eligible_end);
                event.horizon_offset = Some(compaction.horizon_offset);
                event.horizon_timestamp = Some(format_timestamp(compaction.horizon_timestamp_us));
                event.pinned = (!compaction.pinned.is_empty()).then_some(compaction.pinned);
            }
            _ => {}
        }
        Ok(event)
    }

    /// Fills in what a put and an audit stub share: id, version, and the
    /// metadata object `recstore meta` shows for that version.
    fn put_like(&mut self, kind_name: &str, put: &PutRecord<'_>, offset: u64, timestamp_us: u64) -> Result<(), String> {
        let meta = ItemMeta::of_put(put, offset, timestamp_us)?;
        let object = serde_json::to_value(&meta).map_err(|e| e.to_string())?;
        self.kind = kind_name.into();
        self.id = Some(put.id.to_string());
        self.version = Some(put.version);
        self.metadata = Some(object);
        Ok(())
    }

    /// An audit stub: the put it replaced, and why and when it was dropped.
    /// A reason code this build does not know is an error, as it is for the
    /// views that apply the stub.
    fn audit_stub(&mut self, record: &RecordRef<'_>) -> Result<(), String> {
        let stub = codec::decode_stub(record.payload)?;
        let trailer = stub.stub.ok_or("decode_stub returned no trailer")?;
        let reason = Reason::from_code(trailer.reason).ok_or_else(|| format!("stub reason code {}", trailer.reason))?;
        self.put_like("audit_stub", &stub, record.offset, record.timestamp_us)?;
        self.reason = Some(reason.name().into());
        self.stored_size_bytes = Some(trailer.stored_size_bytes);
        self.horizon_offset = Some(trailer.horizon_offset);
        Ok(())
    }
}

/// The length of a JSON value's text, roughly: what it costs in memory.
fn json_size_bytes(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::String(text) => text.len() + 2,
        serde_json::Value::Array(items) => 2 + items.iter().map(|item| json_size_bytes(item) + 1).sum::<usize>(),
        serde_json::Value::Object(fields) => {
            2 + fields.iter().map(|(key, item)| key.len() + 4 + json_size_bytes(item)).sum::<usize>()
        }
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::codec::{DataKind, PutDraft, StubTrailer};

    fn record(offset: u64, record_kind: u8, payload: &[u8]) -> RecordRef<'_> {
        RecordRef { offset, timestamp_us: 1_764_000_000_000_000, kind: record_kind, flags: 0, payload }
    }

    fn put_payload() -> Vec<u8> {
        let draft = PutDraft {
            data_kind: DataKind::Bytes,
            id: "reading-1",
            version: 2,
            md5: [0xab; 16],
            content_type: "image/png",
            metadata_json: br#"{"type":"sensor_reading","tags":["raw_data"],"parents":["reading-0@1"],"site":"lab"}"#,
            data: &[7; 100],
        };
        codec::encode_put(&draft, codec::PutEncoding::Zstd { data_threshold_bytes: 0 }).0
    }

    #[test]
    fn audit_stub_decodes_like_its_put_plus_why_it_was_dropped() -> Result<(), crate::Error> {
        let put_payload = put_payload();
        let trailer = StubTrailer { reason: Reason::Retention.code(), stored_size_bytes: 172, horizon_offset: 40 };
        let stub_payload = codec::encode_stub(&put_payload, &trailer).map_err(crate::Error::invalid)?;
        let put = LogEvent::decode(&record(9, kind::PUT, &put_payload))?;
        let stub = LogEvent::decode(&record(9, kind::AUDIT_STUB, &stub_payload))?;
        assert_eq!(stub.kind, "audit_stub");
        assert_eq!((stub.id.as_deref(), stub.version), (Some("reading-1"), Some(2)));
        assert_eq!((&stub.metadata, &stub.timestamp), (&put.metadata, &put.timestamp), "a stub keeps the metadata");
        assert_eq!(stub.reason.as_deref(), Some("retention"));
        assert_eq!(stub.stored_size_bytes, Some(172));
        assert_eq!(stub.horizon_offset, Some(40));
        let line = serde_json::to_value(&stub).map_err(|e| crate::Error::invalid(e.to_string()))?;
        let expected = serde_json::json!({
            "offset": 9, "timestamp": "2025-11-24T16:00:00.000000Z", "kind": "audit_stub", "id": "reading-1",
            "version": 2, "reason": "retention", "stored_size_bytes": 172, "horizon_offset": 40,
            "metadata": {"id": "reading-1", "version": 2, "offset": 9, "timestamp": "2025-11-24T16:00:00.000000Z",
                         "size": 100, "md5": "abababababababababababababababab", "content_type": "image/png",
                         "type": "sensor_reading", "source_id": null, "tags": ["raw_data"], "parents": ["reading-0@1"],
                         "site": "lab"},
        });
        assert_eq!(line, expected);
        let back: LogEvent = serde_json::from_value(line).map_err(|e| crate::Error::invalid(e.to_string()))?;
        assert_eq!(back, stub, "an event line reads back as the event");
        Ok(())
    }

    #[test]
    fn compaction_decodes_its_policy_range_horizon_and_pins() -> Result<(), crate::Error> {
        let policy = Policy::keep_everything().max_versions(Some(1)).cutoff_us(Some(1_700_000_000_000_000));
        let payload = codec::encode_json(&CompactionRecord {
            policy,
            eligible_end: 120,
            horizon_offset: 97,
            horizon_timestamp_us: 1_764_000_000_500_000,
            pinned: vec![("a".into(), 1)],
        });
        let event = LogEvent::decode(&record(130, kind::COMPACTION, &payload))?;
        assert_eq!(event.kind, "compaction");
        assert_eq!((event.policy, event.eligible_end, event.horizon_offset), (Some(policy), Some(120), Some(97)));
        assert_eq!(event.horizon_timestamp.as_deref(), Some("2025-11-24T16:00:00.500000Z"));
        let line = serde_json::to_value(&event).map_err(|e| crate::Error::invalid(e.to_string()))?;
        let expected = serde_json::json!({
            "offset": 130, "timestamp": "2025-11-24T16:00:00.000000Z", "kind": "compaction",
            "policy": {"max_versions": 1, "cutoff_us": 1_700_000_000_000_000_u64, "expire": false, "purge": false},
            "eligible_end": 120, "horizon_offset": 97, "horizon_timestamp": "2025-11-24T16:00:00.500000Z",
            "pinned": [["a", 1]],
        });
        assert_eq!(line, expected);
        Ok(())
    }

    #[test]
    fn bad_stubs_and_compactions_are_errors_and_other_kinds_unknown() -> Result<(), crate::Error> {
        let put_payload = put_payload();
        let trailer = StubTrailer { reason: 99, stored_size_bytes: 1, horizon_offset: 1 };
        let unknown_reason = codec::encode_stub(&put_payload, &trailer).map_err(crate::Error::invalid)?;
        for (record_kind, payload) in
            [(kind::AUDIT_STUB, &unknown_reason), (kind::AUDIT_STUB, &put_payload), (kind::COMPACTION, &put_payload)]
        {
            let decoded = LogEvent::decode(&record(5, record_kind, payload));
            assert!(
                matches!(decoded, Err(crate::Error::BadRecord { offset: 5, .. })),
                "kind {record_kind}: {decoded:?}"
            );
        }
        let unknown = LogEvent::decode(&record(6, 77, b"anything"))?;
        assert_eq!(
            unknown,
            LogEvent { offset: 6, timestamp: unknown.timestamp.clone(), kind: "unknown".into(), ..LogEvent::default() }
        );
        Ok(())
    }
}
