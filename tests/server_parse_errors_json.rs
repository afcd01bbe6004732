//! Requests refused before any route get the JSON error body (issue 20,
//! item 9). hyper answers a request it cannot parse (a malformed request
//! line or header: 400), a request target over 65,534 bytes (414) and a
//! head over its buffer or with over 100 fields (431) itself, with an empty
//! body, while every other error is `{"error", "kind"}`. Now the server's
//! own limits sit below hyper's and answer with the JSON body, saying what
//! was too large, and hyper's own answers are given the JSON body on their
//! way out. Raw sockets, since an HTTP client would not send these.

mod server_support;

use server_support::{Server, TestResult, raw_exchange, raw_json, raw_status};

/// `GET /healthz` with `extra_headers` and a target of `target_bytes`.
fn request(target_bytes: usize, extra_headers: &str) -> Vec<u8> {
    let query = "a".repeat(target_bytes.saturating_sub("/healthz?x=".len()));
    format!("GET /healthz?x={query} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra_headers}\r\n")
        .into_bytes()
}

fn many_headers(count: usize) -> String {
    (0..count).map(|n| format!("X-Field-{n}: v\r\n")).collect()
}

/// Sends `request` and checks the answer: `status`, a JSON body of the
/// declared length with `kind`, and an error that contains `says`.
fn check(server: &Server, what: &str, request: &[u8], status: u16, kind: &str, says: &str) -> TestResult {
    let response = raw_exchange(server.address(), request)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| format!("{what}: no head in {response:?}"))?;
    assert_eq!(raw_status(&response), Some(status), "{what}: {head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{what}: {head}");
    assert!(head.contains(&format!("content-length: {}", body.len())), "{what}: {head}");
    let json = raw_json(&response)?;
    assert_eq!(json["kind"], kind, "{what}: {json}");
    let error = json["error"].as_str().ok_or_else(|| format!("{what}: no error in {json}"))?;
    assert!(error.contains(says), "{what}: {error:?} should say {says:?}");
    Ok(())
}

#[test]
fn heads_the_server_refuses_get_the_json_error_body() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    // Over the server's limits, under hyper's: the server says by how much.
    check(&server, "a long target", &request(20_000, ""), 414, "too_large", "20000 bytes, over the maximum of 16384")?;
    let fields = many_headers(150);
    check(
        &server,
        "many fields",
        &request(20, &fields),
        431,
        "too_large",
        "152 header fields, over the maximum of 100",
    )?;
    let big = format!("X-Big: {}\r\n", "b".repeat(70_000));
    check(&server, "a large field", &request(20, &big), 431, "too_large", "over the maximum of 65536")?;
    // Beyond hyper's own limits: hyper answers, with the JSON body.
    check(&server, "a target over hyper's", &request(70_000, ""), 414, "too_large", "65534 bytes")?;
    check(&server, "fields over hyper's", &request(20, &many_headers(500)), 431, "too_large", "header fields")?;
    let huge = format!("X-Big: {}\r\n", "b".repeat(700_000));
    check(&server, "a head over hyper's buffer", &request(20, &huge), 431, "too_large", "request head")?;
    check(&server, "a malformed request line", b"GARBAGE\r\n\r\n", 400, "invalid_input", "not valid HTTP/1.1")?;
    let bad_field = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n";
    check(&server, "a malformed header", bad_field, 400, "invalid_input", "not valid HTTP/1.1")?;
    // A request within the limits is served as before.
    let ok = raw_exchange(server.address(), &request(16_000, &many_headers(90)))?;
    assert_eq!(raw_status(&ok), Some(200), "{ok}");
    Ok(())
}
