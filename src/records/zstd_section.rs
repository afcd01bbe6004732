//! zstd frames for the sections of a codec 2 put (segments-format.md, "Put
//! payload, codec 2").
//!
//! Owns one compression and one decompression context per thread, so a
//! replay that decompresses a million small metadata sections pays for a
//! context once. Never allocates more than a frame's declared content size,
//! and never more than [`SECTION_SIZE_BYTES_MAX`]: a small record claiming
//! a huge expansion (a decompression bomb) is an error, not an allocation.

use std::cell::RefCell;

use zstd::zstd_safe::{self, CCtx, DCtx};

use crate::limits::RECORD_SIZE_BYTES_DEFAULT;

/// Largest a compressed section may expand to. Larger sections are written
/// uncompressed, so any frame that claims more is damage.
pub const SECTION_SIZE_BYTES_MAX: u32 = RECORD_SIZE_BYTES_DEFAULT;

/// zstd level for puts. At level 3 (zstd's default) compression_bench's
/// import ran at 51% of the uncompressed rate; level 1 is zstd's fastest
/// regular level, and on records of a few hundred bytes the two differ by a
/// few percent of size.
const LEVEL: i32 = 1;

thread_local! {
    static COMPRESSOR: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DECOMPRESSOR: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// `bytes` as one zstd frame (with its content size), if it is at least
/// `threshold_bytes` long, at most [`SECTION_SIZE_BYTES_MAX`], and the
/// frame is smaller than the bytes.
pub(crate) fn zstd_compress(bytes: &[u8], threshold_bytes: usize) -> Option<Vec<u8>> {
    if bytes.is_empty() || bytes.len() < threshold_bytes || bytes.len() > SECTION_SIZE_BYTES_MAX as usize {
        return None;
    }
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(bytes.len()));
    COMPRESSOR.with(|context| context.borrow_mut().compress(&mut out, bytes, LEVEL)).ok()?;
    (out.len() < bytes.len()).then_some(out)
}

/// Decompresses one zstd frame that must fill `frame` exactly, declare its
/// content size, use no dictionary, and expand to `expected_size_bytes`
/// when given (else to at most [`SECTION_SIZE_BYTES_MAX`]).
pub(crate) fn zstd_decompress(frame: &[u8], expected_size_bytes: Option<u32>) -> Result<Vec<u8>, String> {
    let declared = match zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => size,
        Ok(None) => return Err("zstd frame without a content size".into()),
        Err(_) => return Err(format!("not a zstd frame ({} bytes)", frame.len())),
    };
    if declared > u64::from(SECTION_SIZE_BYTES_MAX) {
        return Err(format!("zstd frame claims {declared} bytes, more than {SECTION_SIZE_BYTES_MAX}"));
    }
    if let Some(expected) = expected_size_bytes.filter(|&e| u64::from(e) != declared) {
        return Err(format!("zstd frame claims {declared} bytes, the put header {expected}"));
    }
    if let Some(dictionary) = zstd_safe::get_dict_id_from_frame(frame) {
        return Err(format!("zstd frame needs dictionary {dictionary}, which format version 3 does not have"));
    }
    match zstd_safe::find_frame_compressed_size(frame) {
        Ok(size) if size == frame.len() => {}
        Ok(size) => return Err(format!("zstd frame of {size} bytes in a section of {}", frame.len())),
        Err(code) => return Err(format!("zstd frame: {}", zstd_safe::get_error_name(code))),
    }
    // `declared` is bounded above, and decompression stops at the buffer's
    // capacity: a frame whose blocks expand past its header fails here.
    let mut out = Vec::with_capacity(declared as usize);
    let written = DECOMPRESSOR
        .with(|context| context.borrow_mut().decompress(&mut out, frame))
        .map_err(|code| format!("zstd: {}", zstd_safe::get_error_name(code)))?;
    if written as u64 != declared {
        return Err(format!("zstd frame expanded to {written} bytes, it claims {declared}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip_and_small_or_incompressible_ones_stay_plain() -> Result<(), String> {
        let text = br#"{"reading":12.5,"unit":"celsius","site":"lab-1","tags":["a","b"]}"#.repeat(4);
        let frame = zstd_compress(&text, 0).ok_or("repetitive text compresses")?;
        assert_eq!(zstd_decompress(&frame, Some(text.len() as u32))?, text);
        assert_eq!(zstd_decompress(&frame, None)?, text);
        assert!(zstd_compress(&text, text.len() + 1).is_none(), "below the threshold");
        assert!(zstd_compress(b"ab", 0).is_none(), "a frame larger than two bytes does not pay");
        Ok(())
    }

    #[test]
    fn a_frame_claiming_a_huge_or_different_size_is_refused_before_allocating() -> Result<(), String> {
        // 8 MiB of zeros compresses to under 4 KiB; its header declares 8 MiB.
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let bomb = zstd::bulk::compress(&zeros, 1).map_err(|e| e.to_string())?;
        assert!(bomb.len() < 4096, "a small record");
        let declared_small = zstd_decompress(&bomb, Some(100)).expect_err("header says 100 bytes");
        assert!(declared_small.contains("claims 8388608 bytes, the put header 100"), "{declared_small}");
        let huge = vec![0u8; SECTION_SIZE_BYTES_MAX as usize + 1];
        let frame = zstd::bulk::compress(&huge, 1).map_err(|e| e.to_string())?;
        let error = zstd_decompress(&frame, None).expect_err("past the bound");
        assert!(error.contains("more than"), "{error}");
        Ok(())
    }

    #[test]
    fn damaged_frames_are_errors_not_panics() -> Result<(), String> {
        let text = br#"{"reading":12.5,"unit":"celsius","site":"lab-1"}"#.repeat(8);
        let frame = zstd_compress(&text, 0).ok_or("compresses")?;
        for cut in 0..frame.len() {
            assert!(zstd_decompress(&frame[..cut], None).is_err(), "cut at {cut}");
        }
        for position in 0..frame.len() {
            let mut flipped = frame.clone();
            flipped[position] ^= 0x10;
            // Most flips are caught; the rest must not panic, and if they
            // decode they decode to the declared size.
            if let Ok(bytes) = zstd_decompress(&flipped, Some(text.len() as u32)) {
                assert_eq!(bytes.len(), text.len());
            }
        }
        Ok(())
    }
}
