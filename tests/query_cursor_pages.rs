//! `Store::query_cursor` hands out a query's results a page at a time, so
//! that a surface can stream a million of them while holding one page.
//! Read page by page, whatever the page size, it gives exactly what
//! `query`, `query_hits` and `item_json` give at once, now and as of an
//! earlier offset; it answers as of the moment it was made, not seeing
//! later writes; and a purge that renumbers the items under it is a typed
//! error, never a wrong item.

mod common;

use recstore::compaction::Policy;
use recstore::timetravel::AsOf;
use recstore::{Data, ErrorKind, Metadata, Query, Store, StoreOptions};

use common::TestResult;

fn meta(id: &str, item_type: &str) -> Metadata {
    Metadata { id: Some(id.into()), item_type: Some(item_type.into()), ..Default::default() }
}

/// 30 items of type `even` or `odd`; some updated, some deleted.
fn filled_store(dir: &std::path::Path) -> Result<(Store, u64), Box<dyn std::error::Error>> {
    let store = Store::open(dir, StoreOptions::default())?;
    let mut middle_offset = 0;
    for n in 0..30 {
        let parity = if n % 2 == 0 { "even" } else { "odd" };
        let put = store.put(Data::Json(serde_json::json!({"n": n})), meta(&format!("i{n}"), parity))?;
        if n == 15 {
            middle_offset = put.offset;
        }
    }
    for n in (0..30).step_by(3) {
        store.put(Data::Json(serde_json::json!({"n": n, "again": true})), meta(&format!("i{n}"), "even"))?;
    }
    for n in (0..30).step_by(7) {
        store.delete(&format!("i{n}"))?;
    }
    Ok((store, middle_offset))
}

fn queries() -> Vec<Query> {
    let typed = |t: &str| Query { item_type: Some(t.into()), ..Default::default() };
    vec![
        Query::default(),
        typed("even"),
        typed("odd"),
        Query { limit: Some(7), offset: 3, ..typed("even") },
        Query { offset: 100, ..Default::default() },
    ]
}

#[test]
fn pages_of_any_size_give_what_a_whole_query_gives() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, middle_offset) = filled_store(dir.path())?;
    for as_of in [None, Some(AsOf::Offset(middle_offset))] {
        let at = store.at_or_latest(as_of)?;
        for query in queries() {
            let metas = at.query(&query)?;
            let hits = at.query_hits(&query)?;
            let items: Vec<_> =
                hits.iter().map(|hit| at.item_json(&hit.id, Some(hit.version), true)).collect::<Result<_, _>>()?;
            for page_size in [1, 2, 5, 64] {
                let (mut paged_metas, mut paged_hits, mut paged_items) = (Vec::new(), Vec::new(), Vec::new());
                let (mut by_meta, mut by_hit, mut by_item) =
                    (at.query_cursor(&query)?, at.query_cursor(&query)?, at.query_cursor(&query)?);
                assert_eq!(by_meta.remaining_count(), metas.len(), "{query:?}");
                loop {
                    let page = by_meta.next_metas(&store, page_size)?;
                    assert!(page.len() <= page_size, "a page holds at most {page_size}");
                    if page.is_empty() {
                        break;
                    }
                    paged_metas.extend(page);
                    paged_hits.extend(by_hit.next_hits(&store, page_size)?);
                    paged_items.extend(by_item.next_items(&store, page_size, true)?);
                }
                assert_eq!(paged_metas, metas, "{query:?} as of {as_of:?} in pages of {page_size}");
                assert_eq!(paged_hits, hits, "{query:?} as of {as_of:?} in pages of {page_size}");
                assert_eq!(paged_items, items, "{query:?} as of {as_of:?} in pages of {page_size}");
            }
        }
    }
    Ok(())
}

#[test]
fn a_cursor_answers_as_of_its_making() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, _) = filled_store(dir.path())?;
    let query = Query { item_type: Some("odd".into()), ..Default::default() };
    let before = store.query_hits(&query)?;
    let mut cursor = store.query_cursor(&query)?;
    let first = cursor.next_hits(&store, 2)?;
    // Written while the cursor is open: a new version, a delete, a new item.
    store.put(Data::Json(serde_json::json!("newer")), meta(&before[3].id, "odd"))?;
    store.delete(&before[4].id)?;
    store.put(Data::Json(serde_json::json!("new")), meta("late", "odd"))?;
    let mut seen = first;
    loop {
        let page = cursor.next_hits(&store, 2)?;
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    assert_eq!(seen, before, "the results of the moment the cursor was made");
    Ok(())
}

#[test]
fn a_purge_that_renumbers_the_items_under_a_cursor_is_a_typed_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, _) = filled_store(dir.path())?;
    let mut cursor = store.query_cursor(&Query::default())?;
    let first = cursor.next_hits(&store, 3)?;
    assert_eq!(first.len(), 3);
    // Deleted items end before the cutoff: a purge forgets them, and the
    // items after them take new numbers.
    let tomorrow_us = u64::try_from(chrono::Utc::now().timestamp_micros())? + 86_400_000_000;
    store.compact(Policy::keep_everything().cutoff_us(Some(tomorrow_us)).purge(true))?;
    let error = cursor.next_hits(&store, 3).err().ok_or("a page after the purge must fail")?;
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(error.to_string().contains("after 3 of them"), "{error}");
    Ok(())
}
