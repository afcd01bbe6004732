//! Numbers that a store must keep bit for bit, and a comparison that looks
//! at the bits of every double, for the `tests/data_fidelity*.rs` tests.

#![allow(dead_code, reason = "each test binary uses a different part of this helper")]

use serde_json::{Number, Value};

/// Doubles at the edges: zeros, subnormals, the extremes, and values a fast
/// parser rounds (`0.1 + 0.2`, issue 21's `7.8100000000000005`).
pub fn edge_doubles() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1 + 0.2,
        7.8100000000000005,
        7.81,
        1e23,
        9007199254740993.0,
        1e19,
        -1e-300,
        123456.78901234567,
        3.0,
    ]
}

/// Integers at the edges of i64 and u64, as JSON numbers.
pub fn edge_integers() -> Vec<Value> {
    vec![
        Value::from(i64::MIN),
        Value::from(i64::MIN + 1),
        Value::from(-1i64),
        Value::from(0u64),
        Value::from(i64::MAX),
        Value::from(i64::MAX as u64 + 1),
        Value::from(u64::MAX),
        Value::from(9_007_199_254_740_993u64),
    ]
}

/// `count` finite doubles spread over every exponent (splitmix64 over the
/// bit patterns, so the same list every run), subnormals included.
pub fn spread_doubles(count: usize) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let f = f64::from_bits(z ^ (z >> 31));
        if f.is_finite() {
            out.push(f);
        }
    }
    out
}

/// A document with every edge value, spread doubles, and both nested in
/// objects and arrays.
pub fn fidelity_document(spread: usize) -> Value {
    let doubles: Vec<Value> = edge_doubles().into_iter().map(double).collect();
    let nested: Vec<Value> =
        edge_doubles().into_iter().map(|f| serde_json::json!({"x": [double(f), {"y": double(-f)}]})).collect();
    serde_json::json!({
        "doubles": doubles,
        "integers": edge_integers(),
        "spread": spread_doubles(spread).into_iter().map(double).collect::<Vec<_>>(),
        "nested": nested,
    })
}

/// A double as a JSON number (every finite double is one).
pub fn double(f: f64) -> Value {
    Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

/// Ok when `got` equals `want` with every double equal in its bits and
/// every integer the same integer; else the first difference and its path.
pub fn same_bits(want: &Value, got: &Value) -> Result<(), String> {
    same_at("$", want, got)
}

fn same_at(path: &str, want: &Value, got: &Value) -> Result<(), String> {
    let differ = || Err(format!("at {path}: stored {want}, got back {got}"));
    match (want, got) {
        (Value::Number(w), Value::Number(g)) => {
            let same = match (w.as_u64(), w.as_i64(), w.is_f64()) {
                (Some(u), _, _) => g.as_u64() == Some(u),
                (None, Some(i), _) => g.as_i64() == Some(i),
                _ => g.is_f64() && w.as_f64().map(f64::to_bits) == g.as_f64().map(f64::to_bits),
            };
            if same { Ok(()) } else { differ() }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            w.iter().zip(g).enumerate().try_for_each(|(i, (w, g))| same_at(&format!("{path}[{i}]"), w, g))
        }
        (Value::Object(w), Value::Object(g)) if w.len() == g.len() => {
            w.iter().try_for_each(|(key, w)| match g.get(key) {
                Some(g) => same_at(&format!("{path}.{key}"), w, g),
                None => differ(),
            })
        }
        (Value::Array(_) | Value::Object(_) | Value::Number(_), _) => differ(),
        _ if want == got => Ok(()),
        _ => differ(),
    }
}

/// `[[...[1]...]]`: `levels` arrays deep.
pub fn nested_arrays(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}
