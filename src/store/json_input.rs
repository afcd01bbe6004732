//! JSON input: the one rule by which bytes a caller gives become item data
//! and metadata values.
//!
//! Owns the parsing of JSON text from outside (CLI `put`, `import`,
//! `dataset put`, `--meta`, `--info`, HTTP bodies, the Python binding) and
//! the checks every stored JSON value passes, whichever path it came by:
//! nesting at most [`JSON_DEPTH_MAX`] levels deep, and numbers that keep
//! their exact value. Every finite double comes back bit for bit (serde_json's
//! `float_roundtrip` parser, and its shortest round-trip printer); integers
//! stay integers across the i64 and u64 ranges; `-0` is the integer 0, not
//! the float `-0.0`; an integer literal outside both ranges is refused with
//! its JSON path rather than rounded to a double. It never parses stored
//! records: they were checked when they were written.

use serde_json::{Number, Value};

use crate::error::Error;
use crate::limits::JSON_DEPTH_MAX;
use crate::store::item::{Data, Metadata};

/// Why JSON input was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonInputError {
    /// The bytes are not JSON, or not JSON of the expected shape.
    #[error("{0}")]
    Syntax(#[source] serde_json::Error),
    /// Arrays and objects nest deeper than [`JSON_DEPTH_MAX`].
    #[error(
        "JSON nested more than {depth_max} levels deep (at {at}); recstore stores JSON nested at most {depth_max} levels"
    )]
    TooDeep {
        /// The limit, [`JSON_DEPTH_MAX`].
        depth_max: usize,
        /// Where the limit was crossed: a JSON path, or a line and column.
        at: String,
    },
    /// An integer literal that fits neither i64 nor u64.
    #[error(
        "the integer {literal} at {path} is outside the 64-bit range (-2^63 to 2^64-1) and would be rounded; \
         write it as a string, or with a decimal point or exponent to store the nearest double"
    )]
    IntegerOutOfRange {
        /// The literal as written.
        literal: String,
        /// Its JSON path, e.g. `$.a[3].b`.
        path: String,
    },
}

impl From<JsonInputError> for Error {
    fn from(error: JsonInputError) -> Self {
        Error::invalid(error.to_string())
    }
}

/// Parses JSON text under recstore's rules: the entry point for any JSON a
/// caller gives as data or as a metadata value.
///
/// ```
/// let value = recstore::store::parse_json(br#"{"x": 7.8100000000000005, "n": -0}"#)?;
/// assert_eq!(value["x"].as_f64().map(f64::to_bits), Some(7.8100000000000005f64.to_bits()));
/// assert_eq!(value["n"].as_i64(), Some(0));
/// assert!(recstore::store::parse_json(b"[123456789012345678901234567890]").is_err());
/// # Ok::<(), recstore::store::JsonInputError>(())
/// ```
pub fn parse_json(bytes: &[u8]) -> Result<Value, JsonInputError> {
    let value = parse_document(bytes)?;
    check_depth(&value)?;
    Ok(value)
}

impl Data {
    /// JSON data from JSON text, under the rules of [`parse_json`]. The
    /// error is `invalid_input` and says what and where.
    pub fn from_json_slice(bytes: &[u8]) -> crate::Result<Data> {
        Ok(Data::Json(parse_json(bytes)?))
    }
}

impl Metadata {
    /// Metadata from a JSON object of its fields, under the rules of
    /// [`parse_json`] (custom fields keep every number exactly).
    pub fn from_json_slice(bytes: &[u8]) -> crate::Result<Metadata> {
        let value = parse_json(bytes)?;
        if !value.is_object() {
            return Err(Error::invalid(format!("metadata must be a JSON object of fields, not {value}")));
        }
        serde_json::from_value(value).map_err(|e| Error::invalid(format!("metadata: {e}")))
    }
}

/// Parses a whole document (an envelope around data, such as an import
/// line or an HTTP body) with the number rules; the depth of the values in
/// it is checked by the store when they are written.
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Value, JsonInputError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(syntax_or_depth)?;
    // Only `-0` and an integer literal beyond 64 bits parse to these floats,
    // so the text is looked at again only when one is present.
    if has_suspect_float(&value) {
        fix_integer_literals(bytes, &mut value)?;
    }
    Ok(value)
}

/// Deserializes a document (an import line, an HTTP body) straight into
/// `T`, as fast as serde_json goes, unless its text may hold `-0` or an
/// integer beyond 64 bits: then through [`parse_document`], which keeps the
/// one and refuses the other. The depth of the values in it is checked by
/// the store when they are written.
pub(crate) fn from_document<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonInputError> {
    if !may_hold_odd_integer(bytes) {
        return serde_json::from_slice(bytes).map_err(syntax_or_depth);
    }
    serde_json::from_value(parse_document(bytes)?).map_err(JsonInputError::Syntax)
}

/// Whether the text has `-0` not followed by a fraction or exponent, or a
/// run of digits as long as an integer beyond 64 bits: 20 (past u64), or
/// 19 after a minus sign (past i64). A string that looks so only costs the
/// slower parse.
fn may_hold_odd_integer(bytes: &[u8]) -> bool {
    let mut digit_run = 0;
    let mut negative = false;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_digit() {
            digit_run += 1;
            if digit_run >= 20 || (negative && digit_run >= 19) {
                return true;
            }
            continue;
        }
        digit_run = 0;
        negative = byte == b'-';
        let after = |n: usize| bytes.get(i + n).copied().unwrap_or(b' ');
        if byte == b'-' && after(1) == b'0' && !matches!(after(2), b'0'..=b'9' | b'.' | b'e' | b'E') {
            return true;
        }
    }
    false
}

/// serde_json stops at 128 nested levels to bound its recursion; that is a
/// depth error, reported as one, not a syntax error.
fn syntax_or_depth(error: serde_json::Error) -> JsonInputError {
    if error.to_string().starts_with("recursion limit exceeded") {
        let at = format!("line {} column {}", error.line(), error.column());
        return JsonInputError::TooDeep { depth_max: JSON_DEPTH_MAX, at };
    }
    JsonInputError::Syntax(error)
}

/// Refuses a value whose arrays and objects nest deeper than [`JSON_DEPTH_MAX`].
/// Stops descending at the limit, so a value built in Rust to any depth is
/// checked in bounded stack.
pub(crate) fn check_depth(value: &Value) -> Result<(), JsonInputError> {
    match first_too_deep(value, JSON_DEPTH_MAX) {
        None => Ok(()),
        Some(mut reversed) => {
            reversed.reverse();
            Err(JsonInputError::TooDeep { depth_max: JSON_DEPTH_MAX, at: display_path(&reversed) })
        }
    }
}

/// The path (innermost first) to a container nested below `levels_left`.
fn first_too_deep(value: &Value, levels_left: usize) -> Option<Vec<Segment>> {
    let descend = |segment: Segment, child: &Value| {
        let mut path = first_too_deep(child, levels_left - 1)?;
        path.push(segment);
        Some(path)
    };
    match value {
        Value::Array(_) | Value::Object(_) if levels_left == 0 => Some(Vec::new()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, child)| descend(Segment::Index(i), child)),
        Value::Object(fields) => fields.iter().find_map(|(key, child)| descend(Segment::Key(key.clone()), child)),
        _ => None,
    }
}

fn has_suspect_float(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.as_f64().is_some_and(|f| number.is_f64() && is_suspect(f)),
        Value::Array(items) => items.iter().any(has_suspect_float),
        Value::Object(fields) => fields.values().any(has_suspect_float),
        _ => false,
    }
}

/// `-0.0`, or an integral double at least 2^63 in magnitude.
fn is_suspect(f: f64) -> bool {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    (f == 0.0 && f.is_sign_negative()) || (f.fract() == 0.0 && f.abs() >= TWO_POW_63)
}

/// One step of a JSON path.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `$`, then `.key`, `["odd key"]` or `[index]` for each step.
fn display_path(path: &[Segment]) -> String {
    let mut text = String::from("$");
    for segment in path {
        match segment {
            Segment::Index(i) => text.push_str(&format!("[{i}]")),
            Segment::Key(key) if is_identifier(key) => text.push_str(&format!(".{key}")),
            Segment::Key(key) => text.push_str(&format!("[{}]", Value::String(key.clone()))),
        }
    }
    text
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// RFC 6901 pointer of a path, for `Value::pointer_mut`.
fn pointer(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        text.push('/');
        match segment {
            Segment::Index(i) => text.push_str(&i.to_string()),
            Segment::Key(key) => text.push_str(&key.replace('~', "~0").replace('/', "~1")),
        }
    }
    text
}

/// Where the scan of the text stands inside one array or object.
enum Frame {
    Array { index: usize },
    Object { key: Option<String>, expect_key: bool },
}

/// Walks the (already valid) text's number literals with their paths:
/// `-0` becomes the integer 0 in `value`, and an integer literal outside
/// i64 and u64 is refused.
fn fix_integer_literals(bytes: &[u8], value: &mut Value) -> Result<(), JsonInputError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Frame::Object { key: None, expect_key: true }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => drop(stack.pop()),
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                None => {}
            },
            b'"' => {
                let end = string_end(bytes, i);
                if let Some(Frame::Object { key, expect_key: expect_key @ true }) = stack.last_mut() {
                    *key = serde_json::from_slice::<String>(&bytes[i..end]).ok();
                    *expect_key = false;
                }
                i = end;
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, i);
                check_literal(&bytes[i..end], &stack, value)?;
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn check_literal(literal: &[u8], stack: &[Frame], value: &mut Value) -> Result<(), JsonInputError> {
    if literal.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return Ok(());
    }
    let literal = String::from_utf8_lossy(literal);
    let path: Vec<Segment> = stack
        .iter()
        .map(|frame| match frame {
            Frame::Array { index } => Segment::Index(*index),
            Frame::Object { key, .. } => Segment::Key(key.clone().unwrap_or_default()),
        })
        .collect();
    if literal == "-0" {
        if let Some(slot) = value.pointer_mut(&pointer(&path))
            && slot.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative())
        {
            *slot = Value::Number(Number::from(0u64));
        }
        return Ok(());
    }
    if literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
        return Err(JsonInputError::IntegerOutOfRange { literal: literal.into_owned(), path: display_path(&path) });
    }
    Ok(())
}

/// The position just past the string that starts at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The position just past the number that starts at `start`.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let length =
        bytes[start..].iter().take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')).count();
    start + length
}

#[cfg(test)]
#[path = "json_input_tests.rs"]
mod tests;
