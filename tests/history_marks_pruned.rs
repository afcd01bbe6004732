//! `history` marks each version whose data compaction dropped, with the
//! reason and the compaction horizon (issue 18). Before, history listed a
//! pruned version like any other, so a reader found out which versions could
//! still be read only by trying each and getting `pruned` errors.

mod cli_support;
mod server_support;

use cli_support::Env;
use recstore::compaction::Policy;
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::{Value, json};
use server_support::{Server, TestResult, json_of, runtime};

/// Four versions of `x`, then a compaction keeping two: v1 and v2 pruned.
fn compacted_store(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(dir, StoreOptions::default())?;
    let meta = Metadata { id: Some("x".into()), ..Metadata::default() };
    for n in 0..4 {
        store.put(Data::Json(json!({ "n": n })), meta.clone())?;
    }
    store.delete("x")?;
    store.compact(Policy::keep_everything().max_versions(Some(2)))?;
    Ok(())
}

/// The `pruned` field of every history entry, as (version, reason, horizon).
fn marks(entries: &[Value]) -> Vec<(u64, Value)> {
    entries.iter().map(|e| (e["version"].as_u64().unwrap_or(u64::MAX), e["pruned"].clone())).collect()
}

fn expected(horizon_offset: u64) -> Vec<(u64, Value)> {
    let pruned = json!({ "reason": "max_versions", "horizon_offset": horizon_offset });
    vec![(1, pruned.clone()), (2, pruned), (3, Value::Null), (4, Value::Null), (4, Value::Null)]
}

#[test]
fn library_cli_and_http_history_mark_the_pruned_versions() -> TestResult {
    let env = Env::new();
    compacted_store(&env.data())?;
    let horizon_offset = {
        let store = Store::open(env.data(), StoreOptions::default().read_only(true))?;
        let (horizon_offset, _) = store.compaction_horizon().ok_or("the compaction set a horizon")?;
        let library: Vec<Value> = store.history("x")?.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
        assert_eq!(marks(&library), expected(horizon_offset), "library: {library:?}");
        assert!(store.get_version("x", 3).is_ok(), "an unmarked version reads");
        horizon_offset
    };

    let cli = env.run(&["history", "x"]).ok().lines();
    assert_eq!(marks(&cli), expected(horizon_offset), "CLI: {cli:?}");

    let server = Server::start(&env.data(), &[])?;
    let (status, http) =
        runtime().block_on(async { json_of(reqwest::get(server.url("/v1/items/x/history")).await?).await })?;
    assert_eq!(status, 200, "{http}");
    let http = http.as_array().ok_or("history is a JSON array")?;
    assert_eq!(marks(http), expected(horizon_offset), "HTTP: {http:?}");
    Ok(())
}
