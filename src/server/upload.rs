//! Byte uploads: `PUT /v1/items/{id}` and `POST /v1/items` with a body
//! that is not the JSON envelope.
//!
//! Owns the decision, made from the `Content-Type` header alone, between the
//! JSON envelope (`{"data": ..., "metadata": {...}}`) and raw bytes, and the
//! reading of a byte item's metadata from query parameters that mirror
//! `recstore put`'s flags. Validation of the metadata itself is the store's
//! (`Metadata::validate`), which runs before anything is written. The
//! contract is the README's HTTP API section.

use axum::http::{HeaderMap, StatusCode, header};

use super::error::{ApiError, ApiResult};
use super::guard;
use super::params::Params;
use crate::error::ErrorKind;
use crate::{Data, Metadata, NewItem};

/// Query parameters of a byte upload to `POST /v1/items`.
pub const POST_PARAMS: [&str; 6] = ["id", "type", "source", "tag", "parent", "meta"];
/// Query parameters of a byte upload to `PUT /v1/items/{id}`: the path names the id.
pub const PUT_PARAMS: [&str; 5] = ["type", "source", "tag", "parent", "meta"];

/// How a put's body is read, decided by its `Content-Type`.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// The JSON envelope, or on `POST` an array of them.
    Envelope,
    /// Raw bytes, stored with this media type exactly as the header gave it.
    Bytes(String),
}

impl BodyKind {
    /// `application/json` is the envelope. No `Content-Type`, and
    /// `application/x-www-form-urlencoded` (what `curl -d` and an HTML form
    /// send), are refused with 415: a browser sends those cross-site without
    /// asking first, so accepting them as the envelope let any web page
    /// write (see `guard.rs`). Every other type is a byte upload,
    /// `text/plain` and `+json` types included; `multipart/*` is refused,
    /// because the body would be the multipart framing rather than the file.
    pub fn of(headers: &HeaderMap) -> ApiResult<Self> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Err(guard::not_json(None));
        };
        let text =
            value.to_str().map_err(|_| ApiError::bad_request("the Content-Type header is not visible ASCII"))?.trim();
        let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Ok(Self::Envelope),
            "application/x-www-form-urlencoded" => Err(guard::not_json(Some(value))),
            multipart if multipart.starts_with("multipart/") => Err(ApiError::with_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorKind::InvalidInput,
                format!(
                    "Content-Type {text:?}: multipart bodies are not unpacked; send the file itself as the body \
                     with its own type (curl --data-binary @FILE -H 'Content-Type: image/png')"
                ),
            )),
            _ => Ok(Self::Bytes(text.to_string())),
        }
    }
}

/// Refuses query parameters on an envelope put: they would otherwise be
/// silently ignored, since the envelope carries its own metadata.
pub fn refuse_params_on_envelope(params: &Params) -> ApiResult<()> {
    match params.keys().next() {
        Some(key) => Err(ApiError::bad_request(format!(
            "unknown parameter {key:?}: query parameters set metadata only for byte uploads (a non-JSON \
             Content-Type); a JSON body carries its metadata in \"metadata\""
        ))),
        None => Ok(()),
    }
}

/// A byte item from an upload body and its query parameters (`known` lists
/// the parameters this route takes). Fails on unknown or repeated
/// single-valued parameters and on a `meta` that is not a JSON object.
pub fn byte_item(params: &Params, known: &[&str], content_type: String, body: Vec<u8>) -> ApiResult<NewItem> {
    params.only(known)?;
    let mut metadata = match params.single("meta")? {
        Some(text) => meta_object(text)?,
        None => Metadata::default(),
    };
    // As with `recstore put`, the named parameters win over fields in `meta`,
    // and tags and parents add to those `meta` lists.
    if let Some(id) = params.single("id")? {
        metadata.id = Some(id.to_string());
    }
    if let Some(item_type) = params.single("type")? {
        metadata.item_type = Some(item_type.to_string());
    }
    if let Some(source) = params.single("source")? {
        metadata.source_id = Some(source.to_string());
    }
    metadata.tags.extend(params.all("tag"));
    metadata.parents.extend(params.all("parent"));
    Ok(NewItem { data: Data::Bytes { bytes: body, content_type }, metadata })
}

/// Parses `meta=` as metadata fields.
fn meta_object(text: &str) -> ApiResult<Metadata> {
    let value: serde_json::Value = crate::store::parse_json(text.as_bytes()).map_err(|e| match e {
        crate::store::JsonInputError::Syntax(e) => ApiError::bad_request(format!("meta is not valid JSON: {e}")),
        refused => ApiError::bad_request(format!("meta: {refused}")),
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!("meta must be a JSON object of metadata fields, not {value}")));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("meta must be a JSON object of metadata fields: {e}")))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::BodyKind;

    fn kind(content_type: Option<&'static str>) -> Result<BodyKind, u16> {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        }
        BodyKind::of(&headers).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn content_type_decides_between_envelope_and_bytes() {
        assert_eq!(kind(None), Err(415));
        assert_eq!(kind(Some("application/json")), Ok(BodyKind::Envelope));
        assert_eq!(kind(Some("Application/JSON; charset=utf-8")), Ok(BodyKind::Envelope));
        assert_eq!(kind(Some("application/x-www-form-urlencoded")), Err(415));
        assert_eq!(kind(Some("image/png")), Ok(BodyKind::Bytes("image/png".into())));
        assert_eq!(kind(Some("text/plain; charset=utf-8")), Ok(BodyKind::Bytes("text/plain; charset=utf-8".into())));
        assert_eq!(kind(Some("application/geo+json")), Ok(BodyKind::Bytes("application/geo+json".into())));
        assert_eq!(kind(Some("multipart/form-data; boundary=x")), Err(415));
    }
}
