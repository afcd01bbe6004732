//! The server's own limits on a request's head: the request target's
//! length and the header fields' number and bytes, answered 414 or 431
//! with the JSON error body.
//!
//! Owns those three limits' enforcement. hyper's own limits are set above
//! them (in `listen.rs`), so that a request over ours still parses and
//! reaches this middleware, which can say what was too large and by how
//! much; only a head beyond hyper's limits is refused by hyper itself
//! (`wire_errors.rs` gives that answer its body). Never reads a body or
//! touches the store.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::error::ErrorKind;
use crate::limits::{HTTP_HEADER_COUNT_MAX, HTTP_HEADERS_SIZE_BYTES_MAX, HTTP_URI_SIZE_BYTES_MAX};

/// Refuses a request whose target or header fields are over the limits.
pub async fn refuse_oversized(request: Request, next: Next) -> Response {
    match check(&request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

fn check(request: &Request) -> Result<(), ApiError> {
    let uri_size_bytes = request.uri().path_and_query().map_or(0, |target| target.as_str().len());
    if uri_size_bytes > HTTP_URI_SIZE_BYTES_MAX {
        let message =
            format!("the request target is {uri_size_bytes} bytes, over the maximum of {HTTP_URI_SIZE_BYTES_MAX}");
        return Err(ApiError::with_status(StatusCode::URI_TOO_LONG, ErrorKind::TooLarge, message));
    }
    let headers = request.headers();
    if headers.len() > HTTP_HEADER_COUNT_MAX {
        let message =
            format!("the request has {} header fields, over the maximum of {HTTP_HEADER_COUNT_MAX}", headers.len());
        return Err(ApiError::with_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, ErrorKind::TooLarge, message));
    }
    // Each field as it goes on the wire: `name: value` and a line break.
    let headers_size_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if headers_size_bytes > HTTP_HEADERS_SIZE_BYTES_MAX {
        let message = format!(
            "the request's header fields are {headers_size_bytes} bytes, over the maximum of \
             {HTTP_HEADERS_SIZE_BYTES_MAX}"
        );
        return Err(ApiError::with_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, ErrorKind::TooLarge, message));
    }
    Ok(())
}
