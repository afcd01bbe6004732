//! Every body read is timed (issue 20, items 3 and 9). `POST
//! /v1/admin/compact` is exempt from the request timeout, because a
//! compaction may run for minutes, and so a client that sent its headers
//! and never its body held the connection for ever; the timeout of the other
//! routes answered 408 with an empty body. Now both answer, after the 30 s
//! request limit, the JSON 408 with kind `timeout`.

mod server_support;

use server_support::{Server, TestResult, raw_exchange, raw_json, raw_status};

#[test]
fn a_body_that_never_comes_gets_the_json_408_on_every_route() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    let routes = ["/v1/admin/compact", "/v1/items", "/v1/consumers/g/commit"];
    let waits: Vec<_> = routes
        .iter()
        .map(|route| {
            let address = server.address().to_string();
            let request = format!(
                "POST {route} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                 Content-Length: 100\r\n\r\n{{"
            );
            std::thread::spawn(move || raw_exchange(&address, request.as_bytes()).map_err(|e| e.to_string()))
        })
        .collect();
    for (route, wait) in routes.iter().zip(waits) {
        let response = wait.join().map_err(|_| "the client thread panicked")??;
        assert_eq!(raw_status(&response), Some(408), "{route}: {response}");
        let error = raw_json(&response)?;
        assert_eq!(error["kind"], "timeout", "{route}: {response}");
        assert!(error["error"].as_str().is_some_and(|e| e.contains("30 s")), "{route}: {response}");
    }
    Ok(())
}
