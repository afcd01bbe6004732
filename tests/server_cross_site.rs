//! Cross-site writes and DNS rebinding (issue 20, item 1). A default server
//! (loopback, no token) parsed `text/plain` and form-encoded bodies as the
//! JSON envelope and checked neither `Origin` nor `Host`, so any web page
//! could write items and run a compaction that prunes history: a browser
//! sends those simple content types cross-site without a preflight, and a
//! rebinding page reaches 127.0.0.1 under its own name. Now a foreign
//! `Origin` or `Host` is 403, a JSON body without `application/json` is
//! 415, and neither writes anything.

mod server_support;

use serde_json::{Value, json};
use server_support::{Server, TestResult, json_of, raw_exchange, raw_json, raw_status, runtime};

const EVIL: &str = "http://evil.example";
const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data; boundary=b";

/// Headers of one request, beside `Host`.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// One request: method, path, `Host`, other headers, body.
struct Attempt<'a>(&'a str, &'a str, String, Headers<'a>, &'a str);

/// A request as a browser would send it: HTTP/1.1, the given headers, a body.
fn browser_request(method: &str, path: &str, host: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    request.into_bytes()
}

/// The log's next offset and the versions of item `x`: what an attack would change.
fn written(server: &Server) -> Result<(Value, usize), Box<dyn std::error::Error>> {
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let (_, stats) = json_of(http.get(server.url("/v1/stats")).send().await?).await?;
        let (_, history) = json_of(http.get(server.url("/v1/items/x/history")).send().await?).await?;
        let versions = history.as_array().map_or(0, Vec::len);
        Ok((stats, versions))
    })
}

fn two_versions_of_x(server: &Server) -> TestResult {
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for n in 0..2 {
            let put = http.put(server.url("/v1/items/x")).json(&json!({"data": {"n": n}}));
            put.send().await?.error_for_status()?;
        }
        Ok(())
    })
}

#[test]
fn what_a_browser_sends_cross_site_is_refused_and_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    two_versions_of_x(&server)?;
    let before = written(&server)?;
    let host = server.address().to_string();
    let envelope = r#"{"data": {"evil": true}}"#;
    let prune = r#"{"max_versions": 1}"#;
    let rebound = format!("rebind.evil.example:{}", host.rsplit(':').next().unwrap_or("7070"));
    let attacks = [
        Attempt("POST", "/v1/items", host.clone(), vec![("Origin", EVIL), ("Content-Type", "text/plain")], envelope),
        Attempt("POST", "/v1/items", host.clone(), vec![("Origin", EVIL), ("Content-Type", FORM)], envelope),
        Attempt("POST", "/v1/items", host.clone(), vec![("Origin", EVIL), ("Content-Type", MULTIPART)], "--b--"),
        Attempt("PUT", "/v1/items/x", host.clone(), vec![("Origin", "null"), ("Content-Type", "text/plain")], envelope),
        Attempt("DELETE", "/v1/items/x", host.clone(), vec![("Origin", EVIL)], ""),
        Attempt(
            "POST",
            "/v1/admin/compact",
            host.clone(),
            vec![("Origin", EVIL), ("Content-Type", "text/plain")],
            prune,
        ),
        Attempt("POST", "/v1/consumers/g/commit", host.clone(), vec![("Origin", EVIL)], r#"{"offset": 1}"#),
        // After a DNS rebinding the page is same-origin to the browser, so
        // it may even send JSON; only the Host gives it away.
        Attempt("POST", "/v1/items", rebound.clone(), vec![("Content-Type", "application/json")], envelope),
        Attempt("POST", "/v1/admin/compact", rebound.clone(), vec![("Content-Type", "application/json")], prune),
        Attempt("GET", "/v1/items/x", rebound.clone(), vec![], ""),
    ];
    for Attempt(method, path, host_header, headers, body) in attacks {
        let response = raw_exchange(&host, &browser_request(method, path, &host_header, &headers, body))?;
        assert_eq!(raw_status(&response), Some(403), "{method} {path} {headers:?}: {response}");
        let error = raw_json(&response)?;
        assert_eq!(error["kind"], "unauthorized", "{response}");
        assert!(error["error"].as_str().is_some_and(|e| e.contains("allow")), "says how to allow it: {response}");
    }
    assert_eq!(written(&server)?, before, "no attack wrote or pruned anything");
    Ok(())
}

#[test]
fn a_json_body_without_the_json_type_is_415_and_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    two_versions_of_x(&server)?;
    let before = written(&server)?;
    let host = server.address().to_string();
    let envelope = r#"{"data": {"n": 9}}"#;
    let form = ("Content-Type", FORM);
    let text = ("Content-Type", "text/plain");
    let refused = [
        Attempt("POST", "/v1/items", host.clone(), vec![], envelope),
        Attempt("POST", "/v1/items", host.clone(), vec![form], envelope),
        Attempt("PUT", "/v1/items/x", host.clone(), vec![form], envelope),
        Attempt("PUT", "/v1/items/x", host.clone(), vec![], envelope),
        Attempt("POST", "/v1/admin/compact", host.clone(), vec![text], r#"{"max_versions": 1}"#),
        Attempt("POST", "/v1/admin/compact", host.clone(), vec![], r#"{"max_versions": 1}"#),
        Attempt("POST", "/v1/consumers/g/commit", host.clone(), vec![text], r#"{"offset": 1}"#),
        Attempt("PUT", "/v1/datasets/d", host.clone(), vec![text], r#"{"items": [{"data": 1}]}"#),
    ];
    for Attempt(method, path, _, headers, body) in refused {
        let response = raw_exchange(&host, &browser_request(method, path, &host, &headers, body))?;
        assert_eq!(raw_status(&response), Some(415), "{method} {path} {headers:?}: {response}");
        let error = raw_json(&response)?;
        assert_eq!(error["kind"], "invalid_input", "{response}");
        assert!(error["error"].as_str().is_some_and(|e| e.contains("application/json")), "{response}");
    }
    assert_eq!(written(&server)?, before, "no refused body was written");
    Ok(())
}

#[test]
fn an_allowed_origin_and_host_get_through_with_cors_answers() -> TestResult {
    let dir = tempfile::tempdir()?;
    let app = "https://app.example";
    let server = Server::start(dir.path(), &["--allow-origin", app, "--allow-host", "store.lan"])?;
    let host = server.address().to_string();
    let preflight = browser_request(
        "OPTIONS",
        "/v1/items",
        &host,
        &[
            ("Origin", app),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        "",
    );
    let response = raw_exchange(&host, &preflight)?.to_ascii_lowercase();
    assert!(response.contains(&format!("access-control-allow-origin: {app}")), "{response}");
    assert!(response.contains("access-control-allow-methods:"), "{response}");

    let json = [("Origin", app), ("Content-Type", "application/json")];
    let post = browser_request("POST", "/v1/items", "store.lan:80", &json, r#"{"data": 1}"#);
    let response = raw_exchange(&host, &post)?;
    assert_eq!(raw_status(&response), Some(201), "{response}");
    assert!(response.to_ascii_lowercase().contains(&format!("access-control-allow-origin: {app}")), "{response}");

    let other = browser_request("GET", "/v1/stats", &host, &[("Origin", "https://app.example.evil")], "");
    assert_eq!(raw_status(&raw_exchange(&host, &other)?), Some(403), "only the origin given, not a longer one");
    Ok(())
}
