use serde_json::Value;

use super::{JsonInputError, parse_json};
use crate::limits::JSON_DEPTH_MAX;

fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn doubles_that_a_fast_parser_rounds_keep_their_bits() -> Result<(), JsonInputError> {
    let value = parse_json(br#"{"x": 7.8100000000000005, "y": 0.30000000000000004, "z": 5e-324}"#)?;
    assert_eq!(value["x"].as_f64().map(f64::to_bits), Some(7.8100000000000005f64.to_bits()));
    assert_eq!(value["y"].as_f64().map(f64::to_bits), Some((0.1f64 + 0.2).to_bits()));
    assert_eq!(value["z"].as_f64().map(f64::to_bits), Some(f64::from_bits(1).to_bits()));
    Ok(())
}

#[test]
fn minus_zero_is_the_integer_zero_and_minus_zero_point_zero_stays_a_float() -> Result<(), JsonInputError> {
    let value = parse_json(br#"{"a": [-0, 1, {"b": -0}], "c": -0.0, "d": -0e0}"#)?;
    assert_eq!(serde_json::to_string(&value).ok().as_deref(), Some(r#"{"a":[0,1,{"b":0}],"c":-0.0,"d":-0.0}"#));
    assert_eq!(parse_json(b"-0")?, Value::from(0u64));
    Ok(())
}

#[test]
fn integers_at_the_edges_of_i64_and_u64_stay_exact() -> Result<(), JsonInputError> {
    let value = parse_json(b"[-9223372036854775808, 9223372036854775807, 18446744073709551615]")?;
    assert_eq!(value[0].as_i64(), Some(i64::MIN));
    assert_eq!(value[1].as_i64(), Some(i64::MAX));
    assert_eq!(value[2].as_u64(), Some(u64::MAX));
    Ok(())
}

#[test]
fn an_integer_beyond_64_bits_is_refused_with_its_path() {
    let error = parse_json(br#"{"a": [1, 2, 3, {"b": 18446744073709551616}]}"#).expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("18446744073709551616") && text.contains("$.a[3].b"), "{text}");
    let error = parse_json(br#"{"odd key": -9223372036854775809}"#).expect_err("refused");
    assert!(error.to_string().contains(r#"$["odd key"]"#), "{error}");
}

#[test]
fn a_large_double_written_as_one_is_kept() -> Result<(), JsonInputError> {
    let value = parse_json(b"[1e19, 18446744073709551616.0, -1E300]")?;
    assert_eq!(value[0].as_f64(), Some(1e19));
    assert_eq!(value[1].as_f64(), Some(18446744073709551616.0));
    assert_eq!(value[2].as_f64(), Some(-1e300));
    Ok(())
}

#[test]
fn strings_that_look_like_numbers_are_not_numbers() -> Result<(), JsonInputError> {
    let value = parse_json(br#"{"k\"-0": "-0 99999999999999999999", "n": -0}"#)?;
    assert_eq!(value["k\"-0"], Value::from("-0 99999999999999999999"));
    assert_eq!(value["n"], Value::from(0u64));
    Ok(())
}

#[test]
fn depth_up_to_the_limit_is_accepted_and_beyond_it_refused() {
    assert!(parse_json(nested(JSON_DEPTH_MAX).as_bytes()).is_ok());
    let error = parse_json(nested(JSON_DEPTH_MAX + 1).as_bytes()).expect_err("too deep");
    assert!(matches!(error, JsonInputError::TooDeep { .. }), "{error}");
    assert!(error.to_string().contains(&format!("{JSON_DEPTH_MAX} levels")), "{error}");
}

#[test]
fn depth_beyond_the_parsers_limit_is_a_depth_error_not_a_syntax_error() {
    let error = parse_json(nested(100_000).as_bytes()).expect_err("too deep");
    assert!(matches!(error, JsonInputError::TooDeep { .. }), "{error}");
}

#[test]
fn not_json_is_a_syntax_error() {
    assert!(matches!(parse_json(b"{nope"), Err(JsonInputError::Syntax(_))));
}

#[test]
fn an_envelope_gets_the_number_rules_only_where_its_text_may_need_them() -> Result<(), JsonInputError> {
    #[derive(Debug, serde::Deserialize)]
    struct Envelope {
        data: Value,
    }
    let fast: Envelope = super::from_document(br#"{"data": [1234567890123456789, -123456789012345678]}"#)?;
    assert_eq!(fast.data, serde_json::json!([1234567890123456789u64, -123456789012345678i64]));
    let fixed: Envelope = super::from_document(br#"{"data": {"z": -0}}"#)?;
    assert_eq!(serde_json::to_string(&fixed.data).ok().as_deref(), Some(r#"{"z":0}"#));
    for text in [&br#"{"data": 12345678901234567890123}"#[..], br#"{"data": -9223372036854775809}"#] {
        let refused = super::from_document::<Envelope>(text).expect_err("beyond 64 bits");
        assert!(refused.to_string().contains("$.data"), "{refused}");
    }
    assert!(super::may_hold_odd_integer(b"[18446744073709551616]"));
    assert!(!super::may_hold_odd_integer(b"[1844674407370955161, -1.5, -0.5, -0e1]"));
    Ok(())
}
