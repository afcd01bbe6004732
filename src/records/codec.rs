//! Payload layouts of the item store's record kinds ("Item records" in
//! `segments-format.md`).
//!
//! A put has a fixed binary header, then the id, content type and metadata
//! JSON, then the data: a view rebuild reads the header and metadata and
//! never touches (or decompresses) the data. The rare kinds (dataset,
//! consumer commit) are JSON objects.
//!
//! Puts of codec 2 (format version 3) hold the metadata and the data as two
//! separately decodable sections, each a zstd frame when that made it
//! smaller (`zstd_section.rs`); codec 1 (format versions 1 and 2) is read as
//! it was written, with zlib data when the record says `FLAG_COMPRESSED`.
//! This module never writes zlib, and never trusts a size a record claims
//! before checking it against [`SECTION_SIZE_BYTES_MAX`].

use std::borrow::Cow;
use std::io::Read;

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
    /// What compaction left of a dropped put: its header and metadata, no data.
    pub const AUDIT_STUB: u8 = 5;
    /// A compaction ran: its policy and the as-of horizon it moved (JSON).
    pub const COMPACTION: u8 = 6;
    /// A consumer group was deleted: it has no committed offset from here on.
    pub const CONSUMER_DELETE: u8 = 7;
}

/// Put codec of format versions 1 and 2: plain metadata, data plain or
/// zlib (`FLAG_COMPRESSED`). Still written when compression is off.
const CODEC_PLAIN: u8 = 1;
/// Put codec of format version 3: header bytes 34..36 say which sections
/// are zstd frames.
const CODEC_SECTIONS: u8 = 2;
/// Codec 2 section flag: the metadata section is a zstd frame.
pub const SECTION_METADATA_ZSTD: u16 = 0x01;
/// Codec 2 section flag: the data section is a zstd frame.
pub const SECTION_DATA_ZSTD: u16 = 0x02;
const SECTIONS_KNOWN: u16 = SECTION_METADATA_ZSTD | SECTION_DATA_ZSTD;
const PUT_HEADER_SIZE_BYTES: usize = 36;

pub use super::zstd_section::SECTION_SIZE_BYTES_MAX;
use super::zstd_section::{zstd_compress, zstd_decompress};

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
    /// The metadata object (without id) as JSON, decompressed if it was
    /// stored as a zstd frame.
    pub metadata_json: Cow<'a, [u8]>,
    /// The stored data section: compressed if the record flag (codec 1) or
    /// [`sections`](Self::sections) (codec 2) says so. For an audit stub,
    /// the stub trailer.
    pub data_section: &'a [u8],
    /// Codec 2's section flags ([`SECTION_DATA_ZSTD`],
    /// [`SECTION_METADATA_ZSTD`]); 0 for codec 1.
    pub sections: u16,
    /// Set when the record is an audit stub: the data is gone.
    pub stub: Option<StubTrailer>,
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

/// How a put is encoded: which codec, and when data is worth compressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutEncoding {
    /// Codec 1, nothing compressed: what compression off writes.
    Plain,
    /// Codec 2: the metadata, and data of at least `data_threshold_bytes`,
    /// as zstd frames wherever that makes them smaller.
    Zstd {
        /// Shorter data is stored as it is.
        data_threshold_bytes: usize,
    },
}

/// Encodes a put; returns the payload and the record flags (always 0: codec
/// 2 says what it compressed in its own header, and nothing writes zlib).
pub fn encode_put(draft: &PutDraft<'_>, encoding: PutEncoding) -> (Vec<u8>, u8) {
    let PutEncoding::Zstd { data_threshold_bytes } = encoding else {
        return (encode_sections(draft, CODEC_PLAIN, 0, draft.metadata_json, draft.data), 0);
    };
    let metadata = zstd_compress(draft.metadata_json, 0);
    let data = zstd_compress(draft.data, data_threshold_bytes);
    let sections =
        metadata.as_ref().map_or(0, |_| SECTION_METADATA_ZSTD) | data.as_ref().map_or(0, |_| SECTION_DATA_ZSTD);
    let metadata_section = metadata.as_deref().unwrap_or(draft.metadata_json);
    let data_section = data.as_deref().unwrap_or(draft.data);
    (encode_sections(draft, CODEC_SECTIONS, sections, metadata_section, data_section), 0)
}

fn encode_sections(draft: &PutDraft<'_>, codec: u8, sections: u16, metadata: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        PUT_HEADER_SIZE_BYTES + draft.id.len() + draft.content_type.len() + metadata.len() + data.len(),
    );
    out.push(codec);
    out.push(draft.data_kind as u8);
    out.extend_from_slice(&u16::try_from(draft.id.len()).expect("ids are validated to 512 bytes").to_le_bytes());
    out.extend_from_slice(&draft.version.to_le_bytes());
    out.extend_from_slice(&draft.md5);
    out.extend_from_slice(&u32::try_from(draft.data.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&u32::try_from(metadata.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&u16::try_from(draft.content_type.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&sections.to_le_bytes());
    debug_assert_eq!(out.len(), PUT_HEADER_SIZE_BYTES);
    out.extend_from_slice(draft.id.as_bytes());
    out.extend_from_slice(draft.content_type.as_bytes());
    out.extend_from_slice(metadata);
    out.extend_from_slice(data);
    out
}

/// The version a put is encoded with before the writer decides it: no put
/// is written with it (versions count from 1).
pub const VERSION_UNSET: u32 = 0;

/// Sets the version of an encoded put, which is encoded before the writer
/// lock decides its version.
pub fn set_put_version(payload: &mut [u8], version: u32) {
    assert!(version != VERSION_UNSET && payload.len() >= PUT_HEADER_SIZE_BYTES, "a put payload gets a real version");
    payload[4..8].copy_from_slice(&version.to_le_bytes());
}

/// Decodes a put payload, decompressing its metadata if it is stored
/// compressed; the error names the field that does not fit.
pub fn decode_put(payload: &[u8]) -> Result<PutRecord<'_>, String> {
    let mut put = decode_put_header(payload)?;
    if put.sections & SECTION_METADATA_ZSTD != 0 {
        let plain = zstd_decompress(&put.metadata_json, None).map_err(|e| format!("metadata section: {e}"))?;
        put.metadata_json = Cow::Owned(plain);
    }
    Ok(put)
}

/// [`decode_put`] without decompressing anything: `metadata_json` is the
/// metadata section as stored, compressed if `sections` says so. For
/// callers that need only the header, id and content type.
pub fn decode_put_header(payload: &[u8]) -> Result<PutRecord<'_>, String> {
    let codec = payload.first().copied();
    if payload.len() < PUT_HEADER_SIZE_BYTES || !matches!(codec, Some(CODEC_PLAIN | CODEC_SECTIONS)) {
        return Err(format!("put payload of {} bytes with codec {codec:?}", payload.len()));
    }
    let data_kind = match payload[1] {
        0 => DataKind::Json,
        1 => DataKind::Bytes,
        other => return Err(format!("data_kind={other}")),
    };
    let u16_at = |at: usize| u16::from_le_bytes([payload[at], payload[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(payload[at..at + 4].try_into().unwrap_or_default());
    let id_len = usize::from(u16_at(2));
    let metadata_len = u32_at(28) as usize;
    let content_type_len = usize::from(u16_at(32));
    let sections = u16_at(34);
    if sections & !SECTIONS_KNOWN != 0 || (codec == Some(CODEC_PLAIN) && sections != 0) {
        return Err(format!("put codec {codec:?} with section flags {sections:#06x}"));
    }
    let id_end = PUT_HEADER_SIZE_BYTES + id_len;
    let content_type_end = id_end + content_type_len;
    let metadata_end = content_type_end + metadata_len;
    if metadata_end > payload.len() {
        return Err(format!("id/content type/metadata lengths {id_len}/{content_type_len}/{metadata_len} overrun"));
    }
    let text = |range: std::ops::Range<usize>| std::str::from_utf8(&payload[range]).map_err(|e| e.to_string());
    let metadata_json = Cow::Borrowed(&payload[content_type_end..metadata_end]);
    Ok(PutRecord {
        data_kind,
        id: text(PUT_HEADER_SIZE_BYTES..id_end)?,
        version: u32_at(4),
        md5: payload[8..24].try_into().unwrap_or_default(),
        data_size_bytes: u32_at(24),
        content_type: text(id_end..content_type_end)?,
        metadata_json,
        data_section: &payload[metadata_end..],
        sections,
        stub: None,
    })
}

/// Size of the trailer that takes the place of the data in an audit stub.
pub const STUB_TRAILER_SIZE_BYTES: usize = 16;

/// The end of an audit stub: why the put was dropped and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StubTrailer {
    /// Why compaction dropped the put (`compaction::Reason::code`).
    pub reason: u8,
    /// Payload size of the put the stub replaced, as it was stored.
    pub stored_size_bytes: u32,
    /// The compaction horizon when the stub was written.
    pub horizon_offset: u64,
}

/// Encodes the audit stub of a put: the put's payload up to the end of its
/// metadata, unchanged, then a [`StubTrailer`] in place of the data.
pub fn encode_stub(put_payload: &[u8], trailer: &StubTrailer) -> Result<Vec<u8>, String> {
    let put = decode_put_header(put_payload)?;
    let metadata_end = put_payload.len() - put.data_section.len();
    let mut out = Vec::with_capacity(metadata_end + STUB_TRAILER_SIZE_BYTES);
    out.extend_from_slice(&put_payload[..metadata_end]);
    out.extend_from_slice(&[trailer.reason, 0, 0, 0]);
    out.extend_from_slice(&trailer.stored_size_bytes.to_le_bytes());
    out.extend_from_slice(&trailer.horizon_offset.to_le_bytes());
    Ok(out)
}

/// Decodes an audit stub; its `stub` field is set and its data section is empty.
pub fn decode_stub(payload: &[u8]) -> Result<PutRecord<'_>, String> {
    let mut record = decode_put(payload)?;
    let trailer = record.data_section;
    if trailer.len() != STUB_TRAILER_SIZE_BYTES || trailer[1..4] != [0, 0, 0] {
        return Err(format!("audit stub trailer of {} bytes, expected {STUB_TRAILER_SIZE_BYTES}", trailer.len()));
    }
    record.stub = Some(StubTrailer {
        reason: trailer[0],
        stored_size_bytes: u32::from_le_bytes(trailer[4..8].try_into().unwrap_or_default()),
        horizon_offset: u64::from_le_bytes(trailer[8..16].try_into().unwrap_or_default()),
    });
    record.data_section = &[];
    Ok(record)
}

/// Decodes a put or an audit stub, by record kind: what a read of an item
/// version finds at the version's offset.
pub fn decode_put_like(record_kind: u8, payload: &[u8]) -> Result<PutRecord<'_>, String> {
    match record_kind {
        kind::PUT => decode_put(payload),
        kind::AUDIT_STUB => decode_stub(payload),
        other => Err(format!("record kind {other} holds no item version")),
    }
}

/// Checks that a record's payload reads as its kind says, every byte of it:
/// a put's metadata and data decompress to the sizes its header gives and
/// the data to its md5, a stub's trailer is whole. Other kinds pass (their
/// JSON is checked where it is used). What `recstore verify` runs on each
/// record (`log::verify_payloads`).
pub fn check_payload(record_kind: u8, flags: u8, payload: &[u8]) -> Result<(), String> {
    use md5::Digest;
    match record_kind {
        kind::PUT => {
            let put = decode_put(payload)?;
            let data = put.data(flags)?;
            let md5: [u8; 16] = md5::Md5::digest(&data).into();
            if md5 != put.md5 {
                return Err(format!("data md5 {} but the put header says {}", hex(&md5), hex(&put.md5)));
            }
            Ok(())
        }
        kind::AUDIT_STUB => decode_stub(payload).map(drop),
        _ => Ok(()),
    }
}

/// A compaction record: written before compaction rewrites any segment, so
/// a replay applies the same policy at the same point of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRecord {
    /// The policy, with its cutoff as an absolute time.
    pub policy: super::retention::Policy,
    /// Records below this offset (all in sealed segments) were eligible.
    pub eligible_end: u64,
    /// As-of reads at bounds below this offset are no longer exact.
    pub horizon_offset: u64,
    /// Timestamp of the record at `horizon_offset - 1`: as-of reads at or
    /// after this time are exact.
    pub horizon_timestamp_us: u64,
    /// `(id, version)` pairs the latest dataset versions pin and the policy
    /// would otherwise drop, sorted, without duplicates. Format version 2;
    /// absent (empty) in version 1 records, when nothing was pinned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<(String, u32)>,
}

impl PutRecord<'_> {
    /// The data bytes, decompressed if the put's sections (codec 2) or the
    /// record flags (codec 1) say so.
    pub fn data(&self, flags: u8) -> Result<Vec<u8>, String> {
        if self.sections & SECTION_DATA_ZSTD != 0 {
            return zstd_decompress(self.data_section, Some(self.data_size_bytes))
                .map_err(|e| format!("data section: {e}"));
        }
        if flags & FLAG_COMPRESSED == 0 {
            return Ok(self.data_section.to_vec());
        }
        // Older stores may hold zlib data past the zstd bound (their record
        // limit was configurable), so it is not refused: the reader stops
        // one byte past the size the header claims, and memory grows with
        // what actually inflates, never with the claim alone.
        let mut out = Vec::with_capacity(self.data_size_bytes.min(SECTION_SIZE_BYTES_MAX) as usize);
        flate2::read::ZlibDecoder::new(self.data_section)
            .take(u64::from(self.data_size_bytes) + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("inflate: {e}"))?;
        if out.len() != self.data_size_bytes as usize {
            return Err(format!("inflated {} bytes, header says {}", out.len(), self.data_size_bytes));
        }
        Ok(out)
    }
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

/// A consumer group's deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerDeleteRecord {
    /// The group.
    pub group: String,
}

/// Lower-case hex of bytes.
/// Lower-case hex of bytes: ids made from md5 sums.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

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
    fn hex_is_lower_case_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn put_round_trips_with_and_without_compression() -> Result<(), String> {
        let data = "abc".repeat(2000).into_bytes();
        for encoding in [PutEncoding::Zstd { data_threshold_bytes: 0 }, PutEncoding::Plain] {
            let draft = PutDraft {
                data_kind: DataKind::Json,
                id: "item-1",
                version: 7,
                md5: [9; 16],
                content_type: "",
                metadata_json: br#"{"type":"t"}"#,
                data: &data,
            };
            let (payload, flags) = encode_put(&draft, encoding);
            assert_eq!(flags, 0, "zlib is never written");
            let record = decode_put(&payload)?;
            let compressed = encoding != PutEncoding::Plain;
            assert_eq!(record.sections, if compressed { SECTION_DATA_ZSTD } else { 0 }, "tiny metadata stays plain");
            assert_eq!(payload.len() < data.len(), compressed, "repetitive data compresses when allowed");
            assert_eq!((record.id, record.version, record.md5), ("item-1", 7, [9; 16]));
            assert_eq!(&*record.metadata_json, br#"{"type":"t"}"#);
            assert_eq!(record.data(flags)?, data);
        }
        Ok(())
    }

    #[test]
    fn stub_keeps_the_put_header_and_metadata() -> Result<(), String> {
        let metadata_json = br#"{"tags":["a"],"site":"lab-1","site_again":"lab-1","site_once_more":"lab-1"}"#;
        let draft = PutDraft {
            data_kind: DataKind::Bytes,
            id: "item-9",
            version: 3,
            md5: [7; 16],
            content_type: "image/png",
            metadata_json,
            data: &[1; 100],
        };
        for encoding in [PutEncoding::Zstd { data_threshold_bytes: 0 }, PutEncoding::Plain] {
            let (payload, _) = encode_put(&draft, encoding);
            let trailer = StubTrailer { reason: 2, stored_size_bytes: 1234, horizon_offset: 99 };
            let stub_payload = encode_stub(&payload, &trailer)?;
            let put = decode_put(&payload)?;
            assert_eq!(stub_payload.len(), payload.len() - put.data_section.len() + STUB_TRAILER_SIZE_BYTES);
            let stub = decode_put_like(kind::AUDIT_STUB, &stub_payload)?;
            assert_eq!((stub.id, stub.version, stub.md5, stub.data_size_bytes), (put.id, 3, put.md5, 100));
            assert_eq!((stub.content_type, &*stub.metadata_json), (put.content_type, &metadata_json[..]));
            assert_eq!(stub.stub, Some(trailer));
            assert!(decode_put_like(kind::AUDIT_STUB, &payload).is_err(), "a put is not a stub");
            assert!(decode_put_like(kind::DELETE, &payload).is_err());
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
        let (payload, _) = encode_put(&draft, PutEncoding::Plain);
        for cut in 0..payload.len() - 3 {
            assert!(decode_put(&payload[..cut]).is_err(), "cut at {cut} must not decode");
        }
    }
}
