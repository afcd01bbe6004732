//! Maps every error to one HTTP status and a JSON body, in one place:
//! `{"error": "...", "kind": "..."}`. Bad input is never a 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::Error;
use crate::error::ErrorKind;

/// The body of every error answer, the one shape the server refuses with.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong and where, for a person to read.
    #[schema(example = "limit=0 must be at least 1")]
    pub error: String,
    /// The kind of failure, for a program to branch on: `invalid_input`,
    /// `not_found`, `unauthorized`, ... (the README's table of kinds).
    #[schema(example = "invalid_input")]
    pub kind: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: ErrorKind,
    message: String,
}

impl ApiError {
    /// A 400 with a message saying what is wrong with the request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind: ErrorKind::InvalidInput, message: message.into() }
    }

    /// A 401.
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            kind: ErrorKind::Unauthorized,
            message: "missing or wrong bearer token (send `Authorization: Bearer <token>`)".into(),
        }
    }

    /// A 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self { status: StatusCode::PAYLOAD_TOO_LARGE, kind: ErrorKind::TooLarge, message: message.into() }
    }

    /// What went wrong, as the body's `error` says it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status this error is sent with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A kind's usual status with a message of the surface's own.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { status: status_of(kind), kind, message: message.into() }
    }

    /// A kind sent with another status than its usual one (a 415 is invalid input).
    pub fn with_status(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let kind = error.kind();
        let status = status_of(kind);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%error, "request failed");
        }
        Self { status, kind, message: error.to_string() }
    }
}

/// The status of each kind of failure: the one table of the server.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::Usage | ErrorKind::Horizon => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::NotFound | ErrorKind::Deleted | ErrorKind::Pruned => StatusCode::NOT_FOUND,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Locked => StatusCode::LOCKED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Corruption | ErrorKind::Io | ErrorKind::BrokenPipe | ErrorKind::Internal => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.message, kind: self.kind.as_str().to_string() };
        if matches!(self.status, StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT) {
            // The rest of the body stays unread, so the connection cannot
            // carry another request; saying so keeps a client from reusing
            // it for its next one, which then broke off mid-response.
            let close = [(axum::http::header::CONNECTION, "close")];
            return (self.status, close, axum::Json(body)).into_response();
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
