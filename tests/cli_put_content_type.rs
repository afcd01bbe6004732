//! Regression: `put --content-type T` without `--bytes` was ignored when the
//! input parsed as JSON: the item was stored as JSON with the type
//! `application/json`, without a word. A content type now says the input
//! is bytes of that type, whatever they parse as.

mod cli_support;

use cli_support::{Env, TestResult};
use serde_json::json;

#[test]
fn a_content_type_stores_json_looking_input_as_bytes_of_that_type() -> TestResult {
    let env = Env::new();
    let input = b"[1, 2]";
    env.run_with_stdin(&["put", "--id", "csv", "--content-type", "text/csv", "-"], input).ok();
    let meta = env.run(&["meta", "csv"]).ok().json();
    assert_eq!(meta["content_type"], json!("text/csv"), "{meta}");
    assert_eq!(env.run(&["get", "csv"]).ok().stdout, input, "the bytes come back unparsed");
    env.run_with_stdin(&["put", "--id", "json", "-"], input).ok();
    let meta = env.run(&["meta", "json"]).ok().json();
    assert_eq!(meta["content_type"], json!("application/json"), "without the flag, JSON stays JSON: {meta}");
    let help = env.run(&["put", "--help"]).ok().text();
    assert!(help.contains("implies --bytes"), "--help says what the flag does: {help}");
    Ok(())
}
