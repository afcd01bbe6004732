//! The free text of one item version: the string values of its JSON data
//! and of its extra metadata, in document order, one per line.
//!
//! Owns what counts as text (strings only: keys, numbers and literals are
//! left out) and its size bound, [`SEARCH_TEXT_SIZE_BYTES_MAX`].

use crate::limits::SEARCH_TEXT_SIZE_BYTES_MAX;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Appends the string values of compact JSON `data` to `out`, parsing it
/// without building a `serde_json::Value`.
pub(crate) fn collect_json_strings(data: &[u8], out: &mut String) -> Result<(), serde_json::Error> {
    (Strings { out }).deserialize(&mut serde_json::Deserializer::from_slice(data))
}

/// Appends every string in a JSON value, depth first.
pub(crate) fn collect_value_strings(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(text) => push_text(out, text),
        serde_json::Value::Array(values) => values.iter().for_each(|v| collect_value_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_value_strings(v, out)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

fn push_text(out: &mut String, text: &str) {
    if out.len() >= SEARCH_TEXT_SIZE_BYTES_MAX {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(text);
}

pub(crate) fn truncate_at_char_boundary(text: &mut String, size_bytes_max: usize) {
    if text.len() > size_bytes_max {
        let mut end = size_bytes_max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// Collects the string values of JSON while it is parsed, without building
/// a `serde_json::Value`: keys, numbers and literals are skipped.
struct Strings<'a> {
    out: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for Strings<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strings<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        push_text(self.out, text);
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strings { out: &mut *self.out })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Strings { out: &mut *self.out })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_collected_from_nested_json_without_keys_or_numbers() -> Result<(), serde_json::Error> {
        let json = br#"{"a":"alpha","n":3,"list":["beta",{"deep":"gamma","x":null}],"t":true}"#;
        let mut out = String::new();
        (Strings { out: &mut out }).deserialize(&mut serde_json::Deserializer::from_slice(json))?;
        assert_eq!(out, "alpha\nbeta\ngamma");
        Ok(())
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let mut text = "é".repeat(10);
        truncate_at_char_boundary(&mut text, 5);
        assert_eq!(text, "éé");
    }
}
