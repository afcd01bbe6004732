//! Bearer-token authentication: every route but `/healthz` and
//! `/v1/openapi.json` needs the token when the server was started with
//! `--token-file`.
//!
//! Owns reading and checking the token file (size, characters, permissions)
//! and the tokens in force (any one of the file's lines), which SIGHUP
//! replaces by re-reading the file, so that a token can be rotated without
//! a restart and with an overlap: old and new are both accepted while
//! clients move. Never logs a token.

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
use crate::limits::{TOKEN_FILE_SIZE_BYTES_MAX, TOKEN_FILE_TOKENS_MAX};

/// The tokens a request may present, any one of them.
pub type Tokens = Arc<[Box<str>]>;

/// The tokens in force, or none when the server runs without a token file;
/// replaced on SIGHUP.
pub type TokenCell = Arc<RwLock<Option<Tokens>>>;

/// Routes anyone may call: liveness, and the API's description.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/v1/openapi.json"];

/// Rejects requests without the right token.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let tokens = match state.token.read() {
        Ok(tokens) => tokens.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let Some(tokens) = tokens else { return next.run(request).await };
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let presented = request.headers().get(AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(bearer);
    if matches_any(presented.unwrap_or("").as_bytes(), &tokens) {
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
/// bytes, holding one to `TOKEN_FILE_TOKENS_MAX` tokens, one a line, each
/// of visible ASCII (surrounding whitespace trimmed), since a header could
/// never carry anything else and such a token could never match. Blank
/// lines and lines starting with `#` are passed over. Every token is
/// accepted, so a rotation can overlap: the new token is added, clients
/// move to it, then the old one is removed. Warns when others may read it.
pub fn read_token_file(path: &Path) -> Result<Tokens> {
    let io = |source| Error::Io { context: format!("reading token file {}", path.display()), source };
    let file = std::fs::File::open(path).map_err(io)?;
    warn_if_world_readable(path, &file);
    let mut bytes = Vec::new();
    file.take(TOKEN_FILE_SIZE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > TOKEN_FILE_SIZE_BYTES_MAX {
        let message = format!("token file {} is over {TOKEN_FILE_SIZE_BYTES_MAX} bytes", path.display());
        return Err(Error::invalid(message));
    }
    let mut tokens: Vec<Box<str>> = Vec::new();
    let mut line_start = 0;
    for (line_index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
        if let Some(token) = token_of_line(path, line, line_index + 1, line_start)? {
            tokens.push(token);
        }
        line_start += line.len() + 1;
    }
    if tokens.is_empty() {
        return Err(Error::invalid(format!("token file {} holds no token", path.display())));
    }
    if tokens.len() > TOKEN_FILE_TOKENS_MAX {
        return Err(Error::invalid(format!(
            "token file {} holds {} tokens, over the maximum of {TOKEN_FILE_TOKENS_MAX}",
            path.display(),
            tokens.len()
        )));
    }
    Ok(tokens.into())
}

/// The token on one line of a token file (`line_number` counts from 1;
/// `line_start` is the line's first byte in the file), or `None` for a
/// blank or `#` comment line.
fn token_of_line(path: &Path, line: &[u8], line_number: usize, line_start: usize) -> Result<Option<Box<str>>> {
    let token = line.trim_ascii();
    if token.is_empty() || token.starts_with(b"#") {
        return Ok(None);
    }
    if let Some(position) = token.iter().position(|byte| !byte.is_ascii_graphic()) {
        let leading = line.len() - line.trim_ascii_start().len();
        return Err(Error::invalid(format!(
            "token file {} line {line_number}: byte {} is {:#04x}; a token is one line of visible ASCII (no spaces \
             or other characters), since an Authorization header can carry nothing else",
            path.display(),
            line_start + leading + position,
            token[position]
        )));
    }
    // Every byte is ASCII, checked just above.
    Ok(Some(String::from_utf8_lossy(token).into()))
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

/// Whether `presented` is one of `tokens`, comparing with every one of
/// them, so that timing does not reveal which one matched.
fn matches_any(presented: &[u8], tokens: &[Box<str>]) -> bool {
    tokens.iter().fold(false, |found, token| constant_time_eq(presented, token.as_bytes()) | found)
}

/// Compares without an early exit, so timing does not reveal how much of a
/// guess was right. Only the length leaks, as it does everywhere.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer, constant_time_eq, matches_any};

    #[test]
    fn equal_only_when_every_byte_matches() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn any_token_in_force_matches() {
        let tokens: Vec<Box<str>> = vec!["old".into(), "new".into()];
        assert!(matches_any(b"old", &tokens));
        assert!(matches_any(b"new", &tokens));
        assert!(!matches_any(b"neW", &tokens));
        assert!(!matches_any(b"", &tokens));
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
