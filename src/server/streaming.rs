//! Responses that may be large, written incrementally: JSON arrays and
//! NDJSON go out a chunk at a time, so the server never holds a whole
//! serialised answer beside the values it came from, and the non-following
//! log is read from the store in byte-bounded batches while it is sent.
//!
//! Owns the list limits (`HTTP_LIST_LIMIT_DEFAULT`, `HTTP_LIST_LIMIT_MAX`)
//! and the body framing; the values come from the handlers. Never waits on
//! a client while holding a store lock: store reads happen between chunks,
//! off the async threads.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::error::{ApiError, ApiResult};
use super::params::Params;
use super::state::{AppState, blocking};
use crate::limits::{FOLLOWER_BUFFER_BYTES_MAX, HTTP_LIST_LIMIT_DEFAULT, HTTP_LIST_LIMIT_MAX};
use crate::{LogEvent, Store};

/// Items serialised into one chunk of the body.
const ITEMS_PER_CHUNK: usize = 64;

/// `limit=` of a query or a log read: `HTTP_LIST_LIMIT_DEFAULT` when
/// absent, refused above `HTTP_LIST_LIMIT_MAX` or at 0.
pub fn list_limit(params: &Params) -> ApiResult<usize> {
    let limit = params.number::<usize>("limit")?.unwrap_or(HTTP_LIST_LIMIT_DEFAULT);
    if limit == 0 {
        return Err(ApiError::bad_request("limit must be at least 1"));
    }
    if limit > HTTP_LIST_LIMIT_MAX {
        return Err(ApiError::bad_request(format!(
            "limit={limit} is over the maximum of {HTTP_LIST_LIMIT_MAX}; page with offset (or from) instead"
        )));
    }
    Ok(limit)
}

/// A JSON array, or NDJSON when the client asks for `application/x-ndjson`,
/// serialised a chunk at a time as the client reads.
pub fn list_response<T: serde::Serialize + Send + 'static>(headers: &HeaderMap, items: Vec<T>) -> Response {
    let wants_ndjson = wants_ndjson(headers);
    let count = items.len();
    let mut items = items.into_iter();
    let chunks = (0..count.div_ceil(ITEMS_PER_CHUNK)).map(move |chunk| {
        let page: Vec<T> = items.by_ref().take(ITEMS_PER_CHUNK).collect();
        encode_chunk(&page, chunk > 0, wants_ndjson)
    });
    let close = (!wants_ndjson).then(|| Ok(closing_bracket(count > 0)));
    let body = Body::from_stream(futures_util::stream::iter(chunks.chain(close)));
    with_content_type(wants_ndjson, body)
}

/// A list read from the store a page (`ITEMS_PER_CHUNK` elements) at a
/// time while the body is sent, in the same bytes as [`list_response`]:
/// the server holds one page, whatever the length of the list. The first
/// page is read before answering, so a failure there is a JSON error; a
/// later one cuts the body short. `next_page` answers empty at the end.
pub async fn paged_response<T, F>(state: &AppState, headers: &HeaderMap, next_page: F) -> ApiResult<Response>
where
    T: serde::Serialize + Send + 'static,
    F: FnMut(&Store, usize) -> crate::Result<Vec<T>> + Send + 'static,
{
    let wants_ndjson = wants_ndjson(headers);
    let chunks = paged_chunks(state, wants_ndjson, next_page).await?;
    Ok(with_content_type(wants_ndjson, Body::from_stream(chunks)))
}

/// The chunks of [`paged_response`]'s body: a JSON array (or NDJSON lines)
/// read a page at a time. The first page is read before this returns.
pub async fn paged_chunks<T, F>(state: &AppState, wants_ndjson: bool, mut next_page: F) -> ApiResult<Chunks>
where
    T: serde::Serialize + Send + 'static,
    F: FnMut(&Store, usize) -> crate::Result<Vec<T>> + Send + 'static,
{
    let read_first = move |store: &Store| Ok((next_page(store, ITEMS_PER_CHUNK)?, next_page));
    let (first, next_page) = blocking(state, read_first).await?;
    let start = (Arc::clone(&state.store), next_page, Some(first), false);
    let chunks = futures_util::stream::unfold(Some(start), move |pager| async move {
        let (store, next_page, prefetched, started) = pager?;
        let (store, next_page, page) = match prefetched {
            Some(page) => (store, next_page, Ok(page)),
            None => read_page(store, next_page).await?,
        };
        match page {
            Err(error) => Some((Err(error), None)),
            Ok(page) if page.is_empty() => (!wants_ndjson).then(|| (Ok(closing_bracket(started)), None)),
            Ok(page) => Some((encode_chunk(&page, started, wants_ndjson), Some((store, next_page, None, true)))),
        }
    });
    // Fused: a compressing layer may poll once more after the end.
    Ok(chunks.fuse().boxed())
}

/// A body's chunks, as a stream that owns everything it reads from.
pub type Chunks = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

/// A JSON object with one array member streamed: `object`'s bytes with the
/// empty array at `"<key>":[]` (its last occurrence, which a key's place in
/// the object makes the member's own: every string before it escapes its
/// quotes) replaced by `elements`. The bytes equal the whole object's.
pub fn object_with_streamed_array(object: &serde_json::Value, key: &str, elements: Chunks) -> ApiResult<Response> {
    let bytes = serde_json::to_vec(object).map_err(|e| ApiError::new(crate::ErrorKind::Internal, e.to_string()))?;
    let member = format!("\"{key}\":[]");
    let at = bytes.windows(member.len()).rposition(|w| w == member.as_bytes());
    let at = at.ok_or_else(|| ApiError::new(crate::ErrorKind::Internal, format!("no `{member}` to stream into")))?;
    let split = at + member.len() - 2;
    let head = Bytes::copy_from_slice(&bytes[..split]);
    let tail = Bytes::copy_from_slice(&bytes[split + 2..]);
    let body = futures_util::stream::once(async move { Ok(head) })
        .chain(elements)
        .chain(futures_util::stream::once(async move { Ok(tail) }));
    Ok(with_content_type(false, Body::from_stream(body.fuse().boxed())))
}

/// The next page, read off the async threads; `None` only when the task
/// itself failed, which ends the body.
async fn read_page<T, F>(store: Arc<Store>, mut next_page: F) -> Option<(Arc<Store>, F, std::io::Result<Vec<T>>)>
where
    T: Send + 'static,
    F: FnMut(&Store, usize) -> crate::Result<Vec<T>> + Send + 'static,
{
    let read = move || {
        let page = next_page(&store, ITEMS_PER_CHUNK).map_err(|error| {
            tracing::warn!(%error, "a streamed list was cut short");
            std::io::Error::other(error.to_string())
        });
        (store, next_page, page)
    };
    tokio::task::spawn_blocking(read).await.ok()
}

fn wants_ndjson(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/x-ndjson"))
}

/// One chunk of a list body: the elements of `page`, after a `[` that
/// opens the array (or the `,` that follows the chunk before).
fn encode_chunk<T: serde::Serialize>(page: &[T], started: bool, wants_ndjson: bool) -> std::io::Result<Bytes> {
    let mut out = Vec::new();
    if !wants_ndjson {
        out.push(if started { b',' } else { b'[' });
    }
    for (n, item) in page.iter().enumerate() {
        if !wants_ndjson && n > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, item).map_err(std::io::Error::other)?;
        if wants_ndjson {
            out.push(b'\n');
        }
    }
    Ok(Bytes::from(out))
}

fn closing_bracket(started: bool) -> Bytes {
    Bytes::from_static(if started { b"]" } else { b"[]" })
}

fn with_content_type(wants_ndjson: bool, body: Body) -> Response {
    let content_type = if wants_ndjson { "application/x-ndjson" } else { "application/json" };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Up to `limit` log events from `from` as NDJSON lines, read in batches of
/// at most `FOLLOWER_BUFFER_BYTES_MAX` while the body is sent. The first
/// batch is read before answering, so a failure there is a JSON error;
/// a later one cuts the body short.
pub async fn log_page(
    store: Arc<Store>,
    from: u64,
    limit: usize,
    shown: impl Fn(&LogEvent) -> bool + Send + Sync + 'static,
) -> ApiResult<Body> {
    let first = read_batch(Arc::clone(&store), from, limit).await?;
    let shown = Arc::new(shown);
    let state = (store, first, limit);
    let pages = futures_util::stream::unfold(Some(state), move |state| {
        let shown = Arc::clone(&shown);
        async move {
            let (store, batch, remaining) = state?;
            if batch.is_empty() {
                return None;
            }
            let remaining = remaining.saturating_sub(batch.len());
            let next_from = batch.last().map_or(0, |event| event.offset + 1);
            let lines = batch.iter().filter(|event| shown(event)).filter_map(to_line).flatten().collect::<Vec<u8>>();
            let next = match remaining {
                0 => Ok(None),
                _ => read_batch(Arc::clone(&store), next_from, remaining)
                    .await
                    .map(|batch| Some((store, batch, remaining))),
            };
            match next {
                Ok(next) => Some((Ok(Bytes::from(lines)), next)),
                Err(error) => Some((Err(std::io::Error::other(error.message())), None)),
            }
        }
    });
    Ok(Body::from_stream(pages.boxed()))
}

async fn read_batch(store: Arc<Store>, from: u64, limit: usize) -> ApiResult<Vec<LogEvent>> {
    let read = move || store.events_within(from, limit, FOLLOWER_BUFFER_BYTES_MAX);
    match tokio::task::spawn_blocking(read).await {
        Ok(result) => Ok(result?.into_iter().map(|(event, _)| event).collect()),
        Err(error) => Err(ApiError::new(crate::error::ErrorKind::Internal, format!("log read failed: {error}"))),
    }
}

/// One NDJSON line.
pub fn to_line(event: &LogEvent) -> Option<Vec<u8>> {
    let mut line = serde_json::to_vec(event).ok()?;
    line.push(b'\n');
    Some(line)
}
