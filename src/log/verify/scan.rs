//! The check half of verify: read every segment and index file of a log
//! directory and list what is wrong, with what a repair needs to act on it.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::{PayloadCheck, Problem, ProblemKind, VerifyReport};
use crate::log::error::LogError;
use crate::log::frame::{
    FRAME_HEADER_SIZE_BYTES, Frame, RECORD_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES, SEGMENT_MAGIC, decode_record,
    read_u32, reads_format_version,
};
use crate::log::index::SegmentIndex;
use crate::log::manifest;
use crate::log::naming::{INDEX_EXTENSION, index_path, parse_segment_name, segment_path};
use crate::log::recovery::{find_frame_proving_damage, find_valid_frame_after, is_torn_creation};
use crate::log::segment::{IndexBuilder, check_header, describe, walk_frames};
use crate::storage::{OpenMode, Storage};

/// Where a repair has to cut: everything from `position_bytes` of the
/// segment at `segment_index` (in `Scan::bases`) on is untrusted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    pub segment_index: usize,
    pub position_bytes: u64,
}

/// A check's findings, with what a repair needs to act on them.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub report: VerifyReport,
    /// Base offsets of the segment files, ascending.
    pub bases: Vec<u64>,
    /// The first corruption.
    pub cut: Option<Cut>,
    /// Valid length of the newest segment, if it ends in a torn tail.
    pub torn_tail_len_bytes: Option<u64>,
    /// The newest segment is a torn creation.
    pub torn_creation: bool,
    /// Index files to delete.
    pub bad_indexes: Vec<PathBuf>,
    /// The first segment with a sound header of a format version this build
    /// does not know.
    pub unknown_version: Option<(PathBuf, u32)>,
    /// The layer above's check of each payload, if it gave one.
    pub payload_check: Option<PayloadCheck>,
    /// Segment files the manifest no longer lists: left by a compaction
    /// that a crash interrupted, and left out of the check.
    pub leftovers: Vec<PathBuf>,
    /// The manifest's active segment: a repair resumes appends at or past it.
    pub manifest_active_base: Option<u64>,
}

impl Scan {
    /// Reports what the manifest check found. Its corruption sets no cut:
    /// no byte is damaged, and a repair lists the files as they are.
    fn note_manifest(&mut self, log_dir: &Path, audit: manifest::Audit) {
        self.manifest_active_base = audit.active_base;
        if let Some(LogError::Corruption { path, position_bytes, offset, detail }) = audit.corruption {
            self.problem(ProblemKind::Corruption, &path, position_bytes, offset, detail);
        } else if let Some(error) = audit.corruption {
            let path = log_dir.join(manifest::MANIFEST_FILE_NAME);
            self.problem(ProblemKind::Corruption, &path, 0, None, error.to_string());
        }
        for base in audit.leftovers {
            let path = segment_path(log_dir, base);
            let message = "a segment compaction removed from the manifest; a repair moves it to quarantine".into();
            self.problem(ProblemKind::Leftover, &path, 0, Some(base), message);
            self.leftovers.push(path);
        }
    }

    fn problem(&mut self, kind: ProblemKind, path: &Path, position_bytes: u64, offset: Option<u64>, message: String) {
        self.report.problems.push(Problem { kind, path: path.to_path_buf(), position_bytes, offset, message });
    }

    fn corruption(
        &mut self,
        segment_index: usize,
        path: &Path,
        position_bytes: u64,
        offset: Option<u64>,
        message: String,
    ) {
        self.problem(ProblemKind::Corruption, path, position_bytes, offset, message);
        self.cut.get_or_insert(Cut { segment_index, position_bytes });
    }
}

pub(super) fn check(
    storage: &dyn Storage,
    log_dir: &Path,
    payload_check: Option<PayloadCheck>,
) -> Result<Scan, LogError> {
    let (mut bases, index_bases) = list(storage, log_dir)?;
    let audit = manifest::audit(storage, log_dir, &bases);
    bases.retain(|base| !audit.leftovers.contains(base));
    let mut scan = Scan { bases: bases.clone(), payload_check, ..Scan::default() };
    scan.note_manifest(log_dir, audit);
    // A torn creation is set aside first, as recovery does, so that the
    // segment before it is checked as the newest: it is the newest again
    // once the torn file is removed.
    let torn_creation = find_torn_creation(storage, log_dir, &bases)?;
    let live_count = bases.len() - usize::from(torn_creation.is_some());
    // Offsets must stay above everything the earlier segments hold.
    let mut expected_min = 0;
    for (segment_index, &base) in bases[..live_count].iter().enumerate() {
        let newest = segment_index + 1 == live_count;
        let path = segment_path(log_dir, base);
        let bytes = storage.read(&path).map_err(LogError::io(&path, "read", 0))?;
        scan.report.segments_checked += 1;
        scan.report.bytes_checked += bytes.len() as u64;
        let segment = SegmentRef { storage, log_dir, path: &path, bytes: &bytes, base, segment_index, newest };
        if let Some(last_offset) = check_segment(&mut scan, &segment, expected_min) {
            expected_min = last_offset + 1;
        }
    }
    let newest_base = bases[..live_count].last().copied().unwrap_or(0);
    scan.report.next_offset = expected_min.max(newest_base);
    if let Some((base, size_bytes)) = torn_creation {
        let path = segment_path(log_dir, base);
        scan.report.segments_checked += 1;
        scan.report.bytes_checked += size_bytes;
        let message =
            format!("torn creation: size_bytes={size_bytes} holds no valid header and no frame; it will be removed");
        scan.problem(ProblemKind::TornTail, &path, 0, Some(base), message);
        scan.torn_creation = true;
    }
    for (base, path) in index_bases {
        if bases.binary_search(&base).is_err() {
            let message = "index file without a segment; it will be deleted".to_string();
            scan.problem(ProblemKind::IndexMismatch, &path, 0, None, message);
            scan.bad_indexes.push(path);
        }
    }
    Ok(scan)
}

/// The base and size of the newest segment if it is a torn creation that
/// recovery would remove: only when it is not the only segment.
fn find_torn_creation(storage: &dyn Storage, log_dir: &Path, bases: &[u64]) -> Result<Option<(u64, u64)>, LogError> {
    let [_, .., newest] = bases else { return Ok(None) };
    let path = segment_path(log_dir, *newest);
    let file = storage.open(&path, OpenMode::Read).map_err(LogError::io(&path, "open", 0))?;
    let size_bytes = file.len_bytes().map_err(LogError::io(&path, "stat", 0))?;
    if size_bytes > SEGMENT_HEADER_SIZE_BYTES as u64 {
        return Ok(None);
    }
    let bytes = storage.read(&path).map_err(LogError::io(&path, "read", 0))?;
    Ok(is_torn_creation(&bytes).then_some((*newest, bytes.len() as u64)))
}

/// Index files found in a log directory, with their base offsets.
type IndexFiles = Vec<(u64, PathBuf)>;

/// Segment base offsets, and index files, ascending.
fn list(storage: &dyn Storage, log_dir: &Path) -> Result<(Vec<u64>, IndexFiles), LogError> {
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    for name in storage.list(log_dir).map_err(LogError::io(log_dir, "read_dir", 0))? {
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = parse_segment_name(name) {
            bases.push(base);
        } else if let Some(base) = parse_index_name(name) {
            indexes.push((base, log_dir.join(name)));
        }
    }
    bases.sort_unstable();
    indexes.sort_unstable();
    Ok((bases, indexes))
}

fn parse_index_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(INDEX_EXTENSION)?.strip_suffix('.')?;
    parse_segment_name(&format!("{stem}.seg"))
}

/// One segment file being checked.
struct SegmentRef<'a> {
    storage: &'a dyn Storage,
    log_dir: &'a Path,
    path: &'a Path,
    bytes: &'a [u8],
    base: u64,
    segment_index: usize,
    newest: bool,
}

/// What a walk over one segment's frames found.
#[derive(Default)]
struct FrameWalk {
    frames: u64,
    records: u64,
    index: IndexBuilder,
    /// The next offset after the last valid frame.
    expected: u64,
    /// Position just past the last valid frame.
    valid_len_bytes: usize,
}

/// Checks one segment; returns its last valid record offset, if it has one.
fn check_segment(scan: &mut Scan, segment: &SegmentRef<'_>, expected_min: u64) -> Option<u64> {
    let (path, base) = (segment.path, segment.base);
    if let Some(format_version) = unknown_version(segment.bytes) {
        scan.unknown_version.get_or_insert((path.to_path_buf(), format_version));
    }
    if let Err(error) = check_header(path, segment.bytes, base) {
        let detail = match error {
            LogError::Corruption { detail, .. } => detail,
            other => other.to_string(),
        };
        scan.corruption(segment.segment_index, path, 0, Some(base), detail);
        return None;
    }
    if base < expected_min {
        let message = format!(
            "base_offset={base} overlaps the previous segment, whose last record has offset={}",
            expected_min - 1
        );
        scan.corruption(segment.segment_index, path, 0, Some(base), message);
        return None;
    }
    let problems_before = scan.report.problems.len();
    let walk = walk_segment(scan, segment);
    scan.report.frames_checked += walk.frames;
    scan.report.records_checked += walk.records;
    let last_offset = walk.index.last_offset;
    let damaged = scan.report.problems[problems_before..].iter().any(|p| p.kind.is_corruption());
    if !segment.newest && walk.frames == 0 && !damaged {
        let message = "sealed segment holds no frames".to_string();
        scan.corruption(segment.segment_index, path, SEGMENT_HEADER_SIZE_BYTES as u64, Some(base), message);
        return None;
    }
    // A damaged segment's index describes bytes a repair will cut anyway.
    if !damaged {
        let rebuilt = walk.index.finish(base, walk.valid_len_bytes as u64);
        check_index(scan, segment, rebuilt);
    }
    last_offset
}

/// The version of a header that passes every check but the version check.
fn unknown_version(bytes: &[u8]) -> Option<u32> {
    let header = bytes.get(..SEGMENT_HEADER_SIZE_BYTES)?;
    let crc_sound = read_u32(header, 28) == crc32fast::hash(&header[..28]);
    let format_version = read_u32(header, 8);
    (header[..8] == SEGMENT_MAGIC && crc_sound && !reads_format_version(format_version)).then_some(format_version)
}

/// Walks every frame of a segment whose header is valid, recording a
/// corruption or torn tail where the walk stops early.
fn walk_segment(scan: &mut Scan, segment: &SegmentRef<'_>) -> FrameWalk {
    let bytes = segment.bytes;
    let mut walk = FrameWalk { expected: segment.base, ..FrameWalk::default() };
    let mut stop: Option<(usize, u64, String)> = None;
    let payload_check = scan.payload_check;
    let end = walk_frames(bytes, SEGMENT_HEADER_SIZE_BYTES, |position, frame| {
        // The newest segment is never compacted, so its offsets are dense
        // from its base; older ones may have gaps but never go backwards.
        let misnumbered =
            if segment.newest { frame.first_offset != walk.expected } else { frame.first_offset < walk.expected };
        if misnumbered {
            let relation = if segment.newest { "" } else { "at least " };
            let message = format!("frame first_offset={} expected {relation}{}", frame.first_offset, walk.expected);
            stop = Some((position, frame.first_offset, message));
            return ControlFlow::Break(());
        }
        let checked = check_records(bytes, position, frame, segment.newest)
            .and_then(|()| payload_check.map_or(Ok(()), |check| check_payloads(position, frame, check)));
        if let Err((offset, message)) = checked {
            stop = Some((position, offset, message));
            return ControlFlow::Break(());
        }
        walk.frames += 1;
        walk.records += frame.records().count() as u64;
        walk.index.observe(position as u64, frame);
        walk.expected = frame.last_offset + 1;
        ControlFlow::Continue(())
    });
    walk.valid_len_bytes = end.end_position;
    let (path, segment_index) = (segment.path, segment.segment_index);
    if let Some((position, offset, message)) = stop {
        scan.corruption(segment_index, path, position as u64, Some(offset), message);
    } else if let Some(defect) = end.defect {
        let position = end.end_position;
        // In the newest segment only a frame written after the bad bytes
        // were durable proves damage; in a sealed one any valid frame does.
        let later = if segment.newest {
            find_frame_proving_damage(bytes, position, walk.expected)
        } else {
            find_valid_frame_after(bytes, position, walk.expected)
        };
        let detail = describe(&defect);
        match later {
            None if segment.newest => {
                let torn_bytes = bytes.len() - position;
                let message = format!("torn tail: {detail}; torn_bytes={torn_bytes} will be cut");
                scan.problem(ProblemKind::TornTail, path, position as u64, Some(walk.expected), message);
                scan.torn_tail_len_bytes = Some(position as u64);
            }
            None => {
                let message = format!("{detail}, in a sealed segment");
                scan.corruption(segment_index, path, position as u64, Some(walk.expected), message);
            }
            Some(later) => {
                let message = format!("{detail}; a valid frame follows at byte {later}");
                scan.corruption(segment_index, path, position as u64, Some(walk.expected), message);
            }
        }
    }
    walk
}

/// Checks each record checksum of a valid frame (the frame checksum covers
/// them, so a mismatch means a writer bug or a forged frame), and in the
/// newest segment that offsets are dense. Errs with the record's offset.
fn check_records(bytes: &[u8], position: usize, frame: &Frame<'_>, dense: bool) -> Result<(), (u64, String)> {
    let frame_end = position + frame.size_bytes;
    let mut record_position = position + FRAME_HEADER_SIZE_BYTES;
    for (record_index, record) in frame.records().enumerate() {
        if let Err(detail) = decode_record(&bytes[record_position..frame_end]) {
            return Err((record.offset, format!("record at byte {record_position}: {detail}")));
        }
        let expected = frame.first_offset + record_index as u64;
        if dense && record.offset != expected {
            let message = format!("record at byte {record_position}: offset={} expected {expected}", record.offset);
            return Err((record.offset, message));
        }
        record_position += RECORD_HEADER_SIZE_BYTES + record.payload.len();
    }
    Ok(())
}

/// Runs the layer above's check on each payload of a valid frame: a record
/// whose checksum matches but whose payload that layer cannot read (a
/// compressed section that does not decompress) is damage all the same.
fn check_payloads(position: usize, frame: &Frame<'_>, check: PayloadCheck) -> Result<(), (u64, String)> {
    let mut record_position = position + FRAME_HEADER_SIZE_BYTES;
    for record in frame.records() {
        if let Err(detail) = check(record.kind, record.flags, record.payload) {
            return Err((record.offset, format!("record at byte {record_position}: kind={} {detail}", record.kind)));
        }
        record_position += RECORD_HEADER_SIZE_BYTES + record.payload.len();
    }
    Ok(())
}

/// Compares a segment's index file, if any, with one rebuilt from its frames.
fn check_index(scan: &mut Scan, segment: &SegmentRef<'_>, rebuilt: Option<SegmentIndex>) {
    let path = index_path(segment.log_dir, segment.base);
    let Ok(bytes) = segment.storage.read(&path) else {
        // The newest segment has no index; a sealed one gets it rebuilt on open.
        if !segment.newest {
            let message = "index missing, will be rebuilt".to_string();
            scan.problem(ProblemKind::IndexMissing, &path, 0, None, message);
        }
        return;
    };
    let difference = match (SegmentIndex::decode(&bytes), rebuilt) {
        (Err(detail), _) => Some(format!("index damaged: {detail}")),
        (Ok(_), None) => Some("index present but the segment holds no frames".to_string()),
        (Ok(found), Some(rebuilt)) => index_difference(&found, &rebuilt),
    };
    if let Some(difference) = difference {
        let stale = if segment.newest { "stale index next to the newest segment: " } else { "" };
        let message = format!("{stale}{difference}; it is derived and will be deleted and rebuilt");
        scan.problem(ProblemKind::IndexMismatch, &path, 0, None, message);
        scan.bad_indexes.push(path);
    }
}

/// The first way `found` differs from `rebuilt`, if any.
fn index_difference(found: &SegmentIndex, rebuilt: &SegmentIndex) -> Option<String> {
    let fields = [
        ("base_offset", found.base_offset, rebuilt.base_offset),
        ("segment_size_bytes", found.segment_size_bytes, rebuilt.segment_size_bytes),
        ("last_offset", found.last_offset, rebuilt.last_offset),
        ("last_timestamp_us", found.last_timestamp_us, rebuilt.last_timestamp_us),
        ("entry_count", found.entries.len() as u64, rebuilt.entries.len() as u64),
    ];
    if let Some((name, found, rebuilt)) = fields.into_iter().find(|(_, found, rebuilt)| found != rebuilt) {
        return Some(format!("index {name}={found} but the segment gives {rebuilt}"));
    }
    let (entry_index, (found, rebuilt)) =
        found.entries.iter().zip(&rebuilt.entries).enumerate().find(|(_, (found, rebuilt))| found != rebuilt)?;
    Some(format!("index entry {entry_index} is {found:?} but the segment gives {rebuilt:?}"))
}
