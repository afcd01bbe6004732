//! A store opened by replaying the log writes a checkpoint as it closes,
//! so the next open loads it instead of replaying the same records again;
//! a store opened from a checkpoint that covers the whole log writes none.

use recstore::store::VIEWS_DIR_NAME;
use recstore::store::views::checkpoint;
use recstore::{Data, Metadata, Query, Store, StoreOptions};
use serde_json::json;

fn typed(item_type: &str) -> Metadata {
    Metadata { item_type: Some(item_type.into()), ..Metadata::default() }
}

#[test]
fn a_replayed_open_leaves_a_checkpoint_covering_the_log() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let checkpoint_path = checkpoint::path(&dir.path().join(VIEWS_DIR_NAME));
    let store = Store::open(dir.path(), StoreOptions::default())?;
    for n in 0..50 {
        store.put(Data::Json(json!({ "n": n })), typed(if n % 2 == 0 { "even" } else { "odd" }))?;
    }
    let next_offset = store.stats().next_offset;
    store.close()?;

    std::fs::remove_file(&checkpoint_path)?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    assert_eq!(store.count(&Query { item_type: Some("even".into()), ..Query::default() })?, 25);
    assert!(!checkpoint_path.exists(), "the open itself writes nothing");
    store.close()?;
    let state = checkpoint::load(&recstore::storage::Disk, &dir.path().join(VIEWS_DIR_NAME))?;
    assert_eq!(state.next_offset, next_offset, "the checkpoint covers every replayed record");

    let written = std::fs::metadata(&checkpoint_path)?.modified()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    assert_eq!(store.count(&Query { item_type: Some("odd".into()), ..Query::default() })?, 25);
    store.close()?;
    assert_eq!(std::fs::metadata(&checkpoint_path)?.modified()?, written, "nothing new to save, nothing written");
    Ok(())
}
