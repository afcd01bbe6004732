//! Byte items over HTTP (issue 6): a body with a non-JSON `Content-Type` is
//! stored as bytes of that type, its metadata taken from query parameters
//! that mirror `recstore put`'s flags; `GET` returns the bytes exactly, with
//! the stored type. Before this, HTTP took only the JSON envelope, so a
//! byte item could be stored through the CLI or library but not uploaded.

mod server_support;

use md5::{Digest, Md5};
use recstore::limits::HTTP_BODY_SIZE_BYTES_MAX;
use serde_json::{Value, json};
use server_support::{Server, TestResult, json_of, runtime};

/// A PNG signature and header chunk, then bytes that are not UTF-8 and not JSON.
fn png_like(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x02\x08\x06\0\0\0".to_vec();
    bytes.extend((0..=255u8).map(|b| b.wrapping_mul(31).wrapping_add(seed)));
    bytes
}

/// One query parameter: name and value.
type Pair<'a> = (&'a str, &'a str);

/// A path with a query string encoded from `pairs`, repeats kept.
fn with_query(path: &str, pairs: &[Pair]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("{path}?{}", query.finish())
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_byte_upload_reads_back_exactly_with_its_type_and_metadata() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let parent = json!({"data": {"t": 21.5}, "metadata": {"id": "reading-1"}});
        http.post(server.url("/v1/items")).json(&parent).send().await?.error_for_status()?;

        let png = png_like(0);
        let url = server.url(&with_query(
            "/v1/items/photo-1",
            &[
                ("type", "camera_frame"),
                ("source", "camera-3"),
                ("tag", "raw_data"),
                ("tag", "png"),
                ("parent", "reading-1@1"),
                ("meta", r#"{"width": 2, "tags": ["from_meta"]}"#),
            ],
        ));
        let upload = || http.put(&url).header("content-type", "image/png").body(png.clone());
        let (status, stored) = json_of(upload().send().await?).await?;
        assert_eq!((status, stored["id"].clone(), stored["version"].clone()), (201, json!("photo-1"), json!(1)));

        let read = http.get(server.url("/v1/items/photo-1")).send().await?;
        assert_eq!(read.headers()["content-type"], "image/png");
        assert_eq!(read.headers()["x-recstore-version"], "1");
        assert_eq!(read.bytes().await?.as_ref(), png.as_slice(), "the bytes come back exactly");

        let (_, meta) = json_of(http.get(server.url("/v1/items/photo-1/metadata")).send().await?).await?;
        let expected = json!({
            "size": png.len(), "md5": md5_hex(&png), "content_type": "image/png", "type": "camera_frame",
            "source_id": "camera-3", "tags": ["from_meta", "png", "raw_data"], "parents": ["reading-1@1"], "width": 2,
        });
        for (field, value) in expected.as_object().ok_or("an object")? {
            assert_eq!(&meta[field], value, "metadata field {field}: {meta}");
        }

        let (status, again) = json_of(upload().send().await?).await?;
        assert_eq!(
            (status, again["version"].clone(), again["created"].clone()),
            (200, json!(1), json!(false)),
            "an identical re-upload writes nothing"
        );
        let changed = http.put(&url).header("content-type", "image/png").body(png_like(1)).send().await?;
        let (status, v2) = json_of(changed).await?;
        assert_eq!((status, v2["version"].clone()), (201, json!(2)));
        let first = http.get(server.url("/v1/items/photo-1?version=1")).send().await?.bytes().await?;
        assert_eq!(first.as_ref(), png.as_slice(), "version 1 is still readable as it was");

        let (_, hits) = json_of(http.get(server.url("/v1/query?tag=png&type=camera_frame")).send().await?).await?;
        assert_eq!(hits.as_array().map(Vec::len), Some(1));
        let (_, children) =
            json_of(http.get(server.url("/v1/items/reading-1/lineage?direction=down")).send().await?).await?;
        assert!(children.to_string().contains("photo-1"), "the parent query parameter made a lineage link: {children}");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn post_names_a_byte_item_by_its_md5_and_keeps_the_whole_content_type() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let text = "temperature,21.5\n";
        let post = http.post(server.url("/v1/items?tag=csv")).header("content-type", "text/csv; charset=utf-8");
        let (status, stored) = json_of(post.body(text).send().await?).await?;
        assert_eq!((status, stored["id"].clone()), (201, json!(md5_hex(text.as_bytes()))));
        let id = stored["id"].as_str().ok_or("an id")?;
        let read = http.get(server.url(&format!("/v1/items/{id}"))).send().await?;
        assert_eq!(read.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(read.text().await?, text);

        let named = http.post(server.url("/v1/items?id=blob-1")).header("content-type", "application/octet-stream");
        let (status, stored) = json_of(named.body(vec![0u8, 1, 2]).send().await?).await?;
        assert_eq!((status, stored["id"].clone()), (201, json!("blob-1")));

        // JSON stays the envelope; curl -d's default form type is refused
        // (a browser sends it cross-site: tests/server_cross_site.rs).
        let envelope = r#"{"data": {"n": 1}, "metadata": {"id": "j"}}"#;
        let put = http.put(server.url("/v1/items/j")).header("content-type", "application/json").body(envelope);
        assert!(put.send().await?.status().is_success());
        let read = http.get(server.url("/v1/items/j")).send().await?;
        assert_eq!(read.headers()["content-type"], "application/json");
        assert_eq!(read.json::<Value>().await?, json!({"n": 1}));
        let form = http.put(server.url("/v1/items/j")).header("content-type", "application/x-www-form-urlencoded");
        assert_eq!(form.body(envelope).send().await?.status().as_u16(), 415);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn bad_byte_uploads_get_400_413_or_415_and_change_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let bad_queries: [(&str, &str, &[Pair]); 10] = [
            ("unknown parameter", "/v1/items/p", &[("colour", "red")]),
            ("id on PUT, where the path names it", "/v1/items/p", &[("id", "q")]),
            ("meta that is not JSON", "/v1/items/p", &[("meta", "{width: 2}")]),
            ("meta that is not an object", "/v1/items/p", &[("meta", "[1]")]),
            ("meta setting a computed field", "/v1/items/p", &[("meta", r#"{"md5": "x"}"#)]),
            ("meta naming another id", "/v1/items/p", &[("meta", r#"{"id": "q"}"#)]),
            ("type given twice", "/v1/items/p", &[("type", "a"), ("type", "b")]),
            ("empty type", "/v1/items/p", &[("type", "")]),
            ("control character in a tag", "/v1/items", &[("tag", "a\u{1}b")]),
            ("malformed parent", "/v1/items", &[("parent", "x@0")]),
        ];
        for (what, path, pairs) in bad_queries {
            let url = server.url(&with_query(path, pairs));
            let put = if path == "/v1/items" { http.post(&url) } else { http.put(&url) };
            let (status, error) =
                json_of(put.header("content-type", "image/png").body(png_like(0)).send().await?).await?;
            assert_eq!((status, error["kind"].clone()), (400, json!("invalid_input")), "{what}: {error}");
        }

        let envelope = r#"{"data": 1}"#;
        let json_with_params = http.post(server.url("/v1/items?tag=x")).header("content-type", "application/json");
        let (status, error) = json_of(json_with_params.body(envelope).send().await?).await?;
        assert_eq!(status, 400, "a JSON body carries its own metadata; parameters would be ignored: {error}");

        let multipart = http.put(server.url("/v1/items/p")).header("content-type", "multipart/form-data; boundary=x");
        let (status, error) = json_of(multipart.body("--x--").send().await?).await?;
        assert_eq!(status, 415, "the multipart framing is not the file: {error}");

        // One byte over: the server has read the whole body by the time it
        // knows, so the client always gets the answer rather than a reset.
        let oversize = vec![0u8; HTTP_BODY_SIZE_BYTES_MAX + 1];
        let put = http.put(server.url("/v1/items/p")).header("content-type", "application/octet-stream");
        let (status, error) = json_of(put.body(oversize).send().await?).await?;
        assert_eq!((status, error["kind"].clone()), (413, json!("too_large")));
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains("request body over the limit"), "the HTTP limit refused it, not the store: {message}");

        let (_, stats) = json_of(http.get(server.url("/v1/stats")).send().await?).await?;
        assert_eq!(stats["next_offset"], json!(0), "nothing was written");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

#[test]
fn a_non_ascii_type_stored_through_the_library_is_served_as_given() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = recstore::Store::open(dir.path(), recstore::StoreOptions::default())?;
        let data = recstore::Data::Bytes { bytes: b"abc".to_vec(), content_type: "tëxt/plain".into() };
        let metadata = recstore::Metadata { id: Some("odd".into()), ..recstore::Metadata::default() };
        store.put(data, metadata)?;
    }
    let server = Server::start(dir.path(), &[])?;
    runtime().block_on(async {
        let read = reqwest::Client::new().get(server.url("/v1/items/odd")).send().await?;
        assert_eq!(read.status().as_u16(), 200, "the bytes are still served, never a 500");
        assert_eq!(read.headers()["content-type"].as_bytes(), "tëxt/plain".as_bytes());
        assert_eq!(read.bytes().await?.as_ref(), b"abc");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
