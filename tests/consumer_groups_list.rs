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
