//! The sparse offset-and-time index of one sealed segment (`<base>.idx`).
//!
//! Owns the layout of index files ("Index file" in `segments-format.md`).
//! An index is derived data: it is rebuilt from its segment whenever it is
//! missing or fails a check, and it is never trusted over the segment, so a
//! reader that lands on a position the index names still checks the frame.

use std::path::Path;

use super::frame::{read_u32, read_u64};
use crate::storage::Storage;

const INDEX_MAGIC: [u8; 8] = [0x89, b'R', b'I', b'D', b'X', b'\r', b'\n', 0x1a];
const INDEX_VERSION: u32 = 1;
const INDEX_HEADER_SIZE_BYTES: usize = 48;
const INDEX_ENTRY_SIZE_BYTES: usize = 24;

/// One index entry: the first record of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the frame's first record.
    pub offset: u64,
    /// Timestamp of the frame's first record.
    pub timestamp_us: u64,
    /// Byte position of the frame in the segment file.
    pub position_bytes: u64,
}

/// What a sealed segment holds, as its index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIndex {
    /// Offset in the segment's header and file name.
    pub base_offset: u64,
    /// Length of the segment file this index describes.
    pub segment_size_bytes: u64,
    /// Offset of the segment's last record.
    pub last_offset: u64,
    /// Timestamp of the segment's last record.
    pub last_timestamp_us: u64,
    /// Sparse entries in position order; the first frame always has one.
    pub entries: Vec<IndexEntry>,
}

impl SegmentIndex {
    /// The entry at or before `offset`: where a scan for it starts.
    pub fn floor_by_offset(&self, offset: u64) -> Option<IndexEntry> {
        let after = self.entries.partition_point(|e| e.offset <= offset);
        after.checked_sub(1).map(|i| self.entries[i])
    }

    /// The last entry whose timestamp is before `timestamp_us`: a scan for the
    /// first record at or after that time can start there.
    pub fn floor_by_time(&self, timestamp_us: u64) -> Option<IndexEntry> {
        let after = self.entries.partition_point(|e| e.timestamp_us < timestamp_us);
        after.checked_sub(1).map(|i| self.entries[i]).or(self.entries.first().copied())
    }

    /// The index file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let entry_count = u32::try_from(self.entries.len()).expect("a segment under 4 GiB has fewer entries");
        let mut out = Vec::with_capacity(INDEX_HEADER_SIZE_BYTES + self.entries.len() * INDEX_ENTRY_SIZE_BYTES + 4);
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
        out.extend_from_slice(&entry_count.to_le_bytes());
        for field in [self.base_offset, self.segment_size_bytes, self.last_offset, self.last_timestamp_us] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        for entry in &self.entries {
            for field in [entry.offset, entry.timestamp_us, entry.position_bytes] {
                out.extend_from_slice(&field.to_le_bytes());
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses an index file; the error says which check failed.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < INDEX_HEADER_SIZE_BYTES + 4 {
            return Err(format!("index_size_bytes={} too small", bytes.len()));
        }
        let (body, crc_bytes) = bytes.split_at(bytes.len() - 4);
        let crc_stored = read_u32(crc_bytes, 0);
        let crc_computed = crc32fast::hash(body);
        if crc_stored != crc_computed || body[0..8] != INDEX_MAGIC || read_u32(body, 8) != INDEX_VERSION {
            return Err(format!(
                "index crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x} or bad magic/version"
            ));
        }
        let entry_count = read_u32(body, 12) as usize;
        if body.len() != INDEX_HEADER_SIZE_BYTES + entry_count * INDEX_ENTRY_SIZE_BYTES {
            return Err(format!("entry_count={entry_count} does not match index_size_bytes={}", bytes.len()));
        }
        let entries = body[INDEX_HEADER_SIZE_BYTES..]
            .chunks_exact(INDEX_ENTRY_SIZE_BYTES)
            .map(|e| IndexEntry {
                offset: read_u64(e, 0),
                timestamp_us: read_u64(e, 8),
                position_bytes: read_u64(e, 16),
            })
            .collect();
        Ok(Self {
            base_offset: read_u64(body, 16),
            segment_size_bytes: read_u64(body, 24),
            last_offset: read_u64(body, 32),
            last_timestamp_us: read_u64(body, 40),
            entries,
        })
    }

    /// Loads `path` if it exists and describes a segment with this base and size.
    pub fn load(storage: &dyn Storage, path: &Path, base_offset: u64, segment_size_bytes: u64) -> Option<Self> {
        let bytes = storage.read(path).ok()?;
        match Self::decode(&bytes) {
            Ok(index) if index.base_offset == base_offset && index.segment_size_bytes == segment_size_bytes => {
                Some(index)
            }
            Ok(index) => {
                tracing::warn!(path = %path.display(), index.base_offset, index.segment_size_bytes, segment_size_bytes,
                    "index describes another segment; rebuilding it from the log");
                None
            }
            Err(detail) => {
                tracing::warn!(path = %path.display(), %detail, "index is damaged; rebuilding it from the log");
                None
            }
        }
    }
}
