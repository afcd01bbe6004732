//! Encoding and decoding of segment headers, frames and records.
//!
//! Owns the byte layout of everything inside a segment file, and nothing
//! else: no I/O happens here. The layout is written out once, in
//! `segments-format.md` ("Segment header", "Frame", "Record"); the constants
//! below are checked against that document's tables by the tests at the end.

use crate::limits::FRAME_SIZE_BYTES_MAX;

/// First eight bytes of every segment file. The high byte and the CR LF
/// catch a file that went through a text-mode transfer, as PNG's magic does.
pub const SEGMENT_MAGIC: [u8; 8] = [0x89, b'R', b'S', b'E', b'G', b'\r', b'\n', 0x1a];
/// The segment format this code writes.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest segment format this code reads. Version 2 changed no byte
/// the log layer parses (segments-format.md, "Versioning and compatibility").
pub const FORMAT_VERSION_OLDEST: u32 = 1;
/// Size of the segment header.
pub const SEGMENT_HEADER_SIZE_BYTES: usize = 32;
/// Size of a frame header.
pub const FRAME_HEADER_SIZE_BYTES: usize = 16;
/// Size of a record header.
pub const RECORD_HEADER_SIZE_BYTES: usize = 28;
/// Record flag: the payload is zlib-compressed.
pub const FLAG_COMPRESSED: u8 = 0x01;
/// Record flags this version understands; a reader rejects any other bit.
pub const FLAGS_KNOWN: u8 = FLAG_COMPRESSED;

/// Whether this build reads segments of `format_version`.
pub fn reads_format_version(format_version: u32) -> bool {
    (FORMAT_VERSION_OLDEST..=FORMAT_VERSION).contains(&format_version)
}

/// Names a version this build does not read, and the ones it does.
pub(crate) fn unreadable_version(format_version: u32) -> String {
    format!("format_version={format_version}, this build reads {FORMAT_VERSION_OLDEST} to {FORMAT_VERSION}")
}

/// The fixed fields at the start of every segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version of the frames in this file.
    pub format_version: u32,
    /// Offset of the first record the segment was created for.
    pub base_offset: u64,
    /// Wall-clock creation time, microseconds since the Unix epoch.
    pub created_us: u64,
}

impl SegmentHeader {
    /// The 32 bytes of this header, checksum included.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_SIZE_BYTES] {
        let mut bytes = [0u8; SEGMENT_HEADER_SIZE_BYTES];
        bytes[0..8].copy_from_slice(&SEGMENT_MAGIC);
        bytes[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.base_offset.to_le_bytes());
        bytes[20..28].copy_from_slice(&self.created_us.to_le_bytes());
        let crc = crc32fast::hash(&bytes[0..28]);
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Parses and checks a header; the error says which check failed.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < SEGMENT_HEADER_SIZE_BYTES {
            return Err(format!("header_size_bytes={} expected={SEGMENT_HEADER_SIZE_BYTES}", bytes.len()));
        }
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err(format!("magic={:02x?} expected={SEGMENT_MAGIC:02x?}", &bytes[0..8]));
        }
        let crc_stored = read_u32(bytes, 28);
        let crc_computed = crc32fast::hash(&bytes[0..28]);
        if crc_stored != crc_computed {
            return Err(format!("header crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x}"));
        }
        let format_version = read_u32(bytes, 8);
        if !reads_format_version(format_version) {
            return Err(unreadable_version(format_version));
        }
        Ok(Self { format_version, base_offset: read_u64(bytes, 12), created_us: read_u64(bytes, 20) })
    }
}

/// One record as stored: a borrowed view into a decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Logical number of the record in the log.
    pub offset: u64,
    /// Ingestion time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// What the record means; the log does not interpret it.
    pub kind: u8,
    /// Bit flags (`FLAG_COMPRESSED`).
    pub flags: u8,
    /// The payload bytes, exactly as stored.
    pub payload: &'a [u8],
}

/// A record owned by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Logical number of the record in the log.
    pub offset: u64,
    /// Ingestion time, microseconds since the Unix epoch.
    pub timestamp_us: u64,
    /// What the record means; the log does not interpret it.
    pub kind: u8,
    /// Bit flags (`FLAG_COMPRESSED`).
    pub flags: u8,
    /// The payload bytes, exactly as stored.
    pub payload: Vec<u8>,
}

impl RecordRef<'_> {
    /// Copies the payload into an owned record.
    pub fn to_owned(&self) -> Record {
        Record {
            offset: self.offset,
            timestamp_us: self.timestamp_us,
            kind: self.kind,
            flags: self.flags,
            payload: self.payload.to_vec(),
        }
    }
}

/// Size of the frame that would hold records with these payload sizes.
pub fn frame_size_bytes(payload_sizes: impl Iterator<Item = usize>) -> u64 {
    payload_sizes.fold(FRAME_HEADER_SIZE_BYTES as u64, |acc, size| acc + RECORD_HEADER_SIZE_BYTES as u64 + size as u64)
}

/// Appends one frame holding `records` to `out`. The caller has checked the
/// limits; offsets must be strictly increasing.
pub fn encode_frame(records: &[RecordRef<'_>], durable_len_bytes: u32, out: &mut Vec<u8>) {
    assert!(!records.is_empty(), "a frame holds at least one record");
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_SIZE_BYTES]);
    let mut previous: Option<u64> = None;
    for record in records {
        assert!(previous.is_none_or(|p| p < record.offset), "offsets in a frame must increase");
        previous = Some(record.offset);
        let record_start = out.len();
        out.extend_from_slice(&record.offset.to_le_bytes());
        out.extend_from_slice(&record.timestamp_us.to_le_bytes());
        out.extend_from_slice(&[record.kind, record.flags, 0, 0]);
        let payload_size = u32::try_from(record.payload.len()).expect("caller checked the record limit");
        out.extend_from_slice(&payload_size.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(record.payload);
        let record_crc = record_crc(&out[record_start..]);
        out[record_start + 24..record_start + 28].copy_from_slice(&record_crc.to_le_bytes());
    }
    let frame_size = u32::try_from(out.len() - start).expect("caller checked the batch limit");
    let record_count = u32::try_from(records.len()).expect("caller checked the batch limit");
    out[start + 4..start + 8].copy_from_slice(&frame_size.to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&record_count.to_le_bytes());
    out[start + 12..start + 16].copy_from_slice(&durable_len_bytes.to_le_bytes());
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Why bytes at a position are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameDefect {
    /// Fewer bytes remain than the frame needs: possibly a torn write.
    Incomplete {
        /// Bytes the frame header asks for (or the header itself needs).
        needed_bytes: u64,
        /// Bytes available.
        available_bytes: u64,
    },
    /// The bytes are all there but fail a check.
    Invalid(String),
}

/// A frame that passed every check.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Total size of the frame in bytes.
    pub size_bytes: usize,
    /// Offset of its first record.
    pub first_offset: u64,
    /// Offset of its last record.
    pub last_offset: u64,
    /// Timestamp of its first record.
    pub first_timestamp_us: u64,
    body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Checks the frame at the start of `bytes`: size, checksum, and that its
    /// records exactly fill it with increasing offsets and known flags.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FrameDefect> {
        if bytes.len() < FRAME_HEADER_SIZE_BYTES {
            return Err(FrameDefect::Incomplete {
                needed_bytes: FRAME_HEADER_SIZE_BYTES as u64,
                available_bytes: bytes.len() as u64,
            });
        }
        let size = read_u32(bytes, 4);
        let smallest = (FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES) as u32;
        if size < smallest || size > FRAME_SIZE_BYTES_MAX {
            return Err(FrameDefect::Invalid(format!(
                "frame_size_bytes={size} outside {smallest}..={FRAME_SIZE_BYTES_MAX}"
            )));
        }
        let size = size as usize;
        if bytes.len() < size {
            return Err(FrameDefect::Incomplete { needed_bytes: size as u64, available_bytes: bytes.len() as u64 });
        }
        let crc_stored = read_u32(bytes, 0);
        let crc_computed = crc32fast::hash(&bytes[4..size]);
        if crc_stored != crc_computed {
            return Err(FrameDefect::Invalid(format!(
                "crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x}"
            )));
        }
        let record_count = read_u32(bytes, 8);
        Self::check_records(&bytes[..size], record_count)
    }

    /// Whether `bytes`, at `position_bytes` of a segment, could start a frame
    /// whose first record is at or past `min_offset`, judged from the headers
    /// alone, without a checksum: the size fits the bytes, the durable length
    /// is not past the frame's own position, the reserved fields are zero, and the record
    /// headers chain to fill the frame exactly with `record_count` records
    /// of increasing offsets. Searches through damaged bytes call this
    /// before [`Frame::decode`], so that a size read from garbage is not
    /// checksummed (segments-format.md, "Recovery").
    pub(crate) fn plausible_start(bytes: &[u8], position_bytes: usize, min_offset: u64) -> bool {
        if bytes.len() < FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES {
            return false;
        }
        let size = read_u32(bytes, 4) as usize;
        let smallest = FRAME_HEADER_SIZE_BYTES + RECORD_HEADER_SIZE_BYTES;
        let durable_len_bytes = read_u32(bytes, 12) as usize;
        if size < smallest
            || size > FRAME_SIZE_BYTES_MAX as usize
            || size > bytes.len()
            || durable_len_bytes > position_bytes
        {
            return false;
        }
        let record_count = read_u32(bytes, 8) as usize;
        if record_count == 0 || record_count > (size - FRAME_HEADER_SIZE_BYTES) / RECORD_HEADER_SIZE_BYTES {
            return false;
        }
        let (mut position, mut previous) = (FRAME_HEADER_SIZE_BYTES, None::<u64>);
        for _ in 0..record_count {
            let rest = &bytes[position..size];
            if rest.len() < RECORD_HEADER_SIZE_BYTES || rest[17] & !FLAGS_KNOWN != 0 || rest[18] != 0 || rest[19] != 0 {
                return false;
            }
            let offset = read_u64(rest, 0);
            if previous.map_or(offset < min_offset, |previous| offset <= previous) {
                return false;
            }
            let payload_size = read_u32(rest, 20) as usize;
            if payload_size > rest.len() - RECORD_HEADER_SIZE_BYTES {
                return false;
            }
            position += RECORD_HEADER_SIZE_BYTES + payload_size;
            previous = Some(offset);
        }
        position == size
    }

    fn check_records(frame: &'a [u8], record_count: u32) -> Result<Self, FrameDefect> {
        let body = &frame[FRAME_HEADER_SIZE_BYTES..];
        let mut first: Option<(u64, u64)> = None;
        let mut last_offset = 0;
        let mut seen: u32 = 0;
        for record in (RecordIter { rest: body }) {
            let record = record.map_err(FrameDefect::Invalid)?;
            if first.is_some() && record.offset <= last_offset {
                return Err(FrameDefect::Invalid(format!(
                    "record offset={} after offset={last_offset}: offsets must increase",
                    record.offset
                )));
            }
            first.get_or_insert((record.offset, record.timestamp_us));
            last_offset = record.offset;
            seen += 1;
        }
        let Some((first_offset, first_timestamp_us)) = first else {
            return Err(FrameDefect::Invalid("frame holds no records".into()));
        };
        if seen != record_count {
            return Err(FrameDefect::Invalid(format!("record_count={record_count} records_found={seen}")));
        }
        Ok(Self { size_bytes: frame.len(), first_offset, last_offset, first_timestamp_us, body })
    }

    /// The records of this frame, in offset order.
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'a>> + 'a {
        // `decode` already walked these bytes, so every step succeeds.
        RecordIter { rest: self.body }.map_while(Result::ok)
    }
}

struct RecordIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordRef<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        if rest.len() < RECORD_HEADER_SIZE_BYTES {
            self.rest = &[];
            return Some(Err(format!("record header needs {RECORD_HEADER_SIZE_BYTES} bytes, {} left", rest.len())));
        }
        let payload_size = read_u32(rest, 20) as usize;
        let end = RECORD_HEADER_SIZE_BYTES + payload_size;
        let (flags, reserved) = (rest[17], u16::from_le_bytes([rest[18], rest[19]]));
        let defect = if end > rest.len() {
            Some(format!("payload_size_bytes={payload_size} but {} bytes left", rest.len() - RECORD_HEADER_SIZE_BYTES))
        } else if flags & !FLAGS_KNOWN != 0 {
            Some(format!("record flags={flags:#04x}, known={FLAGS_KNOWN:#04x}"))
        } else if reserved != 0 {
            Some(format!("record reserved={reserved:#x} expected=0"))
        } else {
            None
        };
        if let Some(defect) = defect {
            self.rest = &[];
            return Some(Err(defect));
        }
        self.rest = &rest[end..];
        Some(Ok(RecordRef {
            offset: read_u64(rest, 0),
            timestamp_us: read_u64(rest, 8),
            kind: rest[16],
            flags,
            payload: &rest[RECORD_HEADER_SIZE_BYTES..end],
        }))
    }
}

/// Checksum of one record: every byte of it except the crc field itself.
pub(crate) fn record_crc(record: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&record[..24]);
    hasher.update(&record[RECORD_HEADER_SIZE_BYTES..]);
    hasher.finalize()
}

/// Decodes and checks the one record that starts at `bytes[0]`, without its
/// frame: the point-read path, which trusts the record checksum alone.
pub fn decode_record(bytes: &[u8]) -> Result<RecordRef<'_>, String> {
    let record = RecordIter { rest: bytes }.next().ok_or("no bytes at record position")??;
    let end = RECORD_HEADER_SIZE_BYTES + record.payload.len();
    let crc_stored = read_u32(bytes, 24);
    let crc_computed = record_crc(&bytes[..end]);
    if crc_stored != crc_computed {
        return Err(format!("record crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x}"));
    }
    Ok(record)
}

/// Finds the record at `offset` in the frames from `bytes[start]` on by
/// hopping over frame and record headers, and checks that record's own
/// checksum: a point read must not pay for the checksum of a whole frame
/// (up to 256 MiB of neighbours). `None` if the record is not there or a
/// header on the way looks wrong; the caller then walks with every check,
/// which tells a gap from corruption.
pub fn find_record(bytes: &[u8], start: usize, offset: u64) -> Option<RecordRef<'_>> {
    let mut frame_position = start;
    while frame_position + FRAME_HEADER_SIZE_BYTES <= bytes.len() {
        let frame_end = frame_position.checked_add(read_u32(bytes, frame_position + 4) as usize)?;
        let frame = bytes.get(..frame_end)?;
        let mut position = frame_position + FRAME_HEADER_SIZE_BYTES;
        while position + RECORD_HEADER_SIZE_BYTES <= frame_end {
            let record_offset = read_u64(frame, position);
            if record_offset >= offset {
                return (record_offset == offset).then(|| decode_record(&frame[position..]).ok()).flatten();
            }
            position = position.checked_add(RECORD_HEADER_SIZE_BYTES + read_u32(frame, position + 20) as usize)?;
        }
        if position != frame_end {
            return None;
        }
        frame_position = frame_end;
    }
    None
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("slice of 4 bytes"))
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("slice of 8 bytes"))
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Owned records with strictly increasing offsets, ready to encode.
    fn records(count_max: usize, payload_size_max: usize) -> impl Strategy<Value = Vec<Record>> {
        let record = (1..1000u64, any::<u64>(), any::<u8>(), 0..=FLAGS_KNOWN, vec(any::<u8>(), 0..payload_size_max));
        (0..u64::MAX / 2, vec(record, 1..count_max)).prop_map(|(base_offset, fields)| {
            let mut offset = base_offset;
            fields
                .into_iter()
                .map(|(offset_step, timestamp_us, kind, flags, payload)| {
                    offset += offset_step;
                    Record { offset, timestamp_us, kind, flags, payload }
                })
                .collect()
        })
    }

    fn refs(records: &[Record]) -> Vec<RecordRef<'_>> {
        records
            .iter()
            .map(|r| RecordRef {
                offset: r.offset,
                timestamp_us: r.timestamp_us,
                kind: r.kind,
                flags: r.flags,
                payload: &r.payload,
            })
            .collect()
    }

    fn encode(records: &[Record]) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode_frame(&refs(records), 0, &mut bytes);
        bytes
    }

    fn flip_bit(bytes: &[u8], bit_index: usize) -> Vec<u8> {
        let mut flipped = bytes.to_vec();
        flipped[bit_index / 8] ^= 1 << (bit_index % 8);
        flipped
    }

    /// Byte position of each record inside its encoded frame.
    fn record_positions(records: &[Record]) -> Vec<usize> {
        let mut position = FRAME_HEADER_SIZE_BYTES;
        records
            .iter()
            .map(|r| {
                let start = position;
                position += RECORD_HEADER_SIZE_BYTES + r.payload.len();
                start
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn frame_round_trips(records in records(20, 2048), prefix in vec(any::<u8>(), 0..64)) {
            // Encode after unrelated bytes and decode with a second frame
            // behind it, as a frame sits inside a segment.
            let mut bytes = prefix.clone();
            encode_frame(&refs(&records), 0, &mut bytes);
            let frame_end = bytes.len();
            encode_frame(&refs(&records[..1]), 0, &mut bytes);
            let frame = Frame::decode(&bytes[prefix.len()..]).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
            let size_bytes = frame_size_bytes(records.iter().map(|r| r.payload.len()));
            prop_assert_eq!(frame.size_bytes as u64, size_bytes);
            prop_assert_eq!(frame.size_bytes, frame_end - prefix.len());
            prop_assert_eq!(frame.first_offset, records[0].offset);
            prop_assert_eq!(frame.last_offset, records[records.len() - 1].offset);
            prop_assert_eq!(frame.first_timestamp_us, records[0].timestamp_us);
            let decoded: Vec<Record> = frame.records().map(|r| r.to_owned()).collect();
            prop_assert_eq!(decoded, records);
        }

        #[test]
        fn every_bit_flip_in_a_frame_is_detected(records in records(4, 24)) {
            // The crc covers bytes [4, frame_size) and sits in [0, 4), so a flip
            // anywhere but the size field is a one-bit error, which CRC-32 always
            // detects. A flipped size field either leaves the allowed range, runs
            // past the available bytes, or moves the end of the checksummed range,
            // which only a 2^-32 crc collision could survive.
            let bytes = encode(&records);
            let mut in_segment = bytes.clone();
            encode_frame(&refs(&records[..1]), 0, &mut in_segment);
            for bit_index in 0..bytes.len() * 8 {
                prop_assert!(Frame::decode(&flip_bit(&bytes, bit_index)).is_err(), "bit {} alone", bit_index);
                prop_assert!(
                    Frame::decode(&flip_bit(&in_segment, bit_index)).is_err(),
                    "bit {} with a frame behind it",
                    bit_index
                );
            }
        }

        #[test]
        fn records_decode_alone_at_their_positions(records in records(20, 2048)) {
            let bytes = encode(&records);
            for (record, position) in records.iter().zip(record_positions(&records)) {
                let decoded = decode_record(&bytes[position..]).map_err(TestCaseError::fail)?;
                prop_assert_eq!(&decoded.to_owned(), record);
            }
        }

        #[test]
        fn every_bit_flip_in_a_record_is_detected(records in records(3, 24)) {
            // Same argument as for frames: the record crc covers every byte of
            // the record but its own field, so only a flipped payload size could
            // escape it, and then only by a crc collision.
            let bytes = encode(&records);
            let position = record_positions(&records)[0];
            let end = position + RECORD_HEADER_SIZE_BYTES + records[0].payload.len();
            for bit_index in position * 8..end * 8 {
                let flipped = flip_bit(&bytes, bit_index);
                prop_assert!(decode_record(&flipped[position..end]).is_err(), "bit {} alone", bit_index);
                prop_assert!(decode_record(&flipped[position..]).is_err(), "bit {} with records behind it", bit_index);
            }
        }

        #[test]
        fn find_record_finds_every_record_across_frames(first in records(8, 256), second in records(8, 256)) {
            // Two frames back to back, the second after the first's offsets.
            let shift = first[first.len() - 1].offset + 1;
            let mut second: Vec<Record> =
                second.into_iter().map(|r| Record { offset: r.offset % 1000 + shift, ..r }).collect();
            second.sort_by_key(|r| r.offset);
            second.dedup_by_key(|r| r.offset);
            let mut bytes = encode(&first);
            encode_frame(&refs(&second), 0, &mut bytes);
            for record in first.iter().chain(&second) {
                let found = find_record(&bytes, 0, record.offset).map(|r| r.to_owned());
                prop_assert_eq!(found.as_ref(), Some(record));
            }
            // An offset in a gap, or past the end, is not found.
            prop_assert!(find_record(&bytes, 0, shift + 2000).is_none());
            if first[0].offset > 0 {
                prop_assert!(find_record(&bytes, 0, first[0].offset - 1).is_none());
            }
        }

        #[test]
        fn find_record_checks_the_record_it_returns(records in records(4, 24), bit in any::<prop::sample::Index>()) {
            // A flip inside the wanted record is never returned as data; a
            // flip in a neighbour does not hide the wanted, intact record.
            let bytes = encode(&records);
            let positions = record_positions(&records);
            let last = records.len() - 1;
            let start = positions[last];
            let flipped = flip_bit(&bytes, start * 8 + bit.index((bytes.len() - start) * 8));
            if let Some(found) = find_record(&flipped, 0, records[last].offset) {
                prop_assert_eq!(&found.to_owned(), &records[last], "a damaged record was returned");
            }
            if last > 0 {
                let found = find_record(&flipped, 0, records[0].offset).map(|r| r.to_owned());
                prop_assert_eq!(found.as_ref(), Some(&records[0]));
            }
        }

        #[test]
        fn segment_header_round_trips(base_offset in any::<u64>(), created_us in any::<u64>()) {
            let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset, created_us };
            let bytes = header.encode();
            prop_assert_eq!(SegmentHeader::decode(&bytes), Ok(header));
            prop_assert!(SegmentHeader::decode(&bytes[..SEGMENT_HEADER_SIZE_BYTES - 1]).is_err());
        }

        #[test]
        fn every_bit_flip_in_a_segment_header_is_detected(base_offset in any::<u64>(), created_us in any::<u64>()) {
            let bytes = SegmentHeader { format_version: FORMAT_VERSION, base_offset, created_us }.encode();
            for bit_index in 0..SEGMENT_HEADER_SIZE_BYTES * 8 {
                prop_assert!(SegmentHeader::decode(&flip_bit(&bytes, bit_index)).is_err(), "bit {}", bit_index);
            }
        }
    }
}
