//! Bearer-token authentication: every route but `/healthz` and
//! `/v1/openapi.json` needs the token when the server was started with
//! `--token-file`.
//!
//! Owns reading and checking the token file (size, characters, permissions)
//! and the token in force, which SIGHUP replaces by re-reading the file so
//! that a token can be rotated without a restart. Never logs a token.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::error::{Error, Result};
use crate::limits::TOKEN_FILE_SIZE_BYTES_MAX;

/// The token in force, or none when the server runs without one; replaced
/// on SIGHUP.
pub type TokenCell = Arc<RwLock<Option<Arc<str>>>>;

/// Routes anyone may call: liveness, and the API's description.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/v1/openapi.json"];

/// Rejects requests without the right token.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = match state.token.read() {
        Ok(token) => token.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let Some(token) = token else { return next.run(request).await };
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request.headers().get(AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(bearer);
    if constant_time_eq(presented.unwrap_or("").as_bytes(), token.as_bytes()) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

/// The credentials of `Bearer <token>`: the scheme in any case, as HTTP
/// auth schemes are case-insensitive (RFC 9110, 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim_start())
}

/// Reads and checks a token file: at most `TOKEN_FILE_SIZE_BYTES_MAX`
/// bytes, one line of visible ASCII (surrounding whitespace trimmed), since
/// a header could never carry anything else and such a token could never
/// match. Warns when others may read the file.
pub fn read_token_file(path: &Path) -> Result<Arc<str>> {
    let io = |source| Error::Io { context: format!("reading token file {}", path.display()), source };
    let file = std::fs::File::open(path).map_err(io)?;
    warn_if_world_readable(path, &file);
    let mut bytes = Vec::new();
    file.take(TOKEN_FILE_SIZE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > TOKEN_FILE_SIZE_BYTES_MAX {
        let message = format!("token file {} is over {TOKEN_FILE_SIZE_BYTES_MAX} bytes", path.display());
        return Err(Error::invalid(message));
    }
    let token = bytes.trim_ascii();
    if token.is_empty() {
        return Err(Error::invalid(format!("token file {} is empty", path.display())));
    }
    if let Some(position) = token.iter().position(|byte| !byte.is_ascii_graphic()) {
        let start = bytes.len() - bytes.trim_ascii_start().len();
        return Err(Error::invalid(format!(
            "token file {}: byte {} is {:#04x}; a token is one line of visible ASCII (no spaces, line breaks or \
             other characters), since an Authorization header can carry nothing else",
            path.display(),
            start + position,
            token[position]
        )));
    }
    // Every byte is ASCII, checked just above.
    Ok(String::from_utf8_lossy(token).into())
}

fn warn_if_world_readable(path: &Path, file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = file.metadata()
        && metadata.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the token file is readable by every user: chmod 600 it"
        );
    }
}

/// Compares without an early exit, so timing does not reveal how much of a
/// guess was right. Only the length leaks, as it does everywhere.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer, constant_time_eq};

    #[test]
    fn equal_only_when_every_byte_matches() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
