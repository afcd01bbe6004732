//! Item envelopes must be JSON objects.
//!
//! serde's derived structs also accept an array of their fields in order,
//! so `[{"data": 1}, {"data": 2}]`, meant as two items, would read as one
//! item whose data is the first object and whose metadata is the second.
//! [`ObjectOnly`] refuses every form but an object.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// A `T` that was written as a JSON object.
#[derive(Debug)]
pub(crate) struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData)).map(ObjectOnly)
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectOnly;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Pair {
        data: u32,
        #[serde(default)]
        extra: u32,
    }

    #[test]
    fn an_object_reads_as_the_struct() {
        let ObjectOnly(pair) = serde_json::from_str::<ObjectOnly<Pair>>(r#"{"data": 1, "extra": 2}"#).expect("object");
        assert_eq!(pair, Pair { data: 1, extra: 2 });
    }

    #[test]
    fn an_array_of_the_fields_is_refused() {
        assert!(serde_json::from_str::<Pair>("[1, 2]").is_ok(), "serde's derive takes the array form");
        let error = serde_json::from_str::<ObjectOnly<Pair>>("[1, 2]").expect_err("array form refused");
        assert!(error.to_string().contains("expected a JSON object"), "{error}");
    }
}
