//! Smaller hardening of issue 20, item 9. `GET /v1/log?group=` took empty
//! and 10 KB group names that `/v1/consumers/{g}` refuses, and a byte item
//! stored as `text/html` was served without `X-Content-Type-Options:
//! nosniff`, so a browser would render it on the server's origin.

mod server_support;

use server_support::{Server, TestResult, json_of, runtime};

#[test]
fn log_group_names_are_validated_like_consumer_routes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let long = "g".repeat(10 * 1024);
        for group in ["", long.as_str()] {
            let (status, error) =
                json_of(http.get(server.url(&format!("/v1/log?group={group}"))).send().await?).await?;
            let (consumer_status, _) =
                json_of(http.get(server.url(&format!("/v1/consumers/{group}x"))).send().await?).await?;
            assert_eq!(status, 400, "group of {} bytes: {error}", group.len());
            assert_eq!(error["kind"], "invalid_input");
            if !group.is_empty() {
                assert_eq!(consumer_status, 400, "the consumer route refuses the same name");
            }
        }
        let (status, _) = json_of(http.get(server.url("/v1/consumers/audit")).send().await?).await?;
        assert_eq!(status, 200);
        let ok = http.get(server.url("/v1/log?group=audit")).send().await?;
        assert_eq!(ok.status().as_u16(), 200, "a valid group name still reads");
        Ok(())
    })
}

#[test]
fn byte_items_are_served_with_nosniff() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let page = "<script>alert(document.cookie)</script>";
        let put = http.put(server.url("/v1/items/page")).header("content-type", "text/html").body(page);
        put.send().await?.error_for_status()?;
        let read = http.get(server.url("/v1/items/page")).send().await?;
        assert_eq!(read.headers()["content-type"], "text/html");
        assert_eq!(read.headers().get("x-content-type-options").ok_or("no nosniff header")?, "nosniff");
        Ok(())
    })
}
