//! A memory map of the active segment kept between calls on one thread.
//!
//! [`map_active`](super::map_active) maps the published part of the active
//! segment afresh on every call: an mmap, a page fault on every page read,
//! and an munmap (with its TLB shootdown) each time. For a scan that is
//! noise; for resolving an as-of point, which reads two or three cache
//! lines, it was 95% of the cost (12 us of 13 in timetravel_bench). So the
//! batch-bound lookups (`bounds.rs`) keep one map per thread and reuse it
//! while the active segment stays the same and its published part fits.
//!
//! The map is longer than the file (see [`map_len_bytes`]), which is sound
//! because nothing reads past the published length, which is never past
//! the end of the file: the active segment only grows while the log is
//! open. Once the log rolls, the next call sees another active segment and
//! replaces the map; until then, or until the thread ends, a thread holds
//! a map of at most one segment file.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use memmap2::{Mmap, MmapOptions};

use crate::log::SegmentSet;
use crate::log::error::LogError;
use crate::log::frame::SEGMENT_HEADER_SIZE_BYTES;
use crate::log::writer::ActiveSegment;

/// The smallest map made, so that a young segment is not remapped on
/// every few appends. Unit tests use one page, so that their small logs
/// outgrow maps and take the remapping path too.
const MAP_LEN_BYTES_MIN: usize = if cfg!(test) { 4096 } else { 64 * 1024 * 1024 };

/// A map of one active segment's file.
struct CachedMap {
    /// Which segment: held weakly, so the cache keeps no log alive, and
    /// compared by address, which the weak reference keeps from reuse.
    segment: Weak<ActiveSegment>,
    map: Rc<Mmap>,
}

thread_local! {
    static ACTIVE_MAP: RefCell<Option<CachedMap>> = const { RefCell::new(None) };
}

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

/// This thread's map of `segment`, made (again) if it has none that covers
/// `len` bytes.
fn cached_map(segment: &Arc<ActiveSegment>, len: usize) -> Result<Rc<Mmap>, LogError> {
    let cached = ACTIVE_MAP.with_borrow(|cached| {
        cached
            .as_ref()
            .filter(|c| std::ptr::eq(c.segment.as_ptr(), Arc::as_ptr(segment)) && c.map.len() >= len)
            .map(|c| Rc::clone(&c.map))
    });
    if let Some(map) = cached {
        return Ok(map);
    }
    let map_len = map_len_bytes(len);
    // SAFETY: the active segment only grows while the log is open (see
    // `segment::map_file`), and readers touch only the published bytes,
    // which the file holds: never the map's part past the end of the file.
    #[allow(unsafe_code, reason = "memory-mapped reads of the written part of the active segment")]
    let map = unsafe { MmapOptions::new().len(map_len).map(&segment.file) };
    let map = Rc::new(map.map_err(LogError::io(&segment.path, "mmap", 0))?);
    ACTIVE_MAP.with_borrow_mut(|cached| {
        *cached = Some(CachedMap { segment: Arc::downgrade(segment), map: Rc::clone(&map) });
    });
    Ok(map)
}

/// How long a map made for `len` published bytes is: twice that, so that
/// a growing segment is remapped a logarithmic number of times.
fn map_len_bytes(len: usize) -> usize {
    len.saturating_mul(2).max(MAP_LEN_BYTES_MIN)
}
