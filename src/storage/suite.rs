//! One suite for every backend: each test runs on [`Disk`] and on
//! [`MemoryStorage`], so the model behaves as the file system does. Then
//! the power-loss rules that only the memory backend can show.

use std::path::{Path, PathBuf};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `check` on each backend, in a fresh directory of it.
fn on_every_backend(check: impl Fn(&dyn Storage, &Path) -> TestResult) -> TestResult {
    let temporary = tempfile::tempdir()?;
    check(&Disk, &temporary.path().join("root"))?;
    check(&MemoryStorage::default(), Path::new("/root"))
}

fn names(storage: &dyn Storage, dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = storage.list(dir)?.into_iter().map(|n| n.to_string_lossy().into_owned()).collect();
    names.sort();
    Ok(names)
}

#[test]
fn files_read_back_what_was_written_at_any_position() -> TestResult {
    on_every_backend(|storage, dir| {
        storage.create_dir_all(dir)?;
        let file = storage.open(&dir.join("a"), OpenMode::CreateNew)?;
        file.write_all_at(b"hello world", 0)?;
        file.write_all_at(b"W", 6)?;
        file.sync_data()?;
        assert_eq!(file.len_bytes()?, 11);
        let mut middle = [0u8; 5];
        file.read_exact_at(&mut middle, 6)?;
        assert_eq!(&middle, b"World");
        assert_eq!(&*file.map(11)?, b"hello World");
        assert_eq!(storage.read(&dir.join("a"))?, b"hello World");
        let past_end = file.read_exact_at(&mut middle, 9).map_err(|e| e.kind());
        assert_eq!(past_end, Err(std::io::ErrorKind::UnexpectedEof));
        file.set_len(5)?;
        assert_eq!(storage.read(&dir.join("a"))?, b"hello");
        Ok(())
    })
}

#[test]
fn names_are_created_renamed_listed_and_removed() -> TestResult {
    on_every_backend(|storage, dir| {
        storage.create_dir_all(&dir.join("sub"))?;
        storage.open(&dir.join("a"), OpenMode::CreateNew)?.write_all_at(b"1", 0)?;
        let again = storage.open(&dir.join("a"), OpenMode::CreateNew).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(again, Err(std::io::ErrorKind::AlreadyExists));
        storage.rename(&dir.join("a"), &dir.join("b"))?;
        assert_eq!(names(storage, dir)?, ["b", "sub"]);
        storage.open(&dir.join("b"), OpenMode::CreateTruncate)?;
        assert_eq!(storage.read(&dir.join("b"))?, b"");
        storage.remove(&dir.join("b"))?;
        assert_eq!(names(storage, dir)?, ["sub"]);
        let missing = storage.open(&dir.join("b"), OpenMode::Read).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(missing, Err(std::io::ErrorKind::NotFound));
        let no_dir = storage.list(&dir.join("nope")).map_err(|e| e.kind());
        assert_eq!(no_dir, Err(std::io::ErrorKind::NotFound));
        storage.sync_dir(dir)?;
        Ok(())
    })
}

#[test]
fn a_read_only_file_refuses_writes() -> TestResult {
    on_every_backend(|storage, dir| {
        storage.create_dir_all(dir)?;
        storage.open(&dir.join("a"), OpenMode::CreateNew)?;
        let file = storage.open(&dir.join("a"), OpenMode::Read)?;
        assert!(file.write_all_at(b"x", 0).is_err());
        Ok(())
    })
}

#[test]
fn the_lock_admits_one_holder_and_names_it() -> TestResult {
    on_every_backend(|storage, dir| {
        storage.create_dir_all(dir)?;
        let path = dir.join("LOCK");
        let guard = storage.lock(&path, "4242").map_err(|e| format!("{e:?}"))?;
        match storage.lock(&path, "7") {
            Err(LockRefused::Held { holder }) => assert_eq!(holder, "4242"),
            other => panic!("a held lock must be refused with its holder, got {other:?}"),
        }
        drop(guard);
        storage.lock(&path, "7").map_err(|e| format!("{e:?}"))?;
        Ok(())
    })
}

fn memory_file(storage: &MemoryStorage, name: &str, bytes: &[u8], synced: bool) -> std::io::Result<PathBuf> {
    let dir = Path::new("/db");
    storage.create_dir_all(dir)?;
    let path = dir.join(name);
    let file = storage.open(&path, OpenMode::CreateNew)?;
    file.write_all_at(bytes, 0)?;
    if synced {
        file.sync_data()?;
    }
    storage.sync_dir(dir)?;
    Ok(path)
}

#[test]
fn a_power_loss_keeps_synced_bytes_and_the_unsynced_sectors_chosen() -> TestResult {
    let storage = MemoryStorage::default();
    let path = memory_file(&storage, "a", &[1u8; 600], true)?;
    let file = storage.open(&path, OpenMode::ReadWrite)?;
    // Three sectors touched: [500..512), [512..1024), [1024..1100).
    file.write_all_at(&[2u8; 600], 500)?;
    assert_eq!(storage.crash_image(|| false).read(&path)?, vec![1u8; 600]);
    assert_eq!(storage.crash_image(|| true).read(&path)?, storage.read(&path)?);
    let mut choices = [true, false, true].into_iter();
    let torn = storage.crash_image(|| choices.next().unwrap_or(false)).read(&path)?;
    assert_eq!(torn.len(), 1100, "the last sector survived, so the file reaches it");
    assert_eq!(&torn[500..512], &[2u8; 12][..]);
    assert_eq!(&torn[512..600], &[1u8; 88][..], "the middle sector was lost: the old bytes stay");
    assert_eq!(&torn[600..1024], &[0u8; 424][..], "never written durably: a hole");
    assert_eq!(&torn[1024..], &[2u8; 76][..]);
    Ok(())
}

#[test]
fn a_power_loss_forgets_names_not_synced_into_their_directory() -> TestResult {
    let storage = MemoryStorage::default();
    let kept = memory_file(&storage, "kept", b"k", true)?;
    storage.open(Path::new("/db/new"), OpenMode::CreateNew)?.sync_data()?;
    storage.rename(&kept, Path::new("/db/renamed"))?;
    let after = storage.crash_image(|| true);
    assert_eq!(names(&after, Path::new("/db"))?, ["kept"]);
    storage.sync_dir(Path::new("/db"))?;
    assert_eq!(names(&storage.crash_image(|| true), Path::new("/db"))?, ["new", "renamed"]);
    Ok(())
}

#[test]
fn after_the_power_cut_every_mutation_fails_and_changes_nothing() -> TestResult {
    let storage = MemoryStorage::default();
    let path = memory_file(&storage, "a", b"abc", true)?;
    let done = storage.ops().len();
    storage.cut_power_after(done);
    let file = storage.open(&path, OpenMode::ReadWrite)?;
    assert!(file.write_all_at(b"x", 0).is_err());
    assert!(file.sync_data().is_err());
    assert!(storage.remove(&path).is_err());
    assert_eq!(storage.read(&path)?, b"abc");
    assert_eq!(storage.ops().len(), done);
    Ok(())
}
