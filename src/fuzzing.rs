//! Entry points for the fuzz targets in `fuzz/` and for the stable test
//! that replays their corpus (`tests/fuzz_corpus_replay.rs`).
//!
//! Owns nothing: each function hands arbitrary bytes to one decoder or
//! parser exactly as its real caller would, and throws the answer away.
//! Any outcome but a panic (or an abort) is a pass. Where a checksum would
//! keep random bytes from ever reaching the code behind it, the function
//! makes the checksum right first. Never does I/O.

use crate::log::RecordRef;
use crate::log::frame::{FORMAT_VERSION, FRAME_HEADER_SIZE_BYTES, Frame, RECORD_HEADER_SIZE_BYTES, SegmentHeader};

/// Every target, by the name of its folder under `fuzz/corpus/`.
pub const TARGETS: [&str; 8] =
    ["frame", "record", "segment_recovery", "checkpoint", "import_line", "http_query", "http_body", "search_query"];

/// Runs the target named `target` on `bytes`; false for an unknown name.
pub fn run(target: &str, bytes: &[u8]) -> bool {
    match target {
        "frame" => frame(bytes),
        "record" => record(bytes),
        "segment_recovery" => segment_recovery(bytes),
        "checkpoint" => checkpoint(bytes),
        "import_line" => import_line(bytes),
        "http_query" => http_query(bytes),
        "http_body" => http_body(bytes),
        "search_query" => search_query(bytes),
        _ => return false,
    }
    true
}

/// The frame decoder, on the bytes as they are and with the frame's size
/// and checksum made right, and the record walk over whatever decodes.
pub fn frame(bytes: &[u8]) {
    decode_frame(bytes);
    if bytes.len() >= FRAME_HEADER_SIZE_BYTES {
        let mut fixed = bytes.to_vec();
        let size = u32::try_from(fixed.len()).unwrap_or(u32::MAX);
        fixed[4..8].copy_from_slice(&size.to_le_bytes());
        let crc = crc32fast::hash(&fixed[4..]);
        fixed[0..4].copy_from_slice(&crc.to_le_bytes());
        decode_frame(&fixed);
    }
}

fn decode_frame(bytes: &[u8]) {
    let _ = Frame::plausible_start(bytes, bytes.len(), 0);
    if let Ok(frame) = Frame::decode(bytes) {
        for record in frame.records() {
            decode_payload(&record);
        }
    }
}

/// The record decoder (`decode_record`, with the record checksum made
/// right) and every decoder of a record's payload: item versions, audit
/// stubs, log events.
pub fn record(bytes: &[u8]) {
    let _ = crate::log::frame::decode_record(bytes);
    if bytes.len() >= RECORD_HEADER_SIZE_BYTES {
        let mut fixed = bytes.to_vec();
        let payload_size = u32::try_from(fixed.len() - RECORD_HEADER_SIZE_BYTES).unwrap_or(u32::MAX);
        fixed[20..24].copy_from_slice(&payload_size.to_le_bytes());
        let crc = crate::log::frame::record_crc(&fixed);
        fixed[24..28].copy_from_slice(&crc.to_le_bytes());
        if let Ok(record) = crate::log::frame::decode_record(&fixed) {
            decode_payload(&record);
        }
    }
    for kind in 0..=u8::MAX {
        let record =
            RecordRef { offset: 1, timestamp_us: 1, kind, flags: bytes.first().map_or(0, |f| f & 1), payload: bytes };
        decode_payload(&record);
    }
}

fn decode_payload(record: &RecordRef<'_>) {
    if let Ok(put) = crate::records::codec::decode_put_like(record.kind, record.payload) {
        let _ = put.data(record.flags);
    }
    let _ = crate::LogEvent::decode(record);
}

/// A segment given to recovery and to verify's search: a valid header
/// (base offset 0) followed by the bytes as its frames.
pub fn segment_recovery(bytes: &[u8]) {
    let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset: 0, created_us: 1 };
    let mut segment = header.encode().to_vec();
    segment.extend_from_slice(bytes);
    let path = std::path::Path::new("fuzz.seg");
    for read_only in [false, true] {
        let _ = crate::log::recovery::scan_active(path, &segment, 0, read_only);
    }
    let _ = crate::log::recovery::find_valid_frame_after(&segment, 32, 0);
    // The bytes as a whole file, header included.
    let _ = crate::log::recovery::scan_active(path, bytes, 0, true);
}

/// The checkpoint decoder, on the bytes as a whole file and as a body
/// behind a valid header.
pub fn checkpoint(bytes: &[u8]) {
    let _ = crate::store::views::checkpoint::decode(bytes);
    let _ = crate::store::views::checkpoint::decode(&crate::store::views::checkpoint::wrap_body(bytes));
}

/// One line of `recstore import`.
pub fn import_line(bytes: &[u8]) {
    let _ = crate::cli::fuzz_import_line(bytes);
}

/// A query string, read through every accessor the handlers use.
pub fn http_query(bytes: &[u8]) {
    crate::server::fuzz_query(bytes);
}

/// A request body, as `POST /v1/items` (one item or a batch), `PUT
/// /v1/items/{id}` and `PUT /v1/datasets/{name}` parse it.
pub fn http_body(bytes: &[u8]) {
    crate::server::fuzz_body(bytes);
}

/// The search query parser, on the bytes as UTF-8 text.
pub fn search_query(bytes: &[u8]) {
    crate::search::fuzz_query(&String::from_utf8_lossy(bytes));
}
