//! Readers and writers of one store at the same time.
//!
//! Readers running beside a writer never see a torn item: the data always
//! parses, names the version it was returned as, and matches the metadata's
//! md5; the versions a reader sees of an id never go backwards. Writers
//! running beside each other with `SyncMode::Always` (sharing fdatasyncs
//! through group commit) get dense versions 1..n per id, each acknowledged
//! put present exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use recstore::{Data, Error, ItemData, ItemMeta, Metadata, Query, Store, StoreOptions, SyncMode};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const ID_COUNT: usize = 50;
const VERSION_COUNT: u32 = 6;
const READER_COUNT: usize = 4;
const ITEM_TYPE: &str = "concurrent";

/// xorshift64: cheap, deterministic choices per thread.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

fn id(index: usize) -> String {
    format!("item-{index:02}")
}

/// The data of version `version` of `id`: a function of both, so a reader
/// can tell whether what it got is whole and is the version it was told.
fn data(id: &str, version: u32) -> Value {
    json!({"id": id, "version": version, "payload": version.to_string().repeat(40 + version as usize)})
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn metadata(id: &str) -> Metadata {
    Metadata { id: Some(id.to_string()), item_type: Some(ITEM_TYPE.into()), ..Metadata::default() }
}

/// Checks one item version as returned by a read: whole, and the version it claims.
fn check_data(item: &ItemData, id: &str) -> Result<(), String> {
    let value: Value = serde_json::from_slice(&item.bytes).map_err(|e| format!("{id}: data does not parse: {e}"))?;
    if value != data(id, item.version) {
        return Err(format!("{id}: returned as version {} but holds {value}", item.version));
    }
    Ok(())
}

/// Checks metadata against the data its version must hold.
fn check_meta(meta: &ItemMeta, id: &str) -> Result<(), String> {
    let bytes = Data::Json(data(id, meta.version)).canonical_bytes();
    if meta.id != id || meta.md5 != md5_hex(&bytes) || meta.size != bytes.len() as u64 {
        return Err(format!("{id}: metadata of version {} does not match its data: {meta:?}", meta.version));
    }
    Ok(())
}

/// What one reader has seen so far: the highest version of each id.
struct ReaderState {
    seen: HashMap<String, u32>,
    reads: u64,
}

impl ReaderState {
    /// Notes that `id` was seen at `version`; versions never go backwards.
    fn saw(&mut self, id: &str, version: u32) -> Result<(), String> {
        let highest = self.seen.entry(id.to_string()).or_insert(0);
        if version < *highest {
            return Err(format!("{id}: saw version {version} after version {highest}"));
        }
        *highest = version;
        self.reads += 1;
        Ok(())
    }
}

/// One reader's step: a get, get_version, metadata or query of random ids.
fn read_once(store: &Store, state: &mut ReaderState, random: &mut XorShift) -> Result<(), String> {
    let id = id(random.below(ID_COUNT));
    let not_yet = |e: &Error| matches!(e, Error::NotFound { .. });
    match random.below(4) {
        0 => match store.get(&id) {
            Ok(item) => {
                check_data(&item, &id)?;
                state.saw(&id, item.version)?;
            }
            Err(e) if not_yet(&e) => {}
            Err(e) => return Err(format!("get {id}: {e}")),
        },
        1 => {
            let highest = state.seen.get(&id).copied().unwrap_or(0);
            if highest > 0 {
                let version = 1 + random.below(highest as usize) as u32;
                let item = store.get_version(&id, version).map_err(|e| format!("get {id} v{version}: {e}"))?;
                if item.version != version {
                    return Err(format!("{id}: asked for version {version}, got {}", item.version));
                }
                check_data(&item, &id)?;
            }
        }
        2 => match store.metadata(&id, None) {
            Ok(meta) => {
                check_meta(&meta, &id)?;
                state.saw(&id, meta.version)?;
            }
            Err(e) if not_yet(&e) => {}
            Err(e) => return Err(format!("metadata {id}: {e}")),
        },
        _ => {
            let query = Query { item_type: Some(ITEM_TYPE.into()), ..Query::default() };
            let hits = store.query_hits(&query).map_err(|e| format!("query_hits: {e}"))?;
            for hit in &hits {
                state.saw(&hit.id, hit.version)?;
            }
            for meta in store.query(&query).map_err(|e| format!("query: {e}"))? {
                check_meta(&meta, &meta.id)?;
                state.saw(&meta.id, meta.version)?;
            }
        }
    }
    Ok(())
}

#[test]
fn readers_beside_a_writer_never_see_torn_or_regressing_items() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Always).segment_size_bytes(64 * 1024);
    let store = Arc::new(Store::open(dir.path(), options)?);
    let writing = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..READER_COUNT)
        .map(|reader| {
            let (store, writing) = (store.clone(), writing.clone());
            std::thread::spawn(move || -> Result<u64, String> {
                let mut random =
                    XorShift(0x9E37_79B9_7F4A_7C15 ^ (reader as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
                let mut state = ReaderState { seen: HashMap::new(), reads: 0 };
                // One more pass after the writer stops, so every reader reads a finished store too.
                let mut last_pass = false;
                while !last_pass {
                    last_pass = !writing.load(Ordering::Acquire);
                    for _ in 0..20 {
                        read_once(&store, &mut state, &mut random)?;
                    }
                }
                Ok(state.reads)
            })
        })
        .collect();

    let written = (|| -> Result<(), Error> {
        for version in 1..=VERSION_COUNT {
            for index in 0..ID_COUNT {
                let id = id(index);
                let stored = store.put(Data::Json(data(&id, version)), metadata(&id))?;
                assert_eq!((stored.version, stored.created), (version, true), "{id}");
            }
        }
        Ok(())
    })();
    writing.store(false, Ordering::Release);
    let mut reads = 0;
    for reader in readers {
        reads += reader.join().map_err(|_| "a reader panicked")??;
    }
    written?;
    assert!(reads > 0, "the readers read something");

    for index in 0..ID_COUNT {
        let id = id(index);
        assert_eq!(store.get(&id)?.version, VERSION_COUNT);
        for version in 1..=VERSION_COUNT {
            let item = store.get_version(&id, version)?;
            assert_eq!(item.json()?, data(&id, version), "{id} v{version}");
            check_meta(&store.metadata(&id, Some(version))?, &id)?;
        }
    }
    Ok(())
}

#[test]
fn concurrent_writers_get_dense_versions_and_lose_no_acknowledged_put() -> TestResult {
    const WRITER_COUNT: usize = 4;
    const PUTS_PER_WRITER: usize = 40;
    const SHARED_IDS: usize = 6;
    let dir = tempfile::tempdir()?;
    let options = StoreOptions::default().sync(SyncMode::Always).segment_size_bytes(16 * 1024);
    let store = Arc::new(Store::open(dir.path(), options)?);
    // Every acknowledged put: (id, version) -> the data it stored.
    let acknowledged: Arc<Mutex<Vec<(String, u32, Value)>>> = Arc::default();
    let writers: Vec<_> = (0..WRITER_COUNT)
        .map(|writer| {
            let (store, acknowledged) = (store.clone(), acknowledged.clone());
            std::thread::spawn(move || -> Result<(), Error> {
                let mut random = XorShift(0x2545_F491_4F6C_DD1D ^ (writer as u64 + 1).wrapping_mul(0x9E37_79B9));
                for put in 0..PUTS_PER_WRITER {
                    let id = format!("shared-{}", random.below(SHARED_IDS));
                    // Unique content, so every put creates a version.
                    let value = json!({"writer": writer, "put": put});
                    let stored = store.put(Data::Json(value.clone()), metadata(&id))?;
                    assert!(stored.created, "{id}: a put of new content creates a version");
                    acknowledged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((
                        id,
                        stored.version,
                        value,
                    ));
                }
                Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.join().map_err(|_| "a writer panicked")??;
    }

    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    assert_eq!(acknowledged.len(), WRITER_COUNT * PUTS_PER_WRITER);
    let mut by_id: HashMap<&str, Vec<(u32, &Value)>> = HashMap::new();
    for (id, version, value) in &acknowledged {
        by_id.entry(id).or_default().push((*version, value));
    }
    let check = |store: &Store| -> TestResult {
        for (id, puts) in &by_id {
            let versions: HashSet<u32> = puts.iter().map(|(v, _)| *v).collect();
            assert_eq!(versions.len(), puts.len(), "{id}: no version was handed out twice");
            assert_eq!(versions, (1..=puts.len() as u32).collect(), "{id}: versions are dense from 1");
            assert_eq!(store.get(id)?.version, puts.len() as u32, "{id}: the latest is the last acknowledged");
            for (version, value) in puts {
                assert_eq!(&store.get_version(id, *version)?.json()?, *value, "{id} v{version}");
            }
            assert_eq!(store.history(id)?.len(), puts.len(), "{id}: one history entry per acknowledged put");
        }
        Ok(())
    };
    check(&store)?;
    drop(store);
    check(&Store::open(dir.path(), StoreOptions::default())?)?;
    Ok(())
}
