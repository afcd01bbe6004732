//! File names in the log directory: `<base offset, 20 digits>.seg` for
//! segments, the same stem with `.idx` for their indexes.

use std::path::{Path, PathBuf};

/// Extension of segment files.
pub const SEGMENT_EXTENSION: &str = "seg";
/// Extension of sparse index files.
pub const INDEX_EXTENSION: &str = "idx";

/// Path of the segment whose first record has `base_offset`.
pub fn segment_path(log_dir: &Path, base_offset: u64) -> PathBuf {
    log_dir.join(format!("{base_offset:020}.{SEGMENT_EXTENSION}"))
}

/// Path of the index of the segment at `base_offset`.
pub fn index_path(log_dir: &Path, base_offset: u64) -> PathBuf {
    log_dir.join(format!("{base_offset:020}.{INDEX_EXTENSION}"))
}

/// The base offset a segment file name carries, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit())).then(|| stem.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_offset() {
        let path = segment_path(Path::new("/x"), 42);
        assert_eq!(path, Path::new("/x/00000000000000000042.seg"));
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        assert_eq!(parse_segment_name(name), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.seg"), None);
        assert!(segment_path(Path::new(""), 9) < segment_path(Path::new(""), 10));
    }
}
