//! Offline check of a log directory, and its repair by quarantine.
//!
//! Owns no file of its own: it reads the segment and index files of
//! `segments-format.md` straight from the directory, without opening a
//! [`Log`](super::Log), so a check needs no lock and runs beside a live
//! writer. It checks more than an open does: every frame and record checksum
//! of every segment (an open trusts a valid index and walks only the newest
//! segment), offset order across segments, density record by record in the
//! newest segment, and every index against a rebuild from its segment.
//! Segments are read with plain reads, not memory maps, so a concurrent
//! truncation by another process's recovery cannot fault this one.
//!
//! # Repair policy
//!
//! `verify(log_dir, true)` takes the write lock, checks, and then changes the
//! directory so that the log opens again, without deleting a byte that was
//! ever part of a frame: damaged bytes go to `<data_dir>/quarantine/<time>/`.
//!
//! - Damage at byte `p > 0` of segment `S` (a bad frame, a bad record
//!   checksum, a misnumbered offset): bytes `p..` are copied to
//!   `<S name>.from-byte-<p>` in quarantine and fsynced; every later segment
//!   is renamed into quarantine, newest first; then `S` is replaced, by
//!   rename, with a fsynced copy of its bytes `..p`. Offsets after the damage
//!   can no longer be shown to be a dense history, and moving newest first
//!   means a crash midway leaves a prefix of the log, never a log with a hole
//!   in the middle.
//! - A bad header or a base offset overlapping the previous segment is
//!   damage at `p = 0`: `S` itself is moved whole, after the later ones.
//! - Sealed segments are never changed in place, because other processes
//!   may have them mapped and restore hard-links them. So a sealed segment
//!   that becomes the newest again (the one before a moved `S`, or before a
//!   removed torn creation) is also replaced by a copy of itself: the writer
//!   will append to it.
//! - Without damage, a torn tail or torn creation of the newest segment is
//!   cut or removed exactly as recovery on open would.
//! - Damaged and mismatched index files are deleted: they are derived, and
//!   the next open rebuilds them. An orphaned one (its segment is gone) is
//!   the only trace of that segment's offsets, so it goes to quarantine.
//! - A segment whose header is sound but names a format version this build
//!   does not know was written by a newer recstore, not damaged: repair
//!   refuses to run and changes nothing.
//!
//! - A repair runs check and apply until the log is clean (one pass for
//!   the operator): moving a damaged segment can make the one before it
//!   the newest, whose stricter check (dense offsets) may then fail too.
//! - After a cut, the newest segment is followed by an empty one based at
//!   the highest offset any file showed before the repair (see
//!   `evidence.rs`), so appends never hand out a quarantined offset again.
//!   A newest segment left holding no frame is moved to quarantine first,
//!   since a sealed segment must hold one. Anything derived that claims
//!   offsets in the gap (views, the search index) fails its own check on
//!   open, since the last record it covers no longer reads with the
//!   timestamp it recorded, and is rebuilt.

mod evidence;
mod repair;
mod scan;

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::LogError;
use super::frame::unreadable_version;
use super::lock;
use crate::storage::{Disk, Storage};
use scan::{Cut, Scan, check};

/// What kind of problem verify found. Only [`ProblemKind::Corruption`]
/// keeps a log from opening; the others are warnings that an open (or a
/// repair) handles by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Damage no crash can explain: a bad header, a bad frame or record in a
    /// sealed segment or followed by valid data, misnumbered or overlapping
    /// offsets.
    Corruption,
    /// The unsynced end of an interrupted append in the newest segment, or
    /// a newest segment whose creation a crash interrupted. Recovery cuts it.
    TornTail,
    /// An index file that is damaged, disagrees with its segment, or has no
    /// segment. It is derived and will be rebuilt.
    IndexMismatch,
    /// A sealed segment without an index file. It will be rebuilt.
    IndexMissing,
    /// A segment file the manifest no longer lists: a compaction removed
    /// it and a crash came before the file went. Nothing reads it; an open
    /// deletes it, and a repair moves it to quarantine.
    Leftover,
}

impl ProblemKind {
    /// Whether this problem keeps the log from opening until it is repaired.
    #[must_use]
    pub fn is_corruption(self) -> bool {
        self == Self::Corruption
    }
}

/// One problem, located as precisely as the damage allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// The segment or index file.
    pub path: PathBuf,
    /// Byte position of the problem in that file (0 for a whole file).
    pub position_bytes: u64,
    /// The record offset found or expected there, when known.
    pub offset: Option<u64>,
    /// What check failed, as `name=value` pairs where there are values.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} in {} at byte {}", self.kind, self.path.display(), self.position_bytes)?;
        if let Some(offset) = self.offset {
            write!(f, " (record offset {offset})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a verify run looked at and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files read.
    pub segments_checked: u64,
    /// Valid frames walked.
    pub frames_checked: u64,
    /// Records in those frames, each with its record checksum checked.
    pub records_checked: u64,
    /// Bytes of segment files read.
    pub bytes_checked: u64,
    /// One past the last record checked in offset order, or the newest
    /// segment's base if that is later: the log's next offset when it is
    /// clean.
    pub next_offset: u64,
    /// Where a repair cut the log back to because of damage: the records
    /// from this offset on are in quarantine, and the next append gets this
    /// offset again. `None` without repair, or when nothing was cut.
    pub repaired_next_offset: Option<u64>,
    /// Where appends continue after a repair that cut the log: one past the
    /// highest offset the log had handed out, so that no offset is handed
    /// out twice. `None` without repair, or when nothing was cut.
    pub resumed_next_offset: Option<u64>,
    /// Everything found, in directory order. With repair, these are the
    /// problems found before repairing.
    pub problems: Vec<Problem>,
    /// Files a repair wrote into quarantine (empty without repair).
    pub quarantined: Vec<PathBuf>,
}

impl VerifyReport {
    /// No corruption: the log opens as it is. Warnings are allowed.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        !self.problems.iter().any(|p| p.kind.is_corruption())
    }
}

/// A check of one record's payload (kind, flags, payload) by the layer
/// above, which the log itself never interprets: an error is corruption of
/// that record. The item store's is `records::codec::check_payload`.
pub type PayloadCheck = fn(u8, u8, &[u8]) -> Result<(), String>;

/// Checks the log in `log_dir`; with `repair`, also fixes what it found
/// (see the module docs for the policy) and checks again.
///
/// Without `repair` it takes no lock and writes nothing.
///
/// # Errors
///
/// Damage is reported in the [`VerifyReport`], not as an error. Errors are
/// [`LogError::Io`] when a file cannot be read (or, with `repair`, moved or
/// cut), [`LogError::Locked`] when `repair` is asked while a writer has the
/// log open, and [`LogError::Corruption`] if damage remains after repairing.
pub fn verify(log_dir: &Path, repair: bool) -> Result<VerifyReport, LogError> {
    verify_payloads(log_dir, repair, None)
}

/// [`verify`] without repair, of a log in any [`Storage`].
///
/// # Errors
///
/// As [`verify`].
pub fn verify_in(storage: &dyn Storage, log_dir: &Path) -> Result<VerifyReport, LogError> {
    Ok(check(storage, log_dir, None)?.report)
}

/// [`verify`], which also runs `payload_check` on every record of every
/// valid frame; a payload it refuses is corruption at its frame, and a
/// repair keeps everything before that frame.
///
/// # Errors
///
/// As [`verify`].
pub fn verify_payloads(
    log_dir: &Path,
    repair: bool,
    payload_check: Option<PayloadCheck>,
) -> Result<VerifyReport, LogError> {
    if !repair {
        return Ok(check(&Disk, log_dir, payload_check)?.report);
    }
    let _lock = lock::acquire(&Disk, log_dir)?;
    let scan = check(&Disk, log_dir, payload_check)?;
    if let Some((path, format_version)) = scan.unknown_version {
        // Written by a newer build, not damaged: quarantining it would throw
        // away good data, so the operator must upgrade instead.
        let detail = format!(
            "{}; refusing to repair a log written by a newer recstore: upgrade recstore instead",
            unreadable_version(format_version)
        );
        return Err(LogError::Corruption { path, position_bytes: 8, offset: None, detail });
    }
    let evidence_next_offset = match scan.cut {
        Some(_) => evidence::evidence_next_offset(log_dir, &scan.bases)?,
        None => 0,
    };
    // A lost active segment held offsets from its base on: never reuse them.
    let evidence_next_offset = evidence_next_offset.max(scan.manifest_active_base.unwrap_or(0));
    let mut quarantine = repair::Quarantine::new(log_dir, &scan.report.problems);
    let after = repair_until_clean(log_dir, &scan, &mut quarantine, payload_check)?;
    let repaired_next_offset = scan.cut.map(|_| after.report.next_offset);
    let mut resumed_next_offset = None;
    // Its records are lost, and the sealed segment before it must stay sealed.
    let lost_active = scan.manifest_active_base.is_some_and(|base| !scan.bases.contains(&base));
    if scan.cut.is_some() || lost_active {
        repair::resume_at(log_dir, &after, evidence_next_offset, lost_active, &mut quarantine)?;
        let resumed = check(&Disk, log_dir, payload_check)?;
        if let Some(left) = resumed.report.problems.iter().find(|p| p.kind.is_corruption()) {
            return Err(still_damaged(left));
        }
        resumed_next_offset = Some(resumed.report.next_offset);
    }
    Ok(VerifyReport { quarantined: quarantine.files(), repaired_next_offset, resumed_next_offset, ..scan.report })
}

/// Applies the repair policy and checks again, as often as a repair uncovers
/// more damage (at most once per segment), and returns the clean check.
fn repair_until_clean(
    log_dir: &Path,
    first: &Scan,
    quarantine: &mut repair::Quarantine,
    payload_check: Option<PayloadCheck>,
) -> Result<Scan, LogError> {
    repair::apply(log_dir, first, quarantine)?;
    for _ in 0..=first.bases.len() {
        let after = check(&Disk, log_dir, payload_check)?;
        if after.report.is_clean() {
            return Ok(after);
        }
        quarantine.note(&after.report.problems)?;
        repair::apply(log_dir, &after, quarantine)?;
    }
    let after = check(&Disk, log_dir, payload_check)?;
    match after.report.problems.iter().find(|p| p.kind.is_corruption()) {
        Some(left) => Err(still_damaged(left)),
        None => Ok(after),
    }
}

fn still_damaged(left: &Problem) -> LogError {
    LogError::Corruption {
        path: left.path.clone(),
        position_bytes: left.position_bytes,
        offset: left.offset,
        detail: format!("still damaged after repair: {}", left.message),
    }
}
