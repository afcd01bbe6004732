//! Log records decoded as events: the audit trail and the stream format.

use serde::{Deserialize, Serialize};

use crate::log::RecordRef;
use crate::store::codec::{self, ConsumerCommitRecord, DatasetRecord, DeleteRecord, kind};
use crate::store::{Metadata, format_timestamp};

/// One record of the log, decoded. Serialises to the NDJSON lines of
/// `recstore log` and `GET /v1/log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    /// The record's offset.
    pub offset: u64,
    /// Its ingestion time, RFC 3339.
    pub timestamp: String,
    /// `put`, `delete`, `dataset`, `consumer_commit` or `unknown`.
    pub kind: String,
    /// Item id (puts and deletes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item or dataset version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Item metadata (puts), with `size`, `md5` and `content_type`.
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
    /// Consumer group (commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Committed offset (commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_offset: Option<u64>,
}

impl LogEvent {
    /// Decodes a record; a payload that does not decode is an error naming it.
    pub fn decode(record: &RecordRef<'_>) -> Result<Self, crate::Error> {
        let bad = |detail: String| crate::Error::BadRecord { offset: record.offset, detail };
        let mut event = LogEvent {
            offset: record.offset,
            timestamp: format_timestamp(record.timestamp_us),
            kind: "unknown".into(),
            id: None,
            version: None,
            metadata: None,
            name: None,
            members: None,
            info: None,
            group: None,
            committed_offset: None,
        };
        match record.kind {
            kind::PUT => {
                let put = codec::decode_put(record.payload).map_err(bad)?;
                let metadata: Metadata = serde_json::from_slice(put.metadata_json).map_err(|e| bad(e.to_string()))?;
                let mut object = serde_json::to_value(&metadata).map_err(|e| bad(e.to_string()))?;
                if let Some(map) = object.as_object_mut() {
                    map.insert("size".into(), put.data_size_bytes.into());
                    map.insert("md5".into(), crate::store::codec::hex(&put.md5).into());
                }
                event.kind = "put".into();
                event.id = Some(put.id.to_string());
                event.version = Some(put.version);
                event.metadata = Some(object);
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
            _ => {}
        }
        Ok(event)
    }
}
