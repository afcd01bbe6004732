//! Consumer groups as an operator sees them (issue 26): `recstore groups`
//! and `GET /v1/consumers` list every group with its committed offset and
//! its lag behind the log, in one shape, and `GET /v1/consumers/{group}`
//! gives the same lag. Before, a group could be looked up only by name and
//! nothing said how far behind it was.

mod cli_support;
mod server_support;

use cli_support::Env;
use recstore::{Data, Metadata, Store, StoreOptions};
use serde_json::{Value, json};
use server_support::{Server, TestResult, runtime};

#[test]
fn groups_list_committed_offsets_and_lag_on_every_surface() -> TestResult {
    let env = Env::new();
    {
        let store = Store::open(env.data(), StoreOptions::default())?;
        for n in 0..5 {
            store.put(Data::Json(json!(n)), Metadata::default())?;
        }
        store.commit_consumer("slow", 1)?; // offset 5
        store.commit_consumer("caught-up", 6)?; // offset 6: the next record is 7
        let past_the_end = store.commit_consumer("slow", 8).expect_err("offset 8 is past the end (7)");
        assert_eq!(past_the_end.kind(), recstore::ErrorKind::InvalidInput, "{past_the_end}");
        store.close()?;
    }
    // Seven records: five puts and two commits.
    let expected = json!([
        {"group": "caught-up", "offset": 6, "lag": 1},
        {"group": "slow", "offset": 1, "lag": 6},
    ]);
    let cli = Value::Array(env.run(&["groups"]).ok().lines());
    assert_eq!(cli, expected, "recstore groups");

    let server = Server::start(&env.data(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let listed: Value = http.get(server.url("/v1/consumers")).send().await?.json().await?;
        assert_eq!(listed, expected, "GET /v1/consumers");
        let one: Value = http.get(server.url("/v1/consumers/slow")).send().await?.json().await?;
        assert_eq!(one, json!({"group": "slow", "offset": 1, "lag": 6}));
        let new: Value = http.get(server.url("/v1/consumers/never")).send().await?.json().await?;
        assert_eq!(new, json!({"group": "never", "offset": null, "lag": 7}), "a new group starts at 0");
        let refused = http.get(server.url("/v1/consumers?group=slow")).send().await?;
        assert_eq!(refused.status(), 400, "the list takes no parameters");
        Ok(())
    })
}

/// A group can be moved back or forward, to an offset or to a time (the
/// first record stored at or after it), from the CLI and over HTTP; an
/// offset past the end of the log is refused and moves nothing.
#[test]
fn a_group_resets_to_an_offset_or_a_time() -> TestResult {
    let env = Env::new();
    let times = {
        let store = Store::open(env.data(), StoreOptions::default())?;
        let mut times = Vec::new();
        for n in 0..4 {
            let stored = store.put(Data::Json(json!(n)), Metadata::default())?;
            times.push(stored.timestamp.clone());
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        store.commit_consumer("g", 4)?; // offset 4
        store.close()?;
        times
    };
    let moved = env.run(&["groups", "--reset", "g", "--to", "@1"]).ok().lines();
    assert_eq!(moved, vec![json!({"group": "g", "offset": 1, "lag": 5})], "CLI, to an offset");
    let moved = env.run(&["groups", "--reset", "g", "--to", &times[2]]).ok().lines();
    assert_eq!(moved[0]["offset"], json!(2), "CLI, to the first record stored at or after a time: {moved:?}");
    env.run(&["groups", "--reset", "g", "--to", "@99"]).expect_code(1);
    env.run(&["groups", "--reset", "g"]).expect_code(2);

    let server = Server::start(&env.data(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let reset = |to: &str| http.post(server.url("/v1/consumers/g/reset")).json(&json!({ "to": to })).send();
        let answer: Value = reset("@0").await?.json().await?;
        assert_eq!((answer["offset"].clone(), answer["group"].clone()), (json!(0), json!("g")), "{answer}");
        let answer: Value = reset(&times[3]).await?.json().await?;
        assert_eq!(answer["offset"], json!(3), "{answer}");
        let refused = reset("@99").await?;
        assert_eq!(refused.status(), 400);
        let one: Value = http.get(server.url("/v1/consumers/g")).send().await?.json().await?;
        assert_eq!(one["offset"], json!(3), "a refused reset moves nothing");
        Ok(())
    })
}
