//! A crash while a new segment was being created leaves a file too short to
//! hold its header. Reopening recreates it; the sealed segment before it is
//! never appended to again (it may be hard-linked into a restored copy).

use recstore::log::{Log, LogOptions, NewRecord, SyncMode};

#[test]
fn a_torn_new_segment_is_recreated_and_the_sealed_one_stays_untouched() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let options = || LogOptions { segment_size_bytes: 1024, sync: SyncMode::Never, ..LogOptions::default() };
    {
        let log = Log::open(dir.path(), options())?;
        while log.segment_count() < 3 {
            log.append(&[NewRecord { kind: 1, flags: 0, payload: &[7u8; 100] }])?;
        }
    }
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    let newest = segments.pop().ok_or("no segments")?;
    let sealed = segments.pop().ok_or("no sealed segment")?;
    std::fs::write(&newest, [0u8; 10])?;
    let sealed_before = std::fs::read(&sealed)?;

    let log = Log::open(dir.path(), options())?;
    let next = log.next_offset();
    let appended = log.append(&[NewRecord { kind: 1, flags: 0, payload: b"after the crash" }])?;
    assert_eq!(appended.first_offset, next, "offsets continue densely");
    assert_eq!(log.read(next)?.payload, b"after the crash");
    assert_eq!(std::fs::read(&sealed)?, sealed_before, "the sealed segment was not appended to");
    assert!(std::fs::metadata(&newest)?.len() > 10, "the torn segment was created again and written to");
    Ok(())
}
