//! The search view: answers equal a brute-force filter of what was written,
//! at the latest point and as of earlier ones; an index that is missing,
//! damaged or older than the log gives the same answers after reopening; an
//! up-to-date index is reused as it is.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use recstore::search::{OpenOutcome, SEARCH_DIR_NAME};
use recstore::{Data, Error, Metadata, Store, StoreOptions, SyncMode};
use serde_json::json;

use common::TestResult;

const TYPES: usize = 4;
const SOURCES: usize = 6;
const TAGS: usize = 7;
const WORDS: usize = 30;
const SITES: [&str; 3] = ["lab_a", "lab_b", "field"];

fn options() -> StoreOptions {
    StoreOptions::default().sync(SyncMode::Never)
}

/// A deterministic pseudo-random sequence (no seed crate needed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// One item version as the model knows it.
#[derive(Debug, Clone)]
struct Version {
    id: String,
    version: u32,
    from_offset: u64,
    to_offset: u64,
    metadata: Metadata,
    words: Vec<String>,
}

#[derive(Default)]
struct Model {
    versions: Vec<Version>,
    current: HashMap<String, usize>,
}

impl Model {
    fn put(&mut self, store: &Store, id: &str, rng: &mut Lcg) -> Result<(), Error> {
        let mut tags: Vec<String> = (0..1 + rng.below(3)).map(|_| format!("tag{}", rng.below(TAGS))).collect();
        tags.sort();
        tags.dedup();
        let words: Vec<String> = (0..3).map(|_| format!("w{}", rng.below(WORDS))).collect();
        let mut extra = serde_json::Map::new();
        extra.insert("site".into(), json!(SITES[rng.below(SITES.len())]));
        let metadata = Metadata {
            id: Some(id.to_string()),
            item_type: Some(format!("type{}", rng.below(TYPES))),
            source_id: Some(format!("source{}", rng.below(SOURCES))),
            tags,
            extra,
            ..Metadata::default()
        };
        let data = json!({
            "reading": {"note": format!("{} {}", words[0], words[1]), "value": rng.below(1000)},
            "labels": [words[2]],
        });
        let stored = store.put(Data::Json(data), metadata.clone())?;
        assert!(stored.created, "every put in this test changes the item");
        self.end(id, stored.offset);
        let mut metadata = metadata;
        metadata.id = None;
        self.current.insert(id.to_string(), self.versions.len());
        self.versions.push(Version {
            id: id.to_string(),
            version: stored.version,
            from_offset: stored.offset,
            to_offset: u64::MAX,
            metadata,
            words,
        });
        Ok(())
    }

    fn delete(&mut self, store: &Store, id: &str) -> Result<(), Error> {
        let offset = store.delete(id)?;
        self.end(id, offset);
        Ok(())
    }

    fn end(&mut self, id: &str, offset: u64) {
        if let Some(index) = self.current.remove(id) {
            self.versions[index].to_offset = offset;
        }
    }

    fn expected(&self, bound: u64, matches: impl Fn(&Version) -> bool) -> BTreeSet<(String, u32)> {
        self.versions
            .iter()
            .filter(|v| v.from_offset < bound && bound <= v.to_offset && matches(v))
            .map(|v| (v.id.clone(), v.version))
            .collect()
    }
}

/// Writes items, updates some and deletes some: ids `item_0..`.
fn populate(store: &Store, model: &mut Model, rng: &mut Lcg, item_count: usize) -> Result<(), Error> {
    let first = model.versions.len();
    for n in first..first + item_count {
        model.put(store, &format!("item_{n}"), rng)?;
        if n % 7 == 3 {
            model.put(store, &format!("item_{}", rng.below(n + 1)), rng)?;
        }
        if n % 11 == 5 {
            let id = format!("item_{}", rng.below(n + 1));
            if model.current.contains_key(&id) {
                model.delete(store, &id)?;
            }
        }
    }
    Ok(())
}

/// Whether a version should match a query, by brute force.
type Predicate = Box<dyn Fn(&Version) -> bool>;

/// Queries with their brute-force predicates.
fn queries() -> Vec<(String, Predicate)> {
    let mut out: Vec<(String, Predicate)> = Vec::new();
    for t in 0..TYPES {
        let name = format!("type{t}");
        out.push((format!("type:{name}"), Box::new(move |v| v.metadata.item_type.as_deref() == Some(&name))));
    }
    for g in 0..TAGS {
        let name = format!("tag{g}");
        out.push((format!("tags:{name}"), Box::new(move |v| v.metadata.tags.contains(&name))));
    }
    for s in 0..SOURCES {
        let name = format!("source{s}");
        out.push((format!("source_id:{name}"), Box::new(move |v| v.metadata.source_id.as_deref() == Some(&name))));
    }
    for w in [0, 7, 19, 29] {
        let word = format!("w{w}");
        out.push((word.clone(), Box::new(move |v| v.words.contains(&word))));
    }
    for site in SITES {
        out.push((format!("meta.site:{site}"), Box::new(move |v| v.metadata.extra.get("site") == Some(&json!(site)))));
    }
    out.push((
        "type:type1 AND tags:tag2".into(),
        Box::new(|v| v.metadata.item_type.as_deref() == Some("type1") && v.metadata.tags.iter().any(|t| t == "tag2")),
    ));
    out.push(("*".into(), Box::new(|_| true)));
    out
}

fn hits(store: &Store, query: &str, bound: Option<u64>) -> Result<BTreeSet<(String, u32)>, Error> {
    Ok(store.search_hits(query, 1_000_000, bound)?.into_iter().map(|h| (h.id, h.version)).collect())
}

/// Every query's answer at each bound, for comparing two indexes.
fn answers(store: &Store, bounds: &[u64]) -> Result<Vec<BTreeSet<(String, u32)>>, Error> {
    let mut out = Vec::new();
    for bound in bounds {
        for (query, _) in queries() {
            out.push(hits(store, &query, Some(*bound))?);
        }
    }
    Ok(out)
}

fn bounds_of(next_offset: u64) -> Vec<u64> {
    vec![0, next_offset / 3, next_offset / 2 + 1, next_offset]
}

#[test]
fn queries_equal_a_brute_force_filter_now_and_as_of_earlier_points() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    let mut model = Model::default();
    let mut rng = Lcg(7);
    populate(&store, &mut model, &mut rng, 300)?;
    let next_offset = store.log().next_offset();
    for (query, matches) in queries() {
        assert_eq!(hits(&store, &query, None)?, model.expected(next_offset, &matches), "query {query:?} now");
        for bound in bounds_of(next_offset) {
            assert_eq!(hits(&store, &query, Some(bound))?, model.expected(bound, &matches), "{query:?} as of {bound}");
        }
    }
    let metas = store.search("tags:tag3", 5, None)?;
    assert!(metas.len() <= 5);
    assert!(metas.iter().all(|m| m.metadata.tags.iter().any(|t| t == "tag3")));
    Ok(())
}

#[test]
fn as_of_bounds_see_the_version_current_at_that_point() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    let put = |tag: &str| {
        let metadata = Metadata { id: Some("probe".into()), tags: vec![tag.into()], ..Metadata::default() };
        store.put(Data::Json(json!({"tag": tag})), metadata)
    };
    let v1 = put("first")?;
    let v2 = put("second")?;
    let deleted_at = store.delete("probe")?;
    let v3 = put("third")?;
    let at = |bound: u64| -> Result<Vec<u32>, Error> {
        Ok(store.search_hits("id:probe", 10, Some(bound))?.into_iter().map(|h| h.version).collect())
    };
    assert_eq!(at(v1.offset)?, Vec::<u32>::new(), "before the first put");
    assert_eq!(at(v1.offset + 1)?, vec![1]);
    assert_eq!(at(v2.offset)?, vec![1], "v2's put is not visible below its own offset");
    assert_eq!(at(v2.offset + 1)?, vec![2]);
    assert_eq!(at(deleted_at)?, vec![2]);
    assert_eq!(at(deleted_at + 1)?, Vec::<u32>::new(), "deleted");
    assert_eq!(at(v3.offset + 1)?, vec![3]);
    assert_eq!(store.search_hits("id:probe", 10, None)?.len(), 1);
    assert_eq!(store.search_hits("tags:first", 10, None)?.len(), 0, "v1 is superseded now");
    assert_eq!(store.search_hits("tags:first", 10, Some(v1.offset + 1))?.len(), 1);
    assert_eq!(store.search_hits("second", 10, Some(deleted_at))?.len(), 1, "data text of v2 as of then");
    Ok(())
}

#[test]
fn a_search_sees_the_callers_own_writes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    for n in 0..40 {
        let metadata = Metadata { id: Some(format!("own_{n}")), ..Metadata::default() };
        store.put(Data::Json(json!({"n": n, "word": format!("marker{n}")})), metadata)?;
        let found = store.search(&format!("marker{n}"), 10, None)?;
        assert_eq!(found.len(), 1, "write {n} is searchable at once");
        assert_eq!(found[0].id, format!("own_{n}"));
    }
    Ok(())
}

#[test]
fn ranges_on_time_and_ordering_by_score_then_offset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    let mut model = Model::default();
    populate(&store, &mut model, &mut Lcg(3), 50)?;
    let live = hits(&store, "*", None)?;
    assert_eq!(hits(&store, "timestamp:[2000-01-01T00:00:00Z TO *]", None)?, live);
    assert!(hits(&store, "timestamp:[2999-01-01T00:00:00Z TO *]", None)?.is_empty());
    let all = store.search_hits("*", 1000, None)?;
    assert!(all.windows(2).all(|w| w[0].score > w[1].score || (w[0].score == w[1].score && w[0].offset < w[1].offset)));
    let first_three = store.search_hits("*", 3, None)?;
    assert_eq!(first_three, all[..3].to_vec(), "a smaller limit is a prefix");
    Ok(())
}

#[test]
fn a_query_that_does_not_parse_is_invalid_input() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options())?;
    for bad in ["type:(", "tags:[a TO", "nosuchfield:x", "version:notanumber"] {
        let error = store.search(bad, 10, None).expect_err("a bad query must fail");
        assert!(matches!(error, Error::InvalidInput { .. }), "{bad:?} gave {error}");
    }
    assert!(store.search("anything", 0, None)?.is_empty(), "limit 0 is an empty answer");
    Ok(())
}

/// Writes a store, records its answers, lets `damage` act on the closed
/// store's directory, reopens and compares.
fn reopen_after(damage: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<OpenOutcome, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (before, next_offset) = {
        let store = Store::open(dir.path(), options())?;
        populate(&store, &mut Model::default(), &mut Lcg(11), 200)?;
        let next_offset = store.log().next_offset();
        (answers(&store, &bounds_of(next_offset))?, next_offset)
    };
    damage(&dir.path().join(SEARCH_DIR_NAME))?;
    let store = Store::open(dir.path(), options())?;
    assert_eq!(answers(&store, &bounds_of(next_offset))?, before, "answers after reopening");
    Ok(store.search_index()?.open_outcome().clone())
}

/// The largest file of the index: a segment's postings or store.
fn largest_file(search_dir: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(search_dir)? {
        let entry = entry?;
        files.push((entry.metadata()?.len(), entry.path()));
    }
    files.sort();
    files.pop().map(|(_, path)| path).ok_or_else(|| std::io::Error::other("empty index"))
}

#[test]
fn a_deleted_index_is_rebuilt_with_the_same_answers() -> TestResult {
    let outcome = reopen_after(|search_dir| std::fs::remove_dir_all(search_dir))?;
    assert_eq!(outcome, OpenOutcome::Created);
    Ok(())
}

#[test]
fn a_truncated_index_file_leads_to_a_rebuild_with_the_same_answers() -> TestResult {
    let outcome = reopen_after(|search_dir| {
        let path = largest_file(search_dir)?;
        let len = std::fs::metadata(&path)?.len();
        std::fs::OpenOptions::new().write(true).open(&path)?.set_len(len / 2)
    })?;
    assert!(matches!(outcome, OpenOutcome::Rebuilt { .. }), "{outcome:?}");
    Ok(())
}

#[test]
fn a_garbled_index_file_leads_to_a_rebuild_with_the_same_answers() -> TestResult {
    let outcome = reopen_after(|search_dir| {
        let path = largest_file(search_dir)?;
        let mut bytes = std::fs::read(&path)?;
        let middle = bytes.len() / 2;
        for byte in &mut bytes[middle..middle + 16] {
            *byte ^= 0x5a;
        }
        std::fs::write(&path, bytes)
    })?;
    assert!(matches!(outcome, OpenOutcome::Rebuilt { .. }), "{outcome:?}");
    Ok(())
}

#[test]
fn a_garbled_meta_json_leads_to_a_rebuild_with_the_same_answers() -> TestResult {
    let outcome = reopen_after(|search_dir| std::fs::write(search_dir.join("meta.json"), b"{\"not\": \"meta"))?;
    assert!(matches!(outcome, OpenOutcome::Rebuilt { .. }), "{outcome:?}");
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

#[test]
fn an_older_copy_of_the_index_catches_up_to_the_same_answers() -> TestResult {
    let dir = tempfile::tempdir()?;
    let saved = tempfile::tempdir()?;
    let mut model = Model::default();
    let mut rng = Lcg(5);
    let early_next = {
        let store = Store::open(dir.path(), options())?;
        populate(&store, &mut model, &mut rng, 80)?;
        store.log().next_offset()
    };
    copy_dir(&dir.path().join(SEARCH_DIR_NAME), saved.path())?;
    let (before, next_offset) = {
        let store = Store::open(dir.path(), options())?;
        populate(&store, &mut model, &mut rng, 120)?;
        let next_offset = store.log().next_offset();
        (answers(&store, &bounds_of(next_offset))?, next_offset)
    };
    std::fs::remove_dir_all(dir.path().join(SEARCH_DIR_NAME))?;
    copy_dir(saved.path(), &dir.path().join(SEARCH_DIR_NAME))?;
    let store = Store::open(dir.path(), options())?;
    assert_eq!(store.search_index()?.open_outcome(), &OpenOutcome::CaughtUp { from_offset: early_next });
    assert_eq!(answers(&store, &bounds_of(next_offset))?, before);
    assert_eq!(store.search_index()?.indexed_records_since_open(), next_offset - early_next, "only the tail");
    for (query, matches) in queries() {
        assert_eq!(hits(&store, &query, None)?, model.expected(next_offset, &matches), "{query:?}");
    }
    Ok(())
}

#[test]
fn an_index_of_another_log_is_rebuilt() -> TestResult {
    let longer = tempfile::tempdir()?;
    let shorter = tempfile::tempdir()?;
    {
        let store = Store::open(longer.path(), options())?;
        populate(&store, &mut Model::default(), &mut Lcg(1), 60)?;
    }
    let mut model = Model::default();
    {
        let store = Store::open(shorter.path(), options())?;
        populate(&store, &mut model, &mut Lcg(2), 20)?;
    }
    // Swap the two indexes: the shorter log gets one that is ahead of it,
    // the longer one gets one that stops inside it, at a record whose
    // timestamp is another log's.
    let saved = tempfile::tempdir()?;
    copy_dir(&longer.path().join(SEARCH_DIR_NAME), saved.path())?;
    std::fs::remove_dir_all(longer.path().join(SEARCH_DIR_NAME))?;
    copy_dir(&shorter.path().join(SEARCH_DIR_NAME), &longer.path().join(SEARCH_DIR_NAME))?;
    std::fs::remove_dir_all(shorter.path().join(SEARCH_DIR_NAME))?;
    copy_dir(saved.path(), &shorter.path().join(SEARCH_DIR_NAME))?;
    let store = Store::open(shorter.path(), options())?;
    let outcome = store.search_index()?.open_outcome().clone();
    assert!(matches!(&outcome, OpenOutcome::Rebuilt { reason } if reason.contains("another")), "{outcome:?}");
    let next_offset = store.log().next_offset();
    for (query, matches) in queries() {
        assert_eq!(hits(&store, &query, None)?, model.expected(next_offset, &matches), "{query:?}");
    }
    drop(store);
    let store = Store::open(longer.path(), options())?;
    let outcome = store.search_index()?.open_outcome().clone();
    assert!(matches!(&outcome, OpenOutcome::Rebuilt { reason } if reason.contains("another log")), "{outcome:?}");
    Ok(())
}

#[test]
fn reopening_with_an_up_to_date_index_does_not_rebuild() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (before, next_offset) = {
        let store = Store::open(dir.path(), options())?;
        populate(&store, &mut Model::default(), &mut Lcg(9), 100)?;
        let next_offset = store.log().next_offset();
        (answers(&store, &[next_offset])?, next_offset)
    };
    let store = Store::open(dir.path(), options())?;
    let index = store.search_index()?;
    assert_eq!(index.open_outcome(), &OpenOutcome::CaughtUp { from_offset: next_offset });
    assert_eq!(answers(&store, &[next_offset])?, before);
    assert_eq!(store.search_index()?.indexed_records_since_open(), 0);
    Ok(())
}

#[test]
fn a_read_only_store_uses_the_index_on_disk_or_builds_one_in_memory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (before, next_offset) = {
        let store = Store::open(dir.path(), options())?;
        populate(&store, &mut Model::default(), &mut Lcg(4), 60)?;
        let next_offset = store.log().next_offset();
        (answers(&store, &bounds_of(next_offset))?, next_offset)
    };
    {
        let store = Store::open(dir.path(), options().read_only(true))?;
        assert_eq!(store.search_index()?.open_outcome(), &OpenOutcome::ReadOnly { next_offset });
        assert_eq!(answers(&store, &bounds_of(next_offset))?, before);
    }
    std::fs::remove_dir_all(dir.path().join(SEARCH_DIR_NAME))?;
    let store = Store::open(dir.path(), options().read_only(true))?;
    assert!(matches!(store.search_index()?.open_outcome(), OpenOutcome::InMemory { .. }));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(store.search_index()?.indexed_records_since_open(), 0, "built only when a search needs it");
    assert_eq!(answers(&store, &bounds_of(next_offset))?, before);
    assert_eq!(store.search_index()?.indexed_records_since_open(), next_offset);
    assert!(!dir.path().join(SEARCH_DIR_NAME).exists(), "a read-only store writes nothing");
    Ok(())
}

#[test]
fn a_read_only_store_beside_a_writer_answers_for_what_its_reads_see() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut model = Model::default();
    let mut rng = Lcg(8);
    // The reader uses the writer's index on disk, which the writer keeps moving.
    let writer = Store::open(dir.path(), options())?;
    populate(&writer, &mut model, &mut rng, 30)?;
    writer.search_wait_for(writer.log().next_offset())?;
    let reader = Store::open(dir.path(), options().read_only(true))?;
    let reader_next = reader.log().next_offset();
    populate(&writer, &mut model, &mut rng, 10)?;
    check_answers_as_of(&reader, &model, reader_next)?;
    drop((reader, writer));
    // Without an index on disk, the reader builds one in memory, which
    // follows the writer's appends through the log's watch.
    std::fs::remove_dir_all(dir.path().join(SEARCH_DIR_NAME))?;
    let reader = Store::open(dir.path(), options().read_only(true))?;
    let reader_next = reader.log().next_offset();
    assert!(matches!(reader.search_index()?.open_outcome(), OpenOutcome::InMemory { .. }));
    let writer = Store::open(dir.path(), options())?;
    populate(&writer, &mut model, &mut rng, 10)?;
    check_answers_as_of(&reader, &model, reader_next)?;
    Ok(())
}

/// A read-only store's searches answer for the point its other reads see:
/// where the log was when it opened.
fn check_answers_as_of(reader: &Store, model: &Model, reader_next: u64) -> TestResult {
    for (query, matches) in queries() {
        let found = hits(reader, &query, None)?;
        assert_eq!(found, model.expected(reader_next, &matches), "{query:?}");
        assert_eq!(reader.search(&query, 1_000, None)?.len(), found.len(), "every hit has metadata");
    }
    Ok(())
}

#[test]
fn compaction_leaves_searches_after_the_horizon_equal_and_refuses_those_before() -> TestResult {
    let dir = tempfile::tempdir()?;
    let saved = tempfile::tempdir()?;
    let mut model = Model::default();
    let mut rng = Lcg(12);
    let ids: Vec<String> = (0..20).map(|n| format!("item_{n}")).collect();
    {
        let store = Store::open(dir.path(), options())?;
        for id in &ids {
            model.put(&store, id, &mut rng)?;
        }
        // The index's last covered record must survive compaction, or the
        // catch-up below would be a rebuild.
        model.put(&store, "anchor", &mut rng)?;
    }
    copy_dir(&dir.path().join(SEARCH_DIR_NAME), saved.path())?;
    let (before, horizon) = {
        let store = Store::open(dir.path(), options())?;
        for id in &ids {
            model.put(&store, id, &mut rng)?;
        }
        store.compact(recstore::compaction::Policy::keep_everything().max_versions(Some(1)))?;
        let (horizon, _) = store.compaction_horizon().ok_or("compaction pruned the first versions")?;
        let error = store.search("*", 10, Some(horizon - 1)).expect_err("before the horizon");
        assert!(matches!(error, Error::BeforeHorizon { .. }), "{error}");
        model.put(&store, "item_3", &mut rng)?;
        let next_offset = store.log().next_offset();
        for (query, matches) in queries() {
            assert_eq!(hits(&store, &query, None)?, model.expected(next_offset, &matches), "{query:?}");
        }
        (answers(&store, &[horizon, next_offset])?, horizon)
    };
    let next_offset = model.versions.iter().map(|v| v.from_offset + 1).max().unwrap_or(0);
    // An older index catches up across the compaction: it meets pruned puts
    // (now audit stubs) when their versions end.
    std::fs::remove_dir_all(dir.path().join(SEARCH_DIR_NAME))?;
    copy_dir(saved.path(), &dir.path().join(SEARCH_DIR_NAME))?;
    let caught_up_doc_count = {
        let store = Store::open(dir.path(), options())?;
        assert!(matches!(store.search_index()?.open_outcome(), OpenOutcome::CaughtUp { .. }));
        assert_eq!(answers(&store, &[horizon, next_offset])?, before);
        store.search_index()?.doc_count()
    };
    // A rebuild after compaction never sees the pruned versions; the caught
    // up index dropped them too, so the two hold the same documents.
    std::fs::remove_dir_all(dir.path().join(SEARCH_DIR_NAME))?;
    let store = Store::open(dir.path(), options())?;
    assert_eq!(answers(&store, &[horizon, next_offset])?, before);
    assert_eq!(store.search_index()?.doc_count(), caught_up_doc_count);
    assert_eq!(caught_up_doc_count, (ids.len() + 2) as u64, "latest versions, the anchor and item_3's third");
    Ok(())
}
