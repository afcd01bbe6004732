//! Cross-site and DNS-rebinding protection: which requests may reach a route
//! at all, decided from the `Origin`, `Host` and `Content-Type` headers.
//!
//! Owns the allowed origins and host names, and the rule that a JSON body
//! comes only with `Content-Type: application/json`. A browser sends
//! `Origin` on every cross-site write, cannot send a JSON content type
//! cross-site without a preflight, and after a DNS rebinding still sends the
//! attacker's name as `Host`; refusing on those three headers is what keeps
//! a web page from writing to a server on loopback with no token. Never
//! reads a body and never touches the store: a refusal writes nothing. The
//! threat model is the README's "Security" section.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use crate::error::ErrorKind;

/// Which `Origin` and `Host` values a request may carry.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    /// Origins a browser page may call from (`--allow-origin`), exactly as a
    /// browser sends them (`https://app.example:8443`); none by default.
    pub origins: Vec<String>,
    /// Host names beyond loopback and the listen address (`--allow-host`),
    /// compared without the port and case.
    pub hosts: Vec<String>,
    /// The address the server listens on.
    pub listen: Option<SocketAddr>,
}

/// Refuses a request with a foreign `Origin` or `Host` before any route,
/// and the token check, see it.
pub async fn refuse_foreign(State(allowed): State<Arc<Allowed>>, request: Request, next: Next) -> Response {
    if let Err(refusal) = check(&allowed, request.headers()) {
        return refusal.into_response();
    }
    next.run(request).await
}

fn check(allowed: &Allowed, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !allowed.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            return Err(forbidden(format!(
                "Origin {origin:?} is not allowed: a browser page may call recstore only from an origin given \
                 with --allow-origin (none by default)"
            )));
        }
    }
    if let Some(host) = headers.get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !host_allowed(allowed, host) {
            return Err(forbidden(format!(
                "Host {host:?} is neither a loopback name nor the listen address: give it with --allow-host \
                 (a foreign Host is what a DNS-rebinding page sends)"
            )));
        }
    }
    Ok(())
}

fn forbidden(message: String) -> ApiError {
    ApiError::with_status(StatusCode::FORBIDDEN, ErrorKind::Unauthorized, message)
}

/// An IP literal is always allowed when it is loopback or the listen
/// address, and any IP literal when listening on all addresses: DNS
/// rebinding needs a name, so an address in `Host` is never the attacker's.
/// Names must be `localhost` (or under it) or given with `--allow-host`.
fn host_allowed(allowed: &Allowed, host: &str) -> bool {
    let name = strip_port(host);
    if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return match allowed.listen {
            _ if ip.is_loopback() => true,
            Some(listen) => listen.ip().is_unspecified() || listen.ip() == ip,
            None => false,
        };
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || allowed.hosts.iter().any(|h| strip_port(h).trim_end_matches('.').eq_ignore_ascii_case(&name))
}

/// `name:port`, `[v6]:port`, `v6` or `name` without its port.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(v6, _)| &host[..=v6.len()]);
    }
    match host.rsplit_once(':') {
        // More than one colon: a bare IPv6 address, which has no port.
        Some((name, _)) if !name.contains(':') => name,
        _ => host,
    }
}

/// Refuses a body that is not declared JSON on a route that takes only
/// JSON (compaction, consumer commits, datasets), with 415. An empty body
/// without a type is allowed where the route has defaults (compaction).
pub fn require_json(headers: &HeaderMap, body_is_empty: bool) -> ApiResult<()> {
    match headers.get(header::CONTENT_TYPE) {
        None if body_is_empty => Ok(()),
        Some(value) if is_json(value) => Ok(()),
        value => Err(not_json(value)),
    }
}

/// Whether a `Content-Type` is `application/json` (parameters and case aside).
pub fn is_json(value: &HeaderValue) -> bool {
    value
        .to_str()
        .is_ok_and(|text| text.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json"))
}

/// The 415 for a JSON body sent without the JSON type.
pub fn not_json(value: Option<&HeaderValue>) -> ApiError {
    let given = match value {
        None => "no Content-Type".to_string(),
        Some(value) => format!("Content-Type {:?}", value.to_str().unwrap_or("(not ASCII)")),
    };
    ApiError::with_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::InvalidInput,
        format!(
            "{given}: a JSON body needs Content-Type: application/json (curl --json '{{...}}'); other types \
             are refused so that no web page can send one cross-site"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::{Allowed, host_allowed, strip_port};

    #[test]
    fn ports_are_stripped_from_names_and_addresses() {
        assert_eq!(strip_port("localhost:7070"), "localhost");
        assert_eq!(strip_port("[::1]:7070"), "[::1]");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("example.org"), "example.org");
    }

    #[test]
    fn loopback_and_listen_address_are_allowed_and_other_names_are_not() {
        let allowed =
            Allowed { listen: "127.0.0.1:7070".parse().ok(), hosts: vec!["store.lan".into()], ..Allowed::default() };
        for host in ["localhost:7070", "LOCALHOST", "127.0.0.1:7070", "[::1]:7070", "a.localhost", "store.lan:80"] {
            assert!(host_allowed(&allowed, host), "{host}");
        }
        for host in ["evil.example", "evil.example:7070", "10.0.0.1:7070", "localhost.evil.example"] {
            assert!(!host_allowed(&allowed, host), "{host}");
        }
        let everywhere = Allowed { listen: "0.0.0.0:7070".parse().ok(), ..Allowed::default() };
        assert!(host_allowed(&everywhere, "10.0.0.1:7070"), "an address is never a rebinding");
        assert!(!host_allowed(&everywhere, "rebind.evil.example:7070"));
    }
}
