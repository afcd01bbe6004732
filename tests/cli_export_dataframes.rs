//! The Parquet export opens as a normal table in pandas, polars and DuckDB
//! (issue 7: the old store's export to a dataframe). The built binary writes
//! the file; `tests/dataframes/read_export.py` reads it with each library and
//! prints what it saw, and every library must see the same rows, the
//! contract's column types and the exact values. `.ci/run` installs the
//! three libraries; without them this test fails rather than skips.

mod cli_support;
mod common;
mod fidelity_support;

use std::process::Command;

use cli_support::{Env, arg};
use serde_json::{Value, json};

use common::TestResult;

#[test]
fn parquet_export_reads_the_same_in_pandas_polars_and_duckdb() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"temp": 21.5}"#, &["--id", "r1", "--type", "sensor_reading", "--tag", "raw_data", "--tag", "hot"]);
    env.put_json(r#"{"temp": 22.0}"#, &["--id", "r1", "--type", "sensor_reading", "--tag", "raw_data"]);
    env.run_with_stdin(&["put", "--id", "b1", "--bytes", "--type", "blob", "-"], b"raw\x00\xff").ok();
    env.put_json(r#"{"x": 1}"#, &["--id", "c1", "--parent", "r1@1"]);
    let out = env.path("all.parquet");
    env.run(&["export", "--out", arg(&out), "--format", "parquet", "--all-versions"]).ok();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dataframes/read_export.py");
    let output = Command::new("python3").arg(script).arg(&out).output()?;
    assert!(
        output.status.success(),
        "python3 could not read the export (are pandas, pyarrow, polars and duckdb installed?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout)?;
    let expected_rows = json!([
        {"id": "r1", "version": 1, "offset": 0, "type": "sensor_reading", "tags": ["hot", "raw_data"],
         "parents": [], "data": r#"{"temp":21.5}"#, "data_bytes": null},
        {"id": "r1", "version": 2, "offset": 1, "type": "sensor_reading", "tags": ["raw_data"],
         "parents": [], "data": r#"{"temp":22.0}"#, "data_bytes": null},
        {"id": "b1", "version": 1, "offset": 2, "type": "blob", "tags": [], "parents": [], "data": null,
         "data_bytes": [114, 97, 119, 0, 255]},
        {"id": "c1", "version": 1, "offset": 3, "type": null, "tags": [], "parents": ["r1@1"],
         "data": r#"{"x":1}"#, "data_bytes": null},
    ]);
    for library in ["pandas", "polars", "duckdb"] {
        assert_eq!(seen[library]["rows"], expected_rows, "{library} rows");
        let timestamp = seen[library]["timestamp"].as_str().ok_or("a timestamp type")?.to_lowercase();
        assert!(
            timestamp.contains("datetime") || timestamp.contains("timestamp"),
            "{library} reads `timestamp` as a time type, not {timestamp}"
        );
    }
    Ok(())
}

/// Issue 21: the `data` column's JSON text keeps every double bit for bit,
/// as pyarrow reads it and as Python's own JSON parser sees it.
#[test]
fn parquet_data_column_keeps_every_double_bit_for_bit() -> TestResult {
    let env = Env::new();
    let document = fidelity_support::fidelity_document(1000);
    let text = format!(r#"{{"doc": {document}, "typed": [7.8100000000000005, -0]}}"#);
    let expected = json!({"doc": document, "typed": [fidelity_support::double(7.8100000000000005), 0]});
    env.put_json(&text, &["--id", "f"]);
    let out = env.path("f.parquet");
    env.run(&["export", "--out", arg(&out)]).ok();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dataframes/read_data_column.py");
    let output = Command::new("python3").arg(script).arg(&out).output()?;
    assert!(
        output.status.success(),
        "python3 could not read the export with pyarrow: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout)?;
    for view in ["text", "python"] {
        let text = seen["f"][view].as_str().ok_or("a data text")?;
        fidelity_support::same_bits(&expected, &serde_json::from_str(text)?).map_err(|e| format!("{view}: {e}"))?;
    }
    Ok(())
}
