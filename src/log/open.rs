//! Opening a log: the manifest settled, a torn creation replaced, the
//! sealed segments mapped and chained, the active one recovered (its torn
//! tail cut), or a fresh log created. What an open may change on disk and
//! why each change is safe is in segments-format.md ("Recovery").

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};

use super::error::LogError;
use super::frame::{FORMAT_VERSION, SEGMENT_HEADER_SIZE_BYTES, SegmentHeader};
use super::manifest::Manifest;
use super::naming::segment_path;
use super::segment::{IndexBuilder, SealedSegment, map_file};
use super::syncer::SyncAheadRequests;
use super::writer::{ActiveSegment, CommitState, Writer, roll_now};
use super::{Inner, LogOptions, SegmentSet, Tail, lock, recovery};
use crate::limits::SEGMENT_SIZE_BYTES_MAX;
use crate::storage::{LockGuard, OpenMode, Storage, StorageFile, sync_data, sync_dir, write_all_at};

/// The first bytes of a segment file, one past its header: all that
/// `recovery::is_torn_creation` needs (the file itself may be 128 MiB).
fn read_prefix(options: &LogOptions, path: &Path) -> Result<Vec<u8>, LogError> {
    let file = options.storage.open(path, OpenMode::Read).map_err(LogError::io(path, "open", 0))?;
    let len_bytes = file.len_bytes().map_err(LogError::io(path, "stat", 0))?;
    let mut prefix = vec![0; len_bytes.min(SEGMENT_HEADER_SIZE_BYTES as u64 + 1) as usize];
    file.read_exact_at(&mut prefix, 0).map_err(LogError::io(path, "read", 0))?;
    Ok(prefix)
}

pub(crate) fn open_inner(log_dir: &Path, options: LogOptions) -> Result<Inner, LogError> {
    if options.segment_size_bytes > SEGMENT_SIZE_BYTES_MAX {
        let (size, limit) = (options.segment_size_bytes, SEGMENT_SIZE_BYTES_MAX);
        return Err(LogError::TooLarge { what: "segment_size_bytes", size, limit });
    }
    if !options.read_only {
        options.storage.create_dir_all(log_dir).map_err(LogError::io(log_dir, "create_dir_all", 0))?;
    }
    let lock_file = if options.read_only { None } else { Some(lock::acquire(&*options.storage, log_dir)?) };
    let listed = list_segments(&*options.storage, log_dir)?;
    let (bases, manifest) = super::manifest::settle(&options, log_dir, &listed)?;
    let writable = !options.read_only;
    if let Some(&newest) = bases.last() {
        let path = segment_path(log_dir, newest);
        if recovery::is_torn_creation(&read_prefix(&options, &path)?) && writable {
            tracing::warn!(path = %path.display(), "replacing a segment whose creation a crash interrupted");
            options.storage.remove(&path).map_err(LogError::io(&path, "remove", 0))?;
            sync_dir(&*options.storage, log_dir, options.faults.as_deref()).map_err(LogError::io(
                log_dir,
                "fsync dir",
                0,
            ))?;
            // Its name still says which offset comes next, so it is created
            // again rather than dropped. Dropping it would make the sealed
            // segment before it active again, and appending to a sealed
            // segment could write through a hard link into a restored copy
            // (see `restore.rs`); with no older segment, the log would never
            // open again.
            create_segment(log_dir, newest, &options)?;
        }
    }
    let Some((&active_base, sealed_bases)) = bases.split_last() else {
        return create_fresh(log_dir, options, lock_file);
    };
    let sealed = sealed_bases
        .iter()
        .map(|&base| {
            SealedSegment::open(&*options.storage, log_dir, segment_path(log_dir, base), base, writable).map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_chain(&sealed, active_base)?;
    let (active, writer, older_format) = recover_active(log_dir, active_base, &options)?;
    let previous_timestamp = sealed.last().map_or(0, |s| s.index.last_timestamp_us);
    let tail = Tail {
        next_offset: writer.next_offset,
        segment_base: active_base,
        active_len_bytes: writer.len_bytes,
        last_timestamp_us: writer.last_timestamp_us.max(previous_timestamp),
    };
    let mut writer = writer;
    writer.last_timestamp_us = tail.last_timestamp_us;
    let mut inner = assemble(log_dir, options, lock_file, sealed, active, writer, tail);
    *inner.manifest.get_mut().unwrap_or_else(PoisonError::into_inner) = manifest;
    if older_format {
        // Records of this build's format must not land in a file whose
        // header promises an older one, which older builds would then read.
        tracing::info!(base_offset = active_base, "sealing a segment of an older format before appending");
        roll_now(&inner)?;
    }
    Ok(inner)
}

fn assemble(
    log_dir: &Path,
    options: LogOptions,
    lock_file: Option<LockGuard>,
    sealed: Vec<Arc<SealedSegment>>,
    active: Arc<ActiveSegment>,
    writer: Writer,
    tail: Tail,
) -> Inner {
    let commit = CommitState {
        written: tail,
        written_segment: active.clone(),
        synced_next_offset: tail.next_offset,
        syncing: false,
        sync_ahead: SyncAheadRequests::default(),
    };
    let writer = (!options.read_only).then_some(writer);
    Inner {
        log_dir: log_dir.to_path_buf(),
        options,
        writer: Mutex::new(writer),
        segments: RwLock::new(SegmentSet { sealed, active, published: tail }),
        commit: Mutex::new(commit),
        commit_changed: Condvar::new(),
        sync_ahead_wanted: Condvar::new(),
        published_tx: tokio::sync::watch::Sender::new(tail.next_offset),
        failure: Mutex::new(None),
        manifest: Mutex::new(Manifest::default()),
        metrics: super::LogMetrics::default(),
        _lock: lock_file,
    }
}

/// The base offsets of the segment files in `log_dir`, oldest first.
pub(crate) fn list_segments(storage: &dyn Storage, log_dir: &Path) -> Result<Vec<u64>, LogError> {
    let names = match storage.list(log_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(LogError::Io { path: log_dir.into(), op: "read_dir", position_bytes: 0, source: error });
        }
    };
    let mut bases: Vec<u64> =
        names.iter().filter_map(|name| name.to_str().and_then(super::naming::parse_segment_name)).collect();
    bases.sort_unstable();
    Ok(bases)
}

/// Sealed segments must hold increasing, non-overlapping offset ranges.
fn check_chain(sealed: &[Arc<SealedSegment>], active_base: u64) -> Result<(), LogError> {
    let next_bases = sealed.iter().skip(1).map(|s| s.base_offset).chain([active_base]);
    for (segment, next_base) in sealed.iter().zip(next_bases) {
        if segment.index.last_offset >= next_base {
            let detail = format!(
                "last_offset={} overlaps the next segment's base_offset={next_base}",
                segment.index.last_offset
            );
            return Err(super::segment::corruption(&segment.path, 0, Some(segment.index.last_offset), detail));
        }
    }
    Ok(())
}

/// Recovers the newest segment and says whether it holds records in an
/// older format version, which a writer must seal before appending.
fn recover_active(
    log_dir: &Path,
    base: u64,
    options: &LogOptions,
) -> Result<(Arc<ActiveSegment>, Writer, bool), LogError> {
    let path = segment_path(log_dir, base);
    let map = map_file(&*options.storage, &path)?;
    let scan = recovery::scan_active(&path, &map, base, options.read_only)?;
    drop(map);
    let mode = if options.read_only { OpenMode::Read } else { OpenMode::ReadWrite };
    let file = options.storage.open(&path, mode).map_err(LogError::io(&path, "open", 0))?;
    if scan.torn_bytes > 0 && !options.read_only {
        tracing::warn!(path = %path.display(), position_bytes = scan.valid_len_bytes, dropped_bytes = scan.torn_bytes,
            "cutting a torn tail left by an interrupted append");
        file.set_len(scan.valid_len_bytes).map_err(LogError::io(&path, "truncate", scan.valid_len_bytes))?;
    }
    if !options.read_only {
        // Even without a cut: a process that died in `Never` mode may have
        // left its frames in the page cache only, and the frames appended
        // now will say these bytes are durable.
        sync_data(&*file, options.faults.as_deref()).map_err(LogError::io(&path, "fdatasync", scan.valid_len_bytes))?;
    }
    let older_format = scan.format_version < FORMAT_VERSION && !options.read_only;
    if older_format && scan.next_offset == base {
        upgrade_empty_header(&path, &*file, base, options)?;
    }
    let synced_len_bytes = if options.read_only { 0 } else { scan.valid_len_bytes };
    let active = Arc::new(ActiveSegment::new(base, path, file, scan.index.entries.clone(), synced_len_bytes));
    let writer = Writer {
        active: active.clone(),
        len_bytes: scan.valid_len_bytes,
        next_offset: scan.next_offset,
        last_timestamp_us: scan.last_timestamp_us,
        index: scan.index,
        buffer: Vec::new(),
    };
    Ok((active, writer, older_format && scan.next_offset > base))
}

/// Rewrites, in place, the header of a segment of an older format that
/// holds no record. A crash mid-write leaves a header-only file whose
/// header fails its crc: a torn creation, which the next open recreates.
fn upgrade_empty_header(
    path: &Path,
    file: &dyn StorageFile,
    base_offset: u64,
    options: &LogOptions,
) -> Result<(), LogError> {
    let faults = options.faults.as_deref();
    let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset, created_us: options.clock.now_us()? };
    write_all_at(file, faults, &header.encode(), 0).map_err(LogError::io(path, "write", 0))?;
    sync_data(file, faults).map_err(LogError::io(path, "fdatasync", 0))
}

fn create_fresh(log_dir: &Path, options: LogOptions, lock_file: Option<LockGuard>) -> Result<Inner, LogError> {
    let tail = Tail {
        next_offset: 0,
        segment_base: 0,
        active_len_bytes: SEGMENT_HEADER_SIZE_BYTES as u64,
        last_timestamp_us: 0,
    };
    let manifest = Manifest::of_files(&[0], |_| Ok(0))?;
    let active = if options.read_only {
        // An empty read-only log: nothing on disk, nothing to read.
        let path = segment_path(log_dir, 0);
        Arc::new(ActiveSegment::new(0, path, crate::storage::empty_file(), Vec::new(), 0))
    } else {
        let active = create_segment(log_dir, 0, &options)?;
        manifest.store(&*options.storage, log_dir, options.faults.as_deref())?;
        active
    };
    let writer = Writer {
        active: active.clone(),
        len_bytes: tail.active_len_bytes,
        next_offset: 0,
        last_timestamp_us: 0,
        index: IndexBuilder::default(),
        buffer: Vec::new(),
    };
    let read_only_empty = options.read_only;
    let mut inner = assemble(log_dir, options, lock_file, Vec::new(), active, writer, tail);
    *inner.manifest.get_mut().unwrap_or_else(PoisonError::into_inner) = manifest;
    if read_only_empty {
        inner.segments.get_mut().unwrap_or_else(PoisonError::into_inner).published.active_len_bytes = 0;
    }
    Ok(inner)
}

/// Creates a segment file with its header, fsyncs it and the directory.
pub(super) fn create_segment(
    log_dir: &Path,
    base_offset: u64,
    options: &LogOptions,
) -> Result<Arc<ActiveSegment>, LogError> {
    let path = segment_path(log_dir, base_offset);
    let faults = options.faults.as_deref();
    // Read before the file exists: a refused reading leaves no 0-byte segment.
    let header = SegmentHeader { format_version: FORMAT_VERSION, base_offset, created_us: options.clock.now_us()? };
    let storage = &*options.storage;
    let file = storage.open(&path, OpenMode::CreateNew).map_err(LogError::io(&path, "create", 0))?;
    write_all_at(&*file, faults, &header.encode(), 0).map_err(LogError::io(&path, "write", 0))?;
    sync_data(&*file, faults).map_err(LogError::io(&path, "fdatasync", 0))?;
    sync_dir(storage, log_dir, faults).map_err(LogError::io(log_dir, "fsync dir", 0))?;
    // The header is durable: its fdatasync just returned.
    Ok(Arc::new(ActiveSegment::new(base_offset, path, file, Vec::new(), SEGMENT_HEADER_SIZE_BYTES as u64)))
}
