//! schemathesis against the live server (issue 26): every operation of
//! `/v1/openapi.json` is fuzzed from the document, with the token, and the
//! run fails on any 5xx, any answer (status, content type, headers, body)
//! the document does not describe, any request the document allows that
//! the server refuses, and any request it forbids that the server takes
//! (`--checks all`).
//!
//! Bounded: a fixed seed, a fixed number of examples per operation and
//! about three minutes in all. Every phase runs, the stateful one (which
//! chains a create with reads and deletes through the document's links)
//! included; tests/schemathesis/hooks.py keeps state-dependent values, such
//! as `@OFFSET`, within what the store holds. Compaction runs last, on its
//! own, since it changes what older `as_of` points can still read; there
//! the fuzzer's negative cases are left out (the body is optional, and
//! schemathesis counts the empty request, which is the defaults, as a
//! broken one).
//!
//! Needs `schemathesis` (tests/requirements.txt; CI installs it). Without
//! it the test fails, saying so.

mod server_support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use server_support::{Server, TestResult, runtime};

const TOKEN: &str = "schemathesis-test-token";
/// Examples per operation and phase.
const EXAMPLES_PER_OPERATION: &str = "25";
/// Time budgets of the two runs, in seconds: about three minutes in all.
const MAIN_RUN_S: &str = "130";
const COMPACTION_RUN_S: &str = "40";

fn schemathesis(
    server: &Server,
    scratch: &Path,
    budget_s: &str,
    extra: &[&str],
) -> Result<(bool, String), Box<dyn std::error::Error>> {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    // schemathesis keeps a cache in its working directory: not in the repository.
    let output = Command::new("schemathesis")
        .current_dir(scratch)
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .args(["--no-color", "run", &server.url("/v1/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "all", "--max-examples", EXAMPLES_PER_OPERATION, "--seed", "26", "--workers", "1"])
        .args(["--max-time", budget_s, "--request-timeout", "10"])
        .args(extra)
        .output()
        .map_err(|error| {
            format!(
                "cannot run schemathesis ({error}): install the test requirements with \
                 `python3 -m pip install -r tests/requirements.txt` (CI does)"
            )
        })?;
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), report))
}

#[test]
fn the_server_answers_as_its_openapi_document_says() -> TestResult {
    let dir = tempfile::tempdir()?;
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n"))?;
    let mut permissions = std::fs::metadata(&token)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
    std::fs::set_permissions(&token, permissions)?;
    let server = Server::start(&dir.path().join("data"), &["--token-file", token.to_str().ok_or("path")?])?;
    // Two records, so that `@0` and `@1` name records (the hooks count on it).
    runtime().block_on(async {
        let client = reqwest::Client::new();
        for data in [json!({"seed": 1}), json!({"seed": 2})] {
            let response =
                client.post(server.url("/v1/items")).bearer_auth(TOKEN).json(&json!({"data": data})).send().await?;
            assert_eq!(response.status(), 201);
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let (passed, report) = schemathesis(&server, dir.path(), MAIN_RUN_S, &["--exclude-path", "/v1/admin/compact"])?;
    assert!(passed, "schemathesis found answers that break the document:\n{report}");
    let compaction = ["--include-path", "/v1/admin/compact", "--exclude-checks", "negative_data_rejection"];
    let (passed, report) = schemathesis(&server, dir.path(), COMPACTION_RUN_S, &compaction)?;
    assert!(passed, "schemathesis found compaction answers that break the document:\n{report}");
    Ok(())
}
