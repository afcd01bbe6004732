//! The segment manifest, `log/MANIFEST`: which segment files make up the
//! log and how large each sealed one is.
//!
//! Offsets may have gaps (compaction drops records), so the segment files
//! alone cannot show that one of them was deleted, cut at a frame
//! boundary, or swapped for another. The manifest can: each segment covers
//! the offsets from its base to the next one's, and a sealed segment's size
//! never changes but by compaction, which updates the manifest around its
//! rename. Rewritten whole, by rename, after every roll, rewrite and removal
//! (segments-format.md, "Manifest"). This module owns its bytes and its
//! rules; it never reads a segment's frames.

use std::path::{Path, PathBuf};

use super::LogOptions;
use super::error::LogError;
use super::frame::SEGMENT_HEADER_SIZE_BYTES;
use super::naming::segment_path;
use crate::storage::{FaultInjector, OpenMode, Storage, sync_data, sync_dir, write_all_at};

/// Name of the manifest in the log directory.
pub const MANIFEST_FILE_NAME: &str = "MANIFEST";
/// Where a new manifest is written before it is renamed over the old one.
const MANIFEST_TEMPORARY_NAME: &str = "MANIFEST.tmp";
const MAGIC: [u8; 8] = *b"RSMANIFS";
const MANIFEST_VERSION: u32 = 1;
/// The first log format whose logs keep a manifest.
const FIRST_VERSION_WITH_MANIFEST: u32 = 4;
const HEADER_SIZE_BYTES: usize = 16;
const ENTRY_SIZE_BYTES: usize = 24;
const TRAILER_SIZE_BYTES: usize = 4;

/// One segment the log consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ManifestEntry {
    /// The segment's base offset (and file name).
    pub base_offset: u64,
    /// A sealed segment's size; 0 for the active one, which grows.
    pub size_bytes: u64,
    /// While compaction swaps a sealed segment's file, the new file's size
    /// (either size may be found after a crash); 0 otherwise.
    pub size_bytes_after: u64,
}

impl ManifestEntry {
    fn sealed(base_offset: u64, size_bytes: u64) -> Self {
        Self { base_offset, size_bytes, size_bytes_after: 0 }
    }

    /// Whether a sealed segment's file of `size_bytes` is the one listed.
    pub fn accepts_size(&self, size_bytes: u64) -> bool {
        size_bytes == self.size_bytes || self.size_bytes_after != 0 && size_bytes == self.size_bytes_after
    }
}

/// The segments, oldest first; the last one is the active segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// A manifest of segments at `bases` (ascending), sealed ones of the
    /// sizes `size_of` gives.
    pub fn of_files(bases: &[u64], mut size_of: impl FnMut(u64) -> Result<u64, LogError>) -> Result<Self, LogError> {
        let mut entries = Vec::with_capacity(bases.len());
        if let Some((&active, sealed)) = bases.split_last() {
            for &base in sealed {
                entries.push(ManifestEntry::sealed(base, size_of(base)?));
            }
            entries.push(ManifestEntry::sealed(active, 0));
        }
        Ok(Self { entries })
    }

    /// The offsets segment `index` covers: from its base to the next base.
    pub fn covered(&self, index: usize) -> (u64, Option<u64>) {
        (self.entries[index].base_offset, self.entries.get(index + 1).map(|e| e.base_offset))
    }

    /// Seals the active segment at `size_bytes` and lists a new active one.
    pub fn roll(&mut self, sealed_size_bytes: u64, new_base: u64) {
        let active = self.entries.last_mut().expect("a manifest lists the active segment");
        assert!(active.base_offset < new_base, "segments are listed in offset order");
        active.size_bytes = sealed_size_bytes;
        self.entries.push(ManifestEntry::sealed(new_base, 0));
    }

    /// Compaction is about to rename a file of `size_bytes` over the sealed
    /// segment at `base_offset`: either may be found until [`Self::swapped`].
    pub fn swapping(&mut self, base_offset: u64, size_bytes: u64) {
        self.sealed_entry(base_offset).size_bytes_after = size_bytes;
    }

    /// The new file of [`Self::swapping`] is in place.
    pub fn swapped(&mut self, base_offset: u64, size_bytes: u64) {
        *self.sealed_entry(base_offset) = ManifestEntry::sealed(base_offset, size_bytes);
    }

    fn sealed_entry(&mut self, base_offset: u64) -> &mut ManifestEntry {
        let last = self.entries.len() - 1;
        let index = self.entries.iter().position(|e| e.base_offset == base_offset);
        let index = index.filter(|&i| i < last).expect("compaction rewrites only listed sealed segments");
        &mut self.entries[index]
    }

    pub fn remove(&mut self, base_offset: u64) {
        self.entries.retain(|e| e.base_offset != base_offset);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_SIZE_BYTES + self.entries.len() * ENTRY_SIZE_BYTES + 4);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        let count = u32::try_from(self.entries.len()).expect("fewer than 2^32 segments");
        bytes.extend_from_slice(&count.to_le_bytes());
        for entry in &self.entries {
            bytes.extend_from_slice(&entry.base_offset.to_le_bytes());
            bytes.extend_from_slice(&entry.size_bytes.to_le_bytes());
            bytes.extend_from_slice(&entry.size_bytes_after.to_le_bytes());
        }
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Checks and reads a manifest; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let too_short = || format!("size_bytes={} is too short for a manifest", bytes.len());
        let body_len = bytes.len().checked_sub(TRAILER_SIZE_BYTES).ok_or_else(too_short)?;
        if body_len < HEADER_SIZE_BYTES {
            return Err(too_short());
        }
        let (body, trailer) = bytes.split_at(body_len);
        let (crc_stored, crc_computed) = (read_u32(trailer, 0), crc32fast::hash(body));
        if crc_stored != crc_computed {
            return Err(format!("crc_stored={crc_stored:#010x} crc_computed={crc_computed:#010x}"));
        }
        if body[..8] != MAGIC || read_u32(body, 8) != MANIFEST_VERSION {
            return Err(format!("not a version {MANIFEST_VERSION} manifest"));
        }
        let count = read_u32(body, 12) as usize;
        if body.len() != HEADER_SIZE_BYTES + count * ENTRY_SIZE_BYTES || count == 0 {
            return Err(format!("entry_count={count} does not fill size_bytes={}", bytes.len()));
        }
        let entries: Vec<ManifestEntry> = body[HEADER_SIZE_BYTES..]
            .chunks_exact(ENTRY_SIZE_BYTES)
            .map(|e| ManifestEntry {
                base_offset: read_u64(e, 0),
                size_bytes: read_u64(e, 8),
                size_bytes_after: read_u64(e, 16),
            })
            .collect();
        if entries.windows(2).any(|pair| pair[0].base_offset >= pair[1].base_offset) {
            return Err("segments are not in increasing offset order".into());
        }
        if let Some(sealed) = entries[..count - 1].iter().find(|e| e.size_bytes == 0) {
            return Err(format!("sealed segment {} has size_bytes=0", sealed.base_offset));
        }
        Ok(Self { entries })
    }

    /// Reads `log_dir`'s manifest: `None` if there is none, corruption if
    /// it is damaged.
    pub fn load(storage: &dyn Storage, log_dir: &Path) -> Result<Option<Self>, LogError> {
        let path = log_dir.join(MANIFEST_FILE_NAME);
        let bytes = match storage.read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LogError::Io { path, op: "read", position_bytes: 0, source }),
        };
        Self::decode(&bytes).map(Some).map_err(|detail| LogError::Corruption {
            path,
            position_bytes: 0,
            offset: None,
            detail,
        })
    }

    /// Replaces `log_dir`'s manifest with this one, durably: a crash leaves
    /// the old one or the new one, whole.
    pub fn store(&self, storage: &dyn Storage, log_dir: &Path, faults: Option<&FaultInjector>) -> Result<(), LogError> {
        let temporary = log_dir.join(MANIFEST_TEMPORARY_NAME);
        let path = log_dir.join(MANIFEST_FILE_NAME);
        let file = storage.open(&temporary, OpenMode::CreateTruncate).map_err(LogError::io(&temporary, "create", 0))?;
        write_all_at(&*file, faults, &self.encode(), 0).map_err(LogError::io(&temporary, "write", 0))?;
        sync_data(&*file, faults).map_err(LogError::io(&temporary, "fdatasync", 0))?;
        storage.rename(&temporary, &path).map_err(LogError::io(&temporary, "rename", 0))?;
        sync_dir(storage, log_dir, faults).map_err(LogError::io(log_dir, "fsync dir", 0))
    }
}

/// What the segment files on disk are, against the manifest.
#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    /// The segments to open, oldest first.
    pub bases: Vec<u64>,
    /// Segment files no manifest lists below the active one: what a crash
    /// left of a compaction that removed them. Nothing reads them.
    pub leftovers: Vec<u64>,
    /// The manifest as the files show it, to store if it differs.
    pub manifest: Manifest,
}

/// Checks the segment files at `bases` (ascending, with their sizes from
/// `size_of`) against `manifest`: every listed file must exist, and every
/// sealed one must have its listed size. One file past the manifest's
/// active segment is a roll that a crash interrupted before the manifest
/// named it, and is taken in.
pub(crate) fn reconcile(
    log_dir: &Path,
    manifest: &Manifest,
    bases: &[u64],
    mut size_of: impl FnMut(u64) -> Result<u64, LogError>,
) -> Result<Reconciled, LogError> {
    let last = manifest.entries.len() - 1;
    for (index, entry) in manifest.entries.iter().enumerate() {
        let path = segment_path(log_dir, entry.base_offset);
        if bases.binary_search(&entry.base_offset).is_err() {
            return Err(missing(manifest, index, path));
        }
        let size_bytes = size_of(entry.base_offset)?;
        if index < last && !entry.accepts_size(size_bytes) {
            let detail = format!(
                "size_bytes={size_bytes} but the manifest lists size_bytes={}: the file was cut, extended or replaced",
                entry.size_bytes
            );
            let position_bytes = size_bytes.min(entry.size_bytes);
            return Err(LogError::Corruption { path, position_bytes, offset: None, detail });
        }
    }
    let active_base = manifest.entries[last].base_offset;
    let listed = |base: &u64| manifest.entries.iter().any(|e| e.base_offset == *base);
    let leftovers: Vec<u64> = bases.iter().copied().filter(|b| *b < active_base && !listed(b)).collect();
    let beyond: Vec<u64> = bases.iter().copied().filter(|b| *b > active_base).collect();
    if let [_, extra, ..] = beyond[..] {
        let detail = "segment file past the manifest's active segment: only one roll can be in progress".into();
        return Err(LogError::Corruption {
            path: segment_path(log_dir, extra),
            position_bytes: 0,
            offset: Some(extra),
            detail,
        });
    }
    let mut settled = manifest.clone();
    for entry in &mut settled.entries[..last] {
        if entry.size_bytes_after != 0 {
            *entry = ManifestEntry::sealed(entry.base_offset, size_of(entry.base_offset)?);
        }
    }
    if let [rolled_to] = beyond[..] {
        settled.roll(size_of(active_base)?, rolled_to);
    }
    let bases = settled.entries.iter().map(|e| e.base_offset).collect();
    Ok(Reconciled { bases, leftovers, manifest: settled })
}

/// The segments an open goes on with and the manifest that lists them: the
/// stored one checked against the files (see [`reconcile`]), or, for a log
/// written before the manifest existed (format 3 and older), one made from
/// the files. A writable open stores it when it changed and removes the
/// leftovers of an interrupted compaction; a read-only one changes nothing.
pub(crate) fn settle(options: &LogOptions, log_dir: &Path, bases: &[u64]) -> Result<(Vec<u64>, Manifest), LogError> {
    let storage = &*options.storage;
    let size_of = |base: u64| file_size(storage, &segment_path(log_dir, base));
    let stored = Manifest::load(storage, log_dir)?;
    let reconciled = match &stored {
        Some(manifest) => reconcile(log_dir, manifest, bases, size_of)?,
        None => {
            refuse_missing_manifest(storage, log_dir, bases)?;
            Reconciled { bases: bases.to_vec(), leftovers: Vec::new(), manifest: Manifest::of_files(bases, size_of)? }
        }
    };
    if !options.read_only {
        let faults = options.faults.as_deref();
        for &base in &reconciled.leftovers {
            let path = segment_path(log_dir, base);
            tracing::warn!(path = %path.display(), "removing a segment that compaction had removed from the manifest");
            storage.remove(&path).map_err(LogError::io(&path, "remove", 0))?;
            let _ = storage.remove(&super::naming::index_path(log_dir, base));
        }
        let changed = stored.as_ref() != Some(&reconciled.manifest);
        if changed && !reconciled.manifest.entries.is_empty() {
            reconciled.manifest.store(storage, log_dir, faults)?;
        }
    }
    Ok((reconciled.bases, reconciled.manifest))
}

/// Without a manifest, the segments must all be of a format older than 4,
/// which had none, or a fresh log's first segment; a newer segment with
/// frames means the manifest was lost.
fn refuse_missing_manifest(storage: &dyn Storage, log_dir: &Path, bases: &[u64]) -> Result<(), LogError> {
    // A fresh log writes its first segment, then its manifest: a crash in
    // between leaves segment 0 with no frame, and nothing lost.
    if bases == [0] && file_size(storage, &segment_path(log_dir, 0))? <= SEGMENT_HEADER_SIZE_BYTES as u64 {
        return Ok(());
    }
    for &base in bases {
        let path = segment_path(log_dir, base);
        let file = storage.open(&path, OpenMode::Read).map_err(LogError::io(&path, "open", 0))?;
        let mut version = [0u8; 4];
        if file.read_exact_at(&mut version, 8).is_ok() && u32::from_le_bytes(version) >= FIRST_VERSION_WITH_MANIFEST {
            let detail = format!(
                "missing, and {} is of format {}, which has one: `recstore verify --repair` rebuilds it from the segments",
                path.display(),
                u32::from_le_bytes(version)
            );
            let path = log_dir.join(MANIFEST_FILE_NAME);
            return Err(LogError::Corruption { path, position_bytes: 0, offset: None, detail });
        }
    }
    Ok(())
}

pub(crate) fn file_size(storage: &dyn Storage, path: &Path) -> Result<u64, LogError> {
    let file = storage.open(path, OpenMode::Read).map_err(LogError::io(path, "open", 0))?;
    file.len_bytes().map_err(LogError::io(path, "stat", 0))
}

/// What `verify` learns from the manifest, without changing anything.
#[derive(Debug, Default)]
pub(crate) struct Audit {
    /// The first way the files and the manifest disagree, as corruption.
    pub corruption: Option<LogError>,
    /// Segment files to leave out: leftovers of an interrupted compaction.
    pub leftovers: Vec<u64>,
    /// The manifest's active segment: appends must never resume below it.
    pub active_base: Option<u64>,
}

/// Checks the segment files at `bases` against the manifest, as an open
/// would, and says what it found instead of failing.
pub(crate) fn audit(storage: &dyn Storage, log_dir: &Path, bases: &[u64]) -> Audit {
    let size_of = |base: u64| file_size(storage, &segment_path(log_dir, base));
    let manifest = match Manifest::load(storage, log_dir) {
        Ok(Some(manifest)) => manifest,
        Ok(None) => {
            let corruption = refuse_missing_manifest(storage, log_dir, bases).err();
            return Audit { corruption, ..Audit::default() };
        }
        Err(error) => return Audit { corruption: Some(error), ..Audit::default() },
    };
    let active_base = manifest.entries.last().map(|e| e.base_offset);
    match reconcile(log_dir, &manifest, bases, size_of) {
        Ok(reconciled) => Audit { corruption: None, leftovers: reconciled.leftovers, active_base },
        Err(error) => Audit { corruption: Some(error), leftovers: Vec::new(), active_base },
    }
}

/// A manifest listing the segment files in `log_dir` now: after a repair
/// moved, cut or created some. An empty directory gets none.
pub(crate) fn rebuild(storage: &dyn Storage, log_dir: &Path) -> Result<(), LogError> {
    let bases = super::open::list_segments(storage, log_dir)?;
    if bases.is_empty() {
        return Ok(());
    }
    let manifest = Manifest::of_files(&bases, |base| file_size(storage, &segment_path(log_dir, base)))?;
    manifest.store(storage, log_dir, None)
}

fn missing(manifest: &Manifest, index: usize, path: PathBuf) -> LogError {
    let (from, to) = manifest.covered(index);
    let range = match to {
        Some(to) => format!("offsets {from}..{to}"),
        None => format!("offsets from {from} on"),
    };
    let detail = format!("segment missing: the manifest lists it, holding {range}");
    LogError::Corruption { path, position_bytes: 0, offset: Some(from), detail }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(entries: &[(u64, u64)]) -> Manifest {
        Manifest { entries: entries.iter().map(|&(base, size)| ManifestEntry::sealed(base, size)).collect() }
    }

    #[test]
    fn a_manifest_round_trips_and_any_flipped_byte_is_caught() {
        let original = manifest(&[(0, 4096), (100, 2048), (250, 0)]);
        let bytes = original.encode();
        assert_eq!(Manifest::decode(&bytes), Ok(original));
        for position in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0x40;
            assert!(Manifest::decode(&damaged).is_err(), "a flip at byte {position} must be caught");
        }
        assert!(Manifest::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    fn sizes(base: u64) -> Result<u64, LogError> {
        Ok(match base {
            0 => 4096,
            100 => 2048,
            _ => 77,
        })
    }

    #[test]
    fn a_missing_segment_names_the_offsets_it_held() {
        let listed = manifest(&[(0, 4096), (100, 2048), (250, 0)]);
        match reconcile(Path::new("log"), &listed, &[0, 250], sizes) {
            Err(LogError::Corruption { path, offset, detail, .. }) => {
                assert_eq!(path, segment_path(Path::new("log"), 100));
                assert_eq!(offset, Some(100));
                assert_eq!(detail, "segment missing: the manifest lists it, holding offsets 100..250");
            }
            other => panic!("a missing segment must be corruption, got {other:?}"),
        }
    }

    #[test]
    fn a_sealed_segment_of_another_size_is_corruption() {
        let listed = manifest(&[(0, 4000), (250, 0)]);
        let result = reconcile(Path::new("log"), &listed, &[0, 250], sizes);
        assert!(matches!(result, Err(LogError::Corruption { position_bytes: 4000, .. })), "{result:?}");
    }

    #[test]
    fn a_roll_the_manifest_missed_and_a_removal_it_recorded_are_taken_in() -> Result<(), LogError> {
        let listed = manifest(&[(0, 4096), (250, 0)]);
        let reconciled = reconcile(Path::new("log"), &listed, &[0, 100, 250, 300], sizes)?;
        assert_eq!(reconciled.bases, [0, 250, 300]);
        assert_eq!(reconciled.leftovers, [100]);
        assert_eq!(reconciled.manifest, manifest(&[(0, 4096), (250, 77), (300, 0)]));
        Ok(())
    }
}
