//! Deleting a consumer group (issue 26): `Store::delete_consumer`,
//! `recstore groups --delete G` and `DELETE /v1/consumers/{group}` append a
//! `consumer_delete` record (kind 7, segments-format.md); the group is then
//! no longer listed and reads from offset 0 like a new one, after a replay
//! and after a checkpoint alike. An unknown group is `not_found` on every
//! surface and writes nothing.

mod cli_support;
mod server_support;

use cli_support::Env;
use recstore::{Data, ErrorKind, Metadata, Store, StoreOptions};
use serde_json::{Value, json};
use server_support::{Server, TestResult, runtime};

fn groups(store: &Store) -> Vec<String> {
    store.consumer_groups().into_iter().map(|g| g.group).collect()
}

#[test]
fn a_deleted_group_is_gone_after_a_replay_and_after_a_checkpoint() -> TestResult {
    let env = Env::new();
    let store = Store::open(env.data(), StoreOptions::default())?;
    store.put(Data::Json(json!(1)), Metadata::default())?;
    store.commit_consumer("kept", 1)?;
    store.commit_consumer("dropped", 1)?;
    let record_offset = store.delete_consumer("dropped")?;
    assert_eq!(record_offset, 3, "the deletion is the fourth record");
    assert_eq!(groups(&store), ["kept"]);
    assert_eq!(store.consumer_offset("dropped"), None);
    let again = store.delete_consumer("dropped").expect_err("deleted already");
    assert_eq!(again.kind(), ErrorKind::NotFound, "{again}");
    let never = store.delete_consumer("never").expect_err("never committed");
    assert_eq!(never.kind(), ErrorKind::NotFound, "{never}");
    assert_eq!(store.log().next_offset(), 4, "a refused deletion writes nothing");
    let event = serde_json::to_value(&store.events(3, 1)?[0])?;
    assert_eq!((event["kind"].clone(), event["group"].clone()), (json!("consumer_delete"), json!("dropped")));
    store.commit_consumer("dropped", 2)?;
    assert_eq!(store.consumer_offset("dropped"), Some(2), "committing again brings a group back");
    store.delete_consumer("dropped")?;
    store.close()?;
    // Read-only opens: the checkpoint the close wrote carries the deletion,
    // and without it the log alone says so on replay.
    let read_only = || Store::open(env.data(), StoreOptions::default().read_only(true));
    assert_eq!(groups(&read_only()?), ["kept"], "after a checkpoint");
    std::fs::remove_file(env.data().join("views/checkpoint.bin"))?;
    assert_eq!(groups(&read_only()?), ["kept"], "after a replay");
    Ok(())
}

#[test]
fn the_cli_and_the_server_delete_a_group() -> TestResult {
    let env = Env::new();
    {
        let store = Store::open(env.data(), StoreOptions::default())?;
        store.put(Data::Json(json!(1)), Metadata::default())?;
        store.commit_consumer("by-cli", 1)?;
        store.commit_consumer("by-http", 1)?;
        store.close()?;
    }
    let deleted = env.run(&["groups", "--delete", "by-cli"]).ok().json();
    assert_eq!(deleted, json!({"group": "by-cli", "deleted": true, "offset": 3}));
    env.run(&["groups", "--delete", "by-cli"]).expect_code(3);
    let listed = Value::Array(env.run(&["groups"]).ok().lines());
    assert_eq!(listed, json!([{"group": "by-http", "offset": 1, "lag": 3}]));

    let server = Server::start(&env.data(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let response = http.delete(server.url("/v1/consumers/by-http")).send().await?;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await?;
        assert_eq!(body, json!({"group": "by-http", "deleted": true, "offset": 4}));
        let unknown = http.delete(server.url("/v1/consumers/by-http")).send().await?;
        assert_eq!(unknown.status(), 404);
        let error: Value = unknown.json().await?;
        assert_eq!(error["kind"], "not_found", "{error}");
        let listed: Value = http.get(server.url("/v1/consumers")).send().await?.json().await?;
        assert_eq!(listed, json!([]));
        let one: Value = http.get(server.url("/v1/consumers/by-http")).send().await?.json().await?;
        assert_eq!(one, json!({"group": "by-http", "offset": null, "lag": 5}), "read again, it starts at 0");
        Ok(())
    })
}
