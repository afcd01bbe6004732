//! Regression tests for issue 21 and issue 22 items 3-5, through the library.
//!
//! What broke: serde_json parsed decimals with a fast algorithm that is off
//! by one unit in the last place for some inputs, so `7.8100000000000005`
//! came back as `7.81`; `-0` came back as the float `-0.0`; an integer
//! beyond 64 bits was rounded to a double in silence; `put` stored JSON
//! nested 128 deep as bytes while import and HTTP refused it; tags in a
//! different order made a new version; a whitespace-only id was accepted.
//! Every double is now compared by its bits, never with `==` after a parse.

mod common;
mod fidelity_support;

use fidelity_support::{double, fidelity_document, nested_arrays, same_bits};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use recstore::{Data, ErrorKind, Metadata, Store, StoreOptions};
use serde_json::Value;

use common::TestResult;

fn finite_double() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO, prop::sample::select(fidelity_support::edge_doubles()),]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => finite_double().prop_map(double),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => prop::sample::select(fidelity_support::edge_integers()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn open() -> Result<(tempfile::TempDir, Store), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    Ok((dir, store))
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// One value through the JSON text entry point, put (as data, as a custom
/// metadata field and as a dataset's info) and get.
fn round_trip(store: &Store, case: usize, value: &Value) -> Result<(), TestCaseError> {
    let text = serde_json::to_vec(value).map_err(fail)?;
    let Data::Json(parsed) = Data::from_json_slice(&text).map_err(fail)? else {
        return Err(fail("from_json_slice gave bytes"));
    };
    same_bits(value, &parsed).map_err(|e| fail(format!("parse: {e}")))?;
    let id = format!("item-{case}");
    let mut metadata = Metadata { id: Some(id.clone()), ..Metadata::default() };
    metadata.extra.insert("custom".into(), value.clone());
    store.put(Data::Json(parsed), metadata).map_err(fail)?;
    let got = store.get(&id).map_err(fail)?.json().map_err(fail)?;
    same_bits(value, &got).map_err(|e| fail(format!("get: {e}")))?;
    let meta = store.metadata(&id, None).map_err(fail)?;
    let custom = meta.metadata.extra.get("custom").ok_or_else(|| fail("custom field missing"))?;
    same_bits(value, custom).map_err(|e| fail(format!("metadata: {e}")))?;
    let name = format!("set-{case}");
    store.put_dataset(&name, Vec::new(), value.clone()).map_err(fail)?;
    let info = store.dataset_json(&name, None, false).map_err(fail)?;
    same_bits(value, &info["info"]).map_err(|e| fail(format!("dataset info: {e}")))
}

#[test]
fn arbitrary_doubles_and_integers_round_trip_bit_for_bit() -> TestResult {
    let (_dir, store) = open()?;
    let mut runner = TestRunner::new(Config { cases: 128, ..Config::default() });
    let case = std::sync::atomic::AtomicUsize::new(1);
    runner
        .run(&json_value(), |value| round_trip(&store, case.fetch_add(1, std::sync::atomic::Ordering::Relaxed), &value))
        .map_err(|e| e.to_string())?;
    round_trip(&store, 0, &fidelity_document(2000)).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn the_issue_example_and_minus_zero_come_back_as_written() -> TestResult {
    let (_dir, store) = open()?;
    let data = Data::from_json_slice(br#"{"x": 7.8100000000000005, "y": 0.30000000000000004, "z": [-0], "w": -0.0}"#)?;
    store.put(data, Metadata { id: Some("f".into()), ..Metadata::default() })?;
    let item = store.get("f")?;
    assert_eq!(
        String::from_utf8(item.bytes.clone())?,
        r#"{"w":-0.0,"x":7.8100000000000005,"y":0.30000000000000004,"z":[0]}"#
    );
    Ok(())
}

#[test]
fn an_integer_beyond_64_bits_is_refused_naming_it_and_its_path() -> TestResult {
    let error = Data::from_json_slice(br#"{"a": [0, 1, 2, {"b": 123456789012345678901234567890}]}"#)
        .expect_err("an integer beyond u64 is refused");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    let text = error.to_string();
    assert!(text.contains("123456789012345678901234567890") && text.contains("$.a[3].b"), "{text}");
    Ok(())
}

#[test]
fn data_info_and_metadata_nested_past_the_limit_are_refused_and_at_it_stored() -> TestResult {
    let (_dir, store) = open()?;
    let limit = recstore::limits::JSON_DEPTH_MAX;
    let at_limit: Value = serde_json::from_str(&nested_arrays(limit))?;
    let too_deep = Value::Array(vec![at_limit.clone()]);
    store.put(Data::Json(at_limit.clone()), Metadata { id: Some("deep".into()), ..Metadata::default() })?;
    assert_eq!(store.get("deep")?.json()?, at_limit, "data at the limit is stored and read back");
    let error = store.put(Data::Json(too_deep.clone()), Metadata::default()).expect_err("data too deep");
    assert!(error.to_string().contains(&format!("{limit} levels")), "{error}");
    let mut metadata = Metadata::default();
    metadata.extra.insert("deep".into(), too_deep.clone());
    let error = store.put(Data::Json(Value::from(1)), metadata).expect_err("a metadata value too deep");
    assert!(error.to_string().contains("\"deep\""), "the error names the field: {error}");
    let error = store.put_dataset("d", Vec::new(), too_deep).expect_err("info too deep");
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    Ok(())
}

#[test]
fn tags_in_another_order_or_repeated_make_no_new_version() -> TestResult {
    let (_dir, store) = open()?;
    let tagged = |tags: &[&str]| Metadata {
        id: Some("t".into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Metadata::default()
    };
    let first = store.put(Data::Json(Value::from(1)), tagged(&["b", "a", "b"]))?;
    let again = store.put(Data::Json(Value::from(1)), tagged(&["a", "b"]))?;
    assert_eq!((again.version, again.created), (first.version, false));
    assert_eq!(store.metadata("t", None)?.metadata.tags, ["a", "b"], "stored sorted, without repeats");
    let changed = store.put(Data::Json(Value::from(1)), tagged(&["a"]))?;
    assert_eq!((changed.version, changed.created), (2, true), "a different set of tags is a new version");
    Ok(())
}

#[test]
fn a_whitespace_only_id_is_refused_like_an_empty_one() -> TestResult {
    let (_dir, store) = open()?;
    for id in ["", " ", "\t", "\u{a0}\u{2003}"] {
        let error = store
            .put(Data::Json(Value::from(1)), Metadata { id: Some(id.into()), ..Metadata::default() })
            .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{id:?}: {error}");
    }
    store.put(Data::Json(Value::from(1)), Metadata { id: Some(" padded ".into()), ..Metadata::default() })?;
    Ok(())
}
