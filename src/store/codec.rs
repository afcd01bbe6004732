//! Payload layouts of the item store's record kinds ("Item records" in
//! `segments-format.md`).
//!
//! A put has a fixed binary header, then the id, content type and metadata
//! JSON, then the data: a view rebuild reads the header and metadata and
//! never touches (or decompresses) the data. The rare kinds (dataset,
//! consumer commit) are JSON objects.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::log::FLAG_COMPRESSED;

/// Record kinds written by the item store. Readers skip kinds they do not know.
pub mod kind {
    /// A new version of an item.
    pub const PUT: u8 = 1;
    /// A tombstone.
    pub const DELETE: u8 = 2;
    /// A dataset version pinning item versions.
    pub const DATASET: u8 = 3;
    /// A consumer group's committed offset.
    pub const CONSUMER_COMMIT: u8 = 4;
}

const CODEC_VERSION: u8 = 1;
const PUT_HEADER_SIZE_BYTES: usize = 36;

/// Whether the data is JSON or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Compact JSON with sorted keys.
    Json = 0,
    /// Raw bytes with a content type.
    Bytes = 1,
}

/// A decoded put header and metadata, borrowed from the record payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecord<'a> {
    /// JSON or bytes.
    pub data_kind: DataKind,
    /// The item id.
    pub id: &'a str,
    /// The version this put creates.
    pub version: u32,
    /// md5 of the uncompressed data.
    pub md5: [u8; 16],
    /// Size of the uncompressed data.
    pub data_size_bytes: u32,
    /// Media type of byte data; empty for JSON.
    pub content_type: &'a str,
    /// The metadata object (without id) as JSON.
    pub metadata_json: &'a [u8],
    /// The stored data section: compressed if the record flag says so.
    pub data_section: &'a [u8],
}

/// Everything a put record holds, ready to encode.
pub struct PutDraft<'a> {
    /// JSON or bytes.
    pub data_kind: DataKind,
    /// The item id.
    pub id: &'a str,
    /// The version this put creates.
    pub version: u32,
    /// md5 of the uncompressed data.
    pub md5: [u8; 16],
    /// Media type of byte data; empty for JSON.
    pub content_type: &'a str,
    /// The metadata object (without id) as JSON.
    pub metadata_json: &'a [u8],
    /// The uncompressed data.
    pub data: &'a [u8],
}

/// Encodes a put; compresses the data when it is at least
/// `compress_threshold_bytes` long and compression makes it smaller.
/// Returns the payload and the record flags.
pub fn encode_put(draft: &PutDraft<'_>, compress_threshold_bytes: usize) -> (Vec<u8>, u8) {
    let compressed = (draft.data.len() >= compress_threshold_bytes).then(|| deflate(draft.data)).flatten();
    let (section, flags) = match &compressed {
        Some(bytes) if bytes.len() < draft.data.len() => (bytes.as_slice(), FLAG_COMPRESSED),
        _ => (draft.data, 0),
    };
    let mut out = Vec::with_capacity(
        PUT_HEADER_SIZE_BYTES + draft.id.len() + draft.content_type.len() + draft.metadata_json.len() + section.len(),
    );
    out.push(CODEC_VERSION);
    out.push(draft.data_kind as u8);
    out.extend_from_slice(&u16::try_from(draft.id.len()).expect("ids are validated to 512 bytes").to_le_bytes());
    out.extend_from_slice(&draft.version.to_le_bytes());
    out.extend_from_slice(&draft.md5);
    out.extend_from_slice(&u32::try_from(draft.data.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&u32::try_from(draft.metadata_json.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&u16::try_from(draft.content_type.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    debug_assert_eq!(out.len(), PUT_HEADER_SIZE_BYTES);
    out.extend_from_slice(draft.id.as_bytes());
    out.extend_from_slice(draft.content_type.as_bytes());
    out.extend_from_slice(draft.metadata_json);
    out.extend_from_slice(section);
    (out, flags)
}

/// Decodes a put payload; the error names the field that does not fit.
pub fn decode_put(payload: &[u8]) -> Result<PutRecord<'_>, String> {
    if payload.len() < PUT_HEADER_SIZE_BYTES || payload[0] != CODEC_VERSION {
        return Err(format!("put payload of {} bytes with codec {:?}", payload.len(), payload.first()));
    }
    let data_kind = match payload[1] {
        0 => DataKind::Json,
        1 => DataKind::Bytes,
        other => return Err(format!("data_kind={other}")),
    };
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([payload[at], payload[at + 1]]));
    let u32_at = |at: usize| u32::from_le_bytes(payload[at..at + 4].try_into().unwrap_or_default());
    let id_len = u16_at(2);
    let metadata_len = u32_at(28) as usize;
    let content_type_len = u16_at(32);
    let id_end = PUT_HEADER_SIZE_BYTES + id_len;
    let content_type_end = id_end + content_type_len;
    let metadata_end = content_type_end + metadata_len;
    if metadata_end > payload.len() {
        return Err(format!("id/content type/metadata lengths {id_len}/{content_type_len}/{metadata_len} overrun"));
    }
    let text = |range: std::ops::Range<usize>| std::str::from_utf8(&payload[range]).map_err(|e| e.to_string());
    Ok(PutRecord {
        data_kind,
        id: text(PUT_HEADER_SIZE_BYTES..id_end)?,
        version: u32_at(4),
        md5: payload[8..24].try_into().unwrap_or_default(),
        data_size_bytes: u32_at(24),
        content_type: text(id_end..content_type_end)?,
        metadata_json: &payload[content_type_end..metadata_end],
        data_section: &payload[metadata_end..],
    })
}

impl PutRecord<'_> {
    /// The data bytes, decompressed if the record flags say so.
    pub fn data(&self, flags: u8) -> Result<Vec<u8>, String> {
        if flags & FLAG_COMPRESSED == 0 {
            return Ok(self.data_section.to_vec());
        }
        let mut out = Vec::with_capacity(self.data_size_bytes as usize);
        flate2::read::ZlibDecoder::new(self.data_section).read_to_end(&mut out).map_err(|e| format!("inflate: {e}"))?;
        if out.len() != self.data_size_bytes as usize {
            return Err(format!("inflated {} bytes, header says {}", out.len(), self.data_size_bytes));
        }
        Ok(out)
    }
}

fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// A delete record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRecord {
    /// The deleted item.
    pub id: String,
    /// The version that was current when it was deleted.
    /// The version this put creates.
    pub version: u32,
}

/// A dataset record: a name, its version, free-form info and pinned members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// The dataset's name.
    pub name: String,
    /// Its version, counting from 1.
    /// The version this put creates.
    pub version: u32,
    /// Free-form description.
    pub info: serde_json::Value,
    /// Each member as `(id, version)`.
    pub members: Vec<(String, u32)>,
}

/// A consumer group's commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerCommitRecord {
    /// The group.
    pub group: String,
    /// The next offset the group will read.
    pub offset: u64,
}

/// Lower-case hex of bytes.
pub use super::write::hex;

/// Encodes one of the JSON-bodied kinds.
pub fn encode_json<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// Decodes one of the JSON-bodied kinds.
pub fn decode_json<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_round_trips_with_and_without_compression() -> Result<(), String> {
        let data = "abc".repeat(2000).into_bytes();
        for threshold in [0, usize::MAX] {
            let draft = PutDraft {
                data_kind: DataKind::Json,
                id: "item-1",
                version: 7,
                md5: [9; 16],
                content_type: "",
                metadata_json: br#"{"type":"t"}"#,
                data: &data,
            };
            let (payload, flags) = encode_put(&draft, threshold);
            assert_eq!(flags == FLAG_COMPRESSED, threshold == 0, "repetitive data compresses when allowed");
            let record = decode_put(&payload)?;
            assert_eq!((record.id, record.version, record.md5), ("item-1", 7, [9; 16]));
            assert_eq!(record.metadata_json, br#"{"type":"t"}"#);
            assert_eq!(record.data(flags)?, data);
        }
        Ok(())
    }

    #[test]
    fn truncated_put_is_an_error_not_a_panic() {
        let draft = PutDraft {
            data_kind: DataKind::Bytes,
            id: "x",
            version: 1,
            md5: [0; 16],
            content_type: "image/png",
            metadata_json: b"{}",
            data: b"123",
        };
        let (payload, _) = encode_put(&draft, usize::MAX);
        for cut in 0..payload.len() - 3 {
            assert!(decode_put(&payload[..cut]).is_err(), "cut at {cut} must not decode");
        }
    }
}
