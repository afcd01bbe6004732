//! Query-string and body parsing with errors that say which field is wrong.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult};

/// Query-string parameters, repeated keys kept (`tag=a&tag=b`).
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(raw: Option<String>) -> Self {
        Self(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    /// The value of `key`, refusing it given twice: every parameter but the
    /// repeatable ones (`tag`, `parent`, read with [`Params::all`]), where
    /// a second value could only be a mistake.
    pub fn single(&self, key: &str) -> ApiResult<Option<&str>> {
        let mut values = self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!("{key} is given more than once")));
        }
        Ok(first)
    }

    /// The parameter names, in order, repeats included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// `key` as a whole number, if present.
    pub fn number<T: std::str::FromStr>(&self, key: &str) -> ApiResult<Option<T>> {
        self.single(key)?
            .map(|v| {
                v.parse().map_err(|_| {
                    let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                    let what = if digits { "too large" } else { "not a whole number" };
                    ApiError::bad_request(format!("{key}={v:?} is {what}"))
                })
            })
            .transpose()
    }

    /// `key` as true/false, if present.
    pub fn flag(&self, key: &str) -> ApiResult<bool> {
        match self.single(key)? {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("{key}={other:?} must be true or false"))),
        }
    }

    /// `as_of` as a point in history: `@OFFSET` or an RFC 3339 time.
    pub fn as_of(&self) -> ApiResult<Option<crate::timetravel::AsOf>> {
        self.when("as_of")
    }

    /// `key` as `@OFFSET` or an RFC 3339 time, if present.
    pub fn when(&self, key: &str) -> ApiResult<Option<crate::timetravel::AsOf>> {
        self.single(key)?.map(|v| v.parse().map_err(ApiError::from)).transpose()
    }

    /// `version` and `as_of`, refusing any other parameter: the query of
    /// every read of one versioned thing (an item, its metadata, a dataset).
    pub fn version_as_of(&self) -> ApiResult<(Option<u32>, Option<crate::timetravel::AsOf>)> {
        self.only(&["version", "as_of"])?;
        Ok((self.number("version")?, self.as_of()?))
    }

    /// Refuses parameters this endpoint does not know, naming them.
    pub fn only(&self, known: &[&str]) -> ApiResult<()> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((key, _)) => {
                Err(ApiError::bad_request(format!("unknown parameter {key:?}; known: {}", known.join(", "))))
            }
            None => Ok(()),
        }
    }
}

/// The whole body, turning a body over the limit into 413 and any other
/// failure to read it into 400.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("request body over the limit: {rejection}"))
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })
}

/// Parses a JSON body, turning size and syntax problems into 413 and 400.
/// Numbers and depth follow the rules of [`crate::store::parse_json`].
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> ApiResult<T> {
    let bytes = body_bytes(body)?;
    crate::store::from_document(&bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// A path segment, like axum's `Path`, whose rejection (invalid UTF-8 after
/// percent-decoding, say) is the JSON error every other bad input gets
/// rather than axum's plain-text body.
pub struct PathParam(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> ApiResult<Self> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(segment)) => Ok(Self(segment)),
            Err(rejection) => Err(ApiError::bad_request(format!("path: {}", rejection.body_text()))),
        }
    }
}
