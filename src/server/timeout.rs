//! Time limits on requests and on reading their bodies, answered with the
//! JSON 408 every other error gets.
//!
//! Owns two middlewares: one bounds a whole request (every route but the
//! live log stream and compaction, which may rightly run long), the other
//! bounds only the reading of the body, so that a compaction, which may
//! run for minutes once started, still cannot be held open by a client
//! whose body never comes. Never touches the store.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::body_bytes;
use crate::error::ErrorKind;
use crate::limits::HTTP_REQUEST_TIMEOUT_MS;

fn limit() -> Duration {
    Duration::from_millis(HTTP_REQUEST_TIMEOUT_MS)
}

/// Answers 408 when the request, body and handler included, takes longer
/// than `HTTP_REQUEST_TIMEOUT_MS`.
pub async fn whole_request(request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit(), next.run(request)).await {
        Ok(response) => response,
        Err(_) => timed_out("the request").into_response(),
    }
}

/// Reads the whole body within `HTTP_REQUEST_TIMEOUT_MS` (408), under the
/// router's body limit (413), before the handler runs; the handler itself
/// is not timed.
pub async fn body_read(request: Request, next: Next) -> Response {
    let (head, body) = request.into_parts();
    let read = Bytes::from_request(Request::from_parts(head.clone(), body), &());
    let bytes = match tokio::time::timeout(limit(), read).await {
        Err(_) => return timed_out("the request body").into_response(),
        Ok(read) => match body_bytes(read) {
            Ok(bytes) => bytes,
            Err(refusal) => return refusal.into_response(),
        },
    };
    next.run(Request::from_parts(head, Body::from(bytes))).await
}

fn timed_out(what: &str) -> ApiError {
    ApiError::new(ErrorKind::Timeout, format!("{what} did not arrive within {} s", HTTP_REQUEST_TIMEOUT_MS / 1000))
}
