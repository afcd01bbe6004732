//! Memory maps of active segments, kept between calls.
//!
//! [`map_active`](super::map_active) maps the published part of the active
//! segment afresh on every call: an mmap, a page fault on every page read,
//! and an munmap (with its TLB shootdown) each time. For a scan that is
//! noise; for resolving an as-of point, which reads two or three cache
//! lines, it was 95% of the cost (12 us of 13 in timetravel_bench). So the
//! batch-bound lookups (`bounds.rs`) share one map per active segment and
//! reuse it while its published part fits.
//!
//! A map is longer than its file (see [`map_len_bytes`]), which is sound
//! because nothing reads past the published length, which is never past
//! the end of the file: the active segment only grows while the log is
//! open. A map is dropped at the first call after its segment is (the log
//! rolled or closed), so it never holds a replaced file for long.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::log::SegmentSet;
use crate::log::error::LogError;
use crate::log::frame::SEGMENT_HEADER_SIZE_BYTES;
use crate::log::writer::ActiveSegment;
use crate::storage::Mapped;

/// The smallest map made, so that a young segment is not remapped on
/// every few appends. Unit tests use one page, so that their small logs
/// outgrow maps and take the remapping path too.
const MAP_LEN_BYTES_MIN: usize = if cfg!(test) { 4096 } else { 64 * 1024 * 1024 };

/// A map of one active segment's file.
struct CachedMap {
    /// Which segment: held weakly, so that the cache keeps no log alive,
    /// and compared by address, which the weak reference keeps from reuse.
    segment: Weak<ActiveSegment>,
    map: Arc<Mapped>,
}

/// One entry per active segment of every open log that resolved an as-of
/// point; held only to look up, insert or drop entries, never while mapping.
static ACTIVE_MAPS: Mutex<Vec<CachedMap>> = Mutex::new(Vec::new());

/// Calls `read` with the published bytes of the active segment (header
/// included), or returns `None` if it holds no frame.
pub(super) fn with_active_bytes<T>(set: &SegmentSet, read: impl FnOnce(&[u8]) -> T) -> Result<Option<T>, LogError> {
    let published_len_bytes = set.published.active_len_bytes;
    if set.published.segment_base != set.active.base_offset || published_len_bytes <= SEGMENT_HEADER_SIZE_BYTES as u64 {
        return Ok(None);
    }
    let path = &set.active.path;
    let too_large = || super::corruption(path, published_len_bytes, None, "segment too large to map".into());
    let len = usize::try_from(published_len_bytes).map_err(|_| too_large())?;
    let map = cached_map(&set.active, len)?;
    // `cached_map` returned a map at least `len` long.
    Ok(Some(read(&map[..len])))
}

/// Drops the shared map of `segment`: its bytes past the published part
/// were cut and are written anew (see `reopen.rs`), and a copy would keep
/// the old ones.
pub(crate) fn forget(segment: &Arc<ActiveSegment>) {
    let mut maps = ACTIVE_MAPS.lock().unwrap_or_else(PoisonError::into_inner);
    maps.retain(|cached| !std::ptr::eq(cached.segment.as_ptr(), Arc::as_ptr(segment)));
}

/// The shared map of `segment`, made (again) if there is none that covers
/// `len` bytes.
fn cached_map(segment: &Arc<ActiveSegment>, len: usize) -> Result<Arc<Mapped>, LogError> {
    let is_this = |cached: &CachedMap| std::ptr::eq(cached.segment.as_ptr(), Arc::as_ptr(segment));
    {
        let mut maps = ACTIVE_MAPS.lock().unwrap_or_else(PoisonError::into_inner);
        maps.retain(|cached| cached.segment.strong_count() > 0);
        if let Some(cached) = maps.iter().find(|cached| is_this(cached) && cached.map.len() >= len) {
            return Ok(Arc::clone(&cached.map));
        }
    }
    // Readers touch only the published bytes, which the file holds: never
    // the part of a map past the end of the file. A copy (the memory
    // backend) may be shorter than asked, and is checked as any map is.
    let map = segment.file.map(map_len_bytes(len)).map_err(LogError::io(&segment.path, "mmap", 0))?;
    if map.len() < len {
        let detail = format!("the file holds {} bytes of the {len} published", map.len());
        return Err(super::corruption(&segment.path, map.len() as u64, None, detail));
    }
    let map = Arc::new(map);
    let mut maps = ACTIVE_MAPS.lock().unwrap_or_else(PoisonError::into_inner);
    maps.retain(|cached| !is_this(cached));
    maps.push(CachedMap { segment: Arc::downgrade(segment), map: Arc::clone(&map) });
    Ok(map)
}

/// How long a map made for `len` published bytes is: twice that, so that
/// a growing segment is remapped a logarithmic number of times.
fn map_len_bytes(len: usize) -> usize {
    len.saturating_mul(2).max(MAP_LEN_BYTES_MIN)
}
