//! The metadata fields the views index (type, source, tags, parents), read
//! from a put's metadata JSON.
//!
//! A replay reads them from every put. Most metadata holds nothing but
//! these fields, as compact JSON with plain strings, and for that shape a
//! direct scan returns the same fields as serde in a fraction of the time.
//! Anything else (other fields, whitespace, escapes, `null`, a repeated
//! field) goes to serde, so both paths accept and reject the same inputs.

use std::borrow::Cow;

use serde::Deserialize;

/// The metadata fields the indices need, borrowed where the JSON allows.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub struct IndexedFields<'a> {
    /// `type`.
    #[serde(rename = "type", borrow, default)]
    pub item_type: Option<Cow<'a, str>>,
    /// `source_id`.
    #[serde(borrow, default)]
    pub source_id: Option<Cow<'a, str>>,
    /// `tags`.
    #[serde(borrow, default)]
    pub tags: Vec<Cow<'a, str>>,
    /// `parents`, as `id` or `id@version`.
    #[serde(borrow, default)]
    pub parents: Vec<Cow<'a, str>>,
}

impl<'a> IndexedFields<'a> {
    /// The fields of `metadata_json`; an error if it is not a JSON object
    /// whose indexed fields have the right types.
    pub fn parse(metadata_json: &'a [u8]) -> Result<Self, String> {
        if let Some(fields) = scan(metadata_json) {
            return Ok(fields);
        }
        serde_json::from_slice(metadata_json).map_err(|e| format!("metadata of put: {e}"))
    }
}

impl<'a> IndexedFields<'a> {
    /// The fields of metadata that holds nothing else, in compact JSON with
    /// plain strings (what the store writes for such metadata); `None` for
    /// any other shape, whose other fields the caller then needs serde for.
    pub fn parse_plain(metadata_json: &'a [u8]) -> Option<Self> {
        scan(metadata_json)
    }

    /// The same fields, owning their strings: for metadata that a put
    /// stored compressed, which lives no longer than its decoded record.
    pub fn into_owned(self) -> IndexedFields<'static> {
        let own = |text: Cow<'a, str>| Cow::Owned(text.into_owned());
        IndexedFields {
            item_type: self.item_type.map(own),
            source_id: self.source_id.map(own),
            tags: self.tags.into_iter().map(own).collect(),
            parents: self.parents.into_iter().map(own).collect(),
        }
    }
}

/// The fast path: `None` unless the JSON is an object of only the four
/// fields, without whitespace, each at most once, with plain strings.
fn scan(json: &[u8]) -> Option<IndexedFields<'_>> {
    // One check of the whole text instead of one per string: strings end
    // at ASCII quotes, so every slice of it between them is UTF-8 too.
    let mut cursor = Cursor { json: std::str::from_utf8(json).ok()?, position: 0 };
    let mut fields = IndexedFields::default();
    let mut seen = [false; 4];
    cursor.expect(b'{')?;
    if cursor.peek()? != b'}' {
        loop {
            let field = match cursor.string()? {
                "type" => 0,
                "source_id" => 1,
                "tags" => 2,
                "parents" => 3,
                _ => return None,
            };
            if std::mem::replace(&mut seen[field], true) {
                return None;
            }
            cursor.expect(b':')?;
            match field {
                0 => fields.item_type = Some(Cow::Borrowed(cursor.string()?)),
                1 => fields.source_id = Some(Cow::Borrowed(cursor.string()?)),
                2 => fields.tags = cursor.strings()?,
                _ => fields.parents = cursor.strings()?,
            }
            if cursor.peek()? != b',' {
                break;
            }
            cursor.position += 1;
        }
    }
    cursor.expect(b'}')?;
    (cursor.position == json.len()).then_some(fields)
}

struct Cursor<'a> {
    json: &'a str,
    position: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.json.as_bytes().get(self.position).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.position += 1)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let rest = &self.json[self.position..];
        let length = rest.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.as_bytes()[length] != b'"' {
            return None;
        }
        self.position += length + 1;
        Some(&rest[..length])
    }

    /// An array of such strings.
    fn strings(&mut self) -> Option<Vec<Cow<'a, str>>> {
        self.expect(b'[')?;
        let mut strings = Vec::new();
        if self.peek()? != b']' {
            loop {
                strings.push(Cow::Borrowed(self.string()?));
                if self.peek()? != b',' {
                    break;
                }
                self.position += 1;
            }
        }
        self.expect(b']')?;
        Some(strings)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn serde(json: &str) -> Result<IndexedFields<'_>, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn the_scan_reads_compact_metadata_and_declines_the_rest() {
        let plain = r#"{"parents":["a@1","b"],"source_id":"s","tags":["x","y"],"type":"t"}"#;
        assert_eq!(scan(plain.as_bytes()), serde(plain).ok());
        assert_eq!(scan(b"{}"), Some(IndexedFields::default()));
        for declined in [
            r#"{"type":"t","pipeline":"v3"}"#,
            r#"{"type": "t"}"#,
            r#"{"type":"a\"b"}"#,
            r#"{"type":null}"#,
            r#"{"type":"t","type":"u"}"#,
            r#"{"tags":"x"}"#,
            r#"{"type":"t"} "#,
            r#"{"type":"t",}"#,
        ] {
            assert_eq!(scan(declined.as_bytes()), None, "{declined}");
        }
    }

    proptest! {
        /// Whatever the scan accepts, serde reads the same way.
        #[test]
        fn the_scan_agrees_with_serde(json in r#"\{("(type|source_id|tags|parents|x)":("[a-z@1\\ ]{0,4}"|\[("[a-z]{0,3}",?){0,3}\]|null),?){0,5}\}"#) {
            if let Some(fields) = scan(json.as_bytes()) {
                prop_assert_eq!(Ok(fields), serde(&json));
            }
        }
    }
}
