//! The OpenAPI document (issue 26): `GET /v1/openapi.json` answers without
//! a token, equals the checked-in `docs/openapi.json` (so a change to the
//! API shows in review as a change to that file), and names only routes
//! the router has, each with the methods it takes.
//!
//! After changing a route or a JSON type, write the file anew with
//! `RECSTORE_BLESS=1 cargo test --test server_openapi`.

mod server_support;

use std::path::PathBuf;

use serde_json::Value;
use server_support::{Server, TestResult, runtime};

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

fn token_server(dir: &std::path::Path) -> Result<Server, Box<dyn std::error::Error>> {
    let token = dir.join("token");
    std::fs::write(&token, "openapi-test-token\n")?;
    let mut permissions = std::fs::metadata(&token)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
    std::fs::set_permissions(&token, permissions)?;
    Server::start(&dir.join("data"), &["--token-file", token.to_str().ok_or("path")?])
}

#[test]
fn the_served_document_is_the_checked_in_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = token_server(dir.path())?;
    runtime().block_on(async {
        let response = reqwest::get(server.url("/v1/openapi.json")).await?;
        assert_eq!(response.status(), 200, "the document needs no token");
        let served = response.text().await?;
        let document: Value = serde_json::from_str(&served)?;
        assert_eq!(document["openapi"], "3.1.0");
        if std::env::var_os("RECSTORE_BLESS").is_some() {
            std::fs::write(checked_in(), &served)?;
            return Ok(());
        }
        let expected = std::fs::read_to_string(checked_in()).unwrap_or_default();
        assert!(
            served == expected,
            "GET /v1/openapi.json differs from docs/openapi.json; if the change is meant, write the file anew \
             with `RECSTORE_BLESS=1 cargo test --test server_openapi` and commit it"
        );
        Ok(())
    })
}

#[test]
fn every_documented_operation_is_routed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = token_server(dir.path())?;
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let document: Value = client.get(server.url("/v1/openapi.json")).send().await?.json().await?;
        let paths = document["paths"].as_object().ok_or("no paths")?;
        assert!(paths.len() >= 19, "only {} paths documented", paths.len());
        for (path, item) in paths {
            // `{id}` and the like become a name the route takes.
            let concrete = path.replace("{id}", "x").replace("{name}", "x").replace("{group}", "x");
            for method in item.as_object().ok_or("path item")?.keys() {
                let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())?;
                let request = client.request(method.clone(), server.url(&concrete)).bearer_auth("openapi-test-token");
                let response = request.send().await?;
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                assert!(
                    status != 405 && !body.contains("no such route"),
                    "{method} {path} is documented but not routed: {status} {body}"
                );
            }
        }
        Ok(())
    })
}
