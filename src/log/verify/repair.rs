//! The repair half of verify: quarantine damaged bytes, cut torn ones,
//! delete derived files that disagree with their segment.
//!
//! Each step is made durable before the next, in an order that leaves a
//! prefix of the log after a crash at any point: damaged bytes are copied
//! out first, later segments leave newest first, and the damaged segment is
//! cut last. Rerunning a repair interrupted by a crash finishes the job.
//! A sealed segment is never changed in place, only replaced by rename.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Cut, Problem, Scan};
use crate::log::error::LogError;
use crate::log::frame::{FORMAT_VERSION, SEGMENT_HEADER_SIZE_BYTES, SegmentHeader};
use crate::log::manifest;
use crate::log::naming::{index_path, segment_path};
use crate::log::segment::{rebuild_index, write_derived};
use crate::storage::{Disk, Storage};

/// Name of the folder, beside `log/`, that receives damaged data.
const QUARANTINE_DIR_NAME: &str = "quarantine";

/// Applies the repair policy of the module docs to what `scan` found,
/// moving damaged data into `quarantine`.
pub(super) fn apply(log_dir: &Path, scan: &Scan, quarantine: &mut Quarantine) -> Result<(), LogError> {
    if let Some(cut) = scan.cut {
        cut_at(log_dir, scan, cut, quarantine)?;
    } else if let Some(&newest) = scan.bases.last() {
        let path = segment_path(log_dir, newest);
        if scan.torn_creation {
            tracing::warn!(path = %path.display(), "removing a segment whose creation a crash interrupted");
            std::fs::remove_file(&path).map_err(LogError::io(&path, "remove", 0))?;
            Disk.sync_dir(log_dir).map_err(LogError::io(log_dir, "fsync dir", 0))?;
            if let [.., previous, _] = scan.bases[..] {
                make_private(log_dir, &segment_path(log_dir, previous))?;
            }
        } else if let Some(valid_len_bytes) = scan.torn_tail_len_bytes {
            // As recovery does: the newest segment is never shared, and
            // readers never map it past the valid frames.
            tracing::warn!(path = %path.display(), position_bytes = valid_len_bytes, "cutting a torn tail");
            let file = OpenOptions::new().write(true).open(&path).map_err(LogError::io(&path, "open", 0))?;
            file.set_len(valid_len_bytes).map_err(LogError::io(&path, "truncate", valid_len_bytes))?;
            file.sync_data().map_err(LogError::io(&path, "fdatasync", valid_len_bytes))?;
        }
    }
    for leftover in &scan.leftovers {
        quarantine.move_whole(log_dir, leftover)?;
    }
    for index in &scan.bad_indexes {
        if index.with_extension("seg").exists() {
            remove_derived(index)?;
        } else {
            // An index whose segment is gone is the only trace of the
            // offsets that segment held: evidence, kept in quarantine.
            quarantine.move_whole(log_dir, index)?;
        }
    }
    Disk.sync_dir(log_dir).map_err(LogError::io(log_dir, "fsync dir", 0))?;
    // The files are what they are now: the manifest lists them so.
    manifest::rebuild(&Disk, log_dir)
}

/// After a cut, makes appends continue at `evidence_next_offset` (when the
/// cut log ends below it) with an empty newest segment based there; the
/// same when the active segment the manifest lists was `lost_active`. A
/// newest segment holding no frame would become a sealed one without
/// frames, which is corruption, so it goes to quarantine first.
pub(super) fn resume_at(
    log_dir: &Path,
    clean: &Scan,
    evidence_next_offset: u64,
    lost_active: bool,
    quarantine: &mut Quarantine,
) -> Result<(), LogError> {
    let newest_below = clean.bases.last().is_none_or(|&newest| newest < evidence_next_offset);
    let fresh_segment_needed = lost_active && newest_below && evidence_next_offset >= clean.report.next_offset;
    if evidence_next_offset <= clean.report.next_offset && !fresh_segment_needed {
        return Ok(());
    }
    if let Some(&newest) = clean.bases.last() {
        let path = segment_path(log_dir, newest);
        let size_bytes = std::fs::metadata(&path).map_err(LogError::io(&path, "stat", 0))?.len();
        if size_bytes <= SEGMENT_HEADER_SIZE_BYTES as u64 {
            quarantine.move_whole(log_dir, &path)?;
        } else {
            // It is sealed from now on, and sealed segments have an index.
            let bytes = std::fs::read(&path).map_err(LogError::io(&path, "read", 0))?;
            let index = rebuild_index(&path, &bytes, newest)?;
            write_derived(&Disk, &index_path(log_dir, newest), &index.encode());
        }
    }
    let header = SegmentHeader {
        format_version: FORMAT_VERSION,
        base_offset: evidence_next_offset,
        created_us: crate::log::system_now_us(),
    };
    let path = segment_path(log_dir, evidence_next_offset);
    // Written under a name no reader takes for a segment, then renamed.
    let temporary = path.with_extension("seg.repair");
    let mut file = File::create(&temporary).map_err(LogError::io(&temporary, "create", 0))?;
    file.write_all(&header.encode()).map_err(LogError::io(&temporary, "write", 0))?;
    file.sync_all().map_err(LogError::io(&temporary, "fsync", 0))?;
    std::fs::rename(&temporary, &path).map_err(LogError::io(&temporary, "rename", 0))?;
    Disk.sync_dir(log_dir).map_err(LogError::io(log_dir, "fsync dir", 0))?;
    tracing::warn!(path = %path.display(), next_offset = evidence_next_offset,
        "appends resume past every offset the log had handed out");
    manifest::rebuild(&Disk, log_dir)
}

/// Moves everything from the cut on into quarantine (see the module docs).
fn cut_at(log_dir: &Path, scan: &Scan, cut: Cut, quarantine: &mut Quarantine) -> Result<(), LogError> {
    let base = scan.bases[cut.segment_index];
    let path = segment_path(log_dir, base);
    let size_bytes = std::fs::metadata(&path).map_err(LogError::io(&path, "stat", 0))?.len();
    if cut.position_bytes > 0 && cut.position_bytes < size_bytes {
        quarantine.copy_tail(&path, cut.position_bytes)?;
    }
    for &later in scan.bases[cut.segment_index + 1..].iter().rev() {
        quarantine.move_whole(log_dir, &segment_path(log_dir, later))?;
        remove_derived(&index_path(log_dir, later))?;
    }
    if cut.position_bytes == 0 {
        quarantine.move_whole(log_dir, &path)?;
        if let Some(&previous) = cut.segment_index.checked_sub(1).and_then(|i| scan.bases.get(i)) {
            make_private(log_dir, &segment_path(log_dir, previous))?;
        }
    } else {
        tracing::warn!(path = %path.display(), position_bytes = cut.position_bytes, "cutting a damaged segment");
        replace_with_prefix(log_dir, &path, cut.position_bytes)?;
    }
    remove_derived(&index_path(log_dir, base))
}

/// Gives a sealed segment that is becoming the newest again a fresh inode
/// with the same bytes, because the writer will append to it and a restore
/// may have hard-linked it into another log.
fn make_private(log_dir: &Path, path: &Path) -> Result<(), LogError> {
    let size_bytes = std::fs::metadata(path).map_err(LogError::io(path, "stat", 0))?.len();
    replace_with_prefix(log_dir, path, size_bytes)
}

/// Replaces `path`, by rename, with a new file holding its first
/// `len_bytes`. Sealed segments are never changed in place: readers in other
/// processes may have them memory-mapped (a truncation would fault them),
/// and restore hard-links them into other logs.
fn replace_with_prefix(log_dir: &Path, path: &Path, len_bytes: u64) -> Result<(), LogError> {
    // Not a segment name, so a crash leaves only a file every reader ignores.
    let temporary = path.with_extension("seg.repair");
    let source = File::open(path).map_err(LogError::io(path, "open", 0))?;
    let mut copy = File::create(&temporary).map_err(LogError::io(&temporary, "create", 0))?;
    let copied = std::io::copy(&mut source.take(len_bytes), &mut copy).map_err(LogError::io(&temporary, "copy", 0))?;
    if copied != len_bytes {
        let source = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "segment shrank while being copied");
        return Err(LogError::Io { path: path.to_path_buf(), op: "read", position_bytes: copied, source });
    }
    copy.sync_all().map_err(LogError::io(&temporary, "fsync", 0))?;
    std::fs::rename(&temporary, path).map_err(LogError::io(&temporary, "rename", 0))?;
    Disk.sync_dir(log_dir).map_err(LogError::io(log_dir, "fsync dir", 0))
}

/// Deletes a derived file; one that is already gone is fine.
fn remove_derived(path: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "deleted a derived index; the next open rebuilds it");
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LogError::Io { path: path.to_path_buf(), op: "remove", position_bytes: 0, source }),
    }
}

/// `<data_dir>/quarantine/<UTC time>/`, created on first use.
pub(super) struct Quarantine {
    data_dir: PathBuf,
    report: String,
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

impl Quarantine {
    pub(super) fn new(log_dir: &Path, problems: &[Problem]) -> Self {
        let data_dir = match log_dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let report = problems.iter().map(|p| p.to_string() + "\n").collect();
        Self { data_dir, report, dir: None, files: Vec::new() }
    }

    /// The files written into quarantine so far.
    pub(super) fn files(self) -> Vec<PathBuf> {
        self.files
    }

    /// Adds problems a later pass of the same repair found to `problems.txt`.
    pub(super) fn note(&mut self, problems: &[Problem]) -> Result<(), LogError> {
        let text: String = problems.iter().map(|p| p.to_string() + "\n").collect();
        let Some(dir) = &self.dir else {
            self.report.push_str(&text);
            return Ok(());
        };
        let path = dir.join("problems.txt");
        let mut file = OpenOptions::new().append(true).open(&path).map_err(LogError::io(&path, "open", 0))?;
        file.write_all(text.as_bytes()).map_err(LogError::io(&path, "write", 0))?;
        file.sync_all().map_err(LogError::io(&path, "fsync", 0))
    }

    /// The quarantine folder of this repair, with its `problems.txt`.
    fn dir(&mut self) -> Result<PathBuf, LogError> {
        if let Some(dir) = &self.dir {
            return Ok(dir.clone());
        }
        let root = self.data_dir.join(QUARANTINE_DIR_NAME);
        std::fs::create_dir_all(&root).map_err(LogError::io(&root, "create_dir_all", 0))?;
        let now_us = i64::try_from(crate::log::system_now_us()).unwrap_or(0);
        let now = chrono::DateTime::from_timestamp_micros(now_us).unwrap_or_default();
        let stamp = now.format("%Y%m%dT%H%M%S%.6fZ").to_string();
        let mut dir = root.join(&stamp);
        let mut attempt = 1;
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => break,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    dir = root.join(format!("{stamp}-{attempt}"));
                    attempt += 1;
                }
                Err(source) => return Err(LogError::Io { path: dir, op: "create_dir", position_bytes: 0, source }),
            }
        }
        let report_path = dir.join("problems.txt");
        let mut report = File::create_new(&report_path).map_err(LogError::io(&report_path, "create", 0))?;
        report.write_all(self.report.as_bytes()).map_err(LogError::io(&report_path, "write", 0))?;
        report.sync_all().map_err(LogError::io(&report_path, "fsync", 0))?;
        for synced in [&dir, &root, &self.data_dir] {
            Disk.sync_dir(synced).map_err(LogError::io(synced, "fsync dir", 0))?;
        }
        self.dir = Some(dir.clone());
        Ok(dir)
    }

    /// Copies bytes `position_bytes..` of `path` into quarantine, durably.
    fn copy_tail(&mut self, path: &Path, position_bytes: u64) -> Result<(), LogError> {
        let dir = self.dir()?;
        let name = file_name(path);
        let target = dir.join(format!("{name}.from-byte-{position_bytes}"));
        let mut source = File::open(path).map_err(LogError::io(path, "open", 0))?;
        source.seek(SeekFrom::Start(position_bytes)).map_err(LogError::io(path, "seek", position_bytes))?;
        let mut copy = File::create_new(&target).map_err(LogError::io(&target, "create", 0))?;
        std::io::copy(&mut source, &mut copy).map_err(LogError::io(&target, "copy", 0))?;
        copy.sync_all().map_err(LogError::io(&target, "fsync", 0))?;
        Disk.sync_dir(&dir).map_err(LogError::io(&dir, "fsync dir", 0))?;
        tracing::warn!(from = %path.display(), position_bytes, to = %target.display(), "quarantined damaged bytes");
        self.files.push(target);
        Ok(())
    }

    /// Renames a whole segment into quarantine, durably in both folders.
    fn move_whole(&mut self, log_dir: &Path, path: &Path) -> Result<(), LogError> {
        let dir = self.dir()?;
        let target = dir.join(file_name(path));
        std::fs::rename(path, &target).map_err(LogError::io(path, "rename", 0))?;
        Disk.sync_dir(&dir).map_err(LogError::io(&dir, "fsync dir", 0))?;
        Disk.sync_dir(log_dir).map_err(LogError::io(log_dir, "fsync dir", 0))?;
        tracing::warn!(from = %path.display(), to = %target.display(), "quarantined a whole segment");
        self.files.push(target);
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| "segment".to_string(), |n| n.to_string_lossy().into_owned())
}
