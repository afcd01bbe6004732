//! End to end through the `recstore` binary: JSON Lines import in atomic
//! batches (a bad line, `--skip-bad`, stdin, 100,000 lines), export to JSON
//! Lines and Parquet (read back through the parquet crate), and datasets.

mod cli_support;

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use cli_support::{Env, TestResult, arg};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::json;

fn jsonl(count: usize, id_prefix: &str) -> String {
    let mut text = String::new();
    for n in 0..count {
        let _ = writeln!(text, r#"{{"data":{{"n":{n}}},"metadata":{{"id":"{id_prefix}{n}","type":"t{}"}}}}"#, n % 3);
    }
    text
}

#[test]
fn a_hundred_thousand_line_import_counts_every_item() -> TestResult {
    let env = Env::new();
    let file = env.write_file("big.jsonl", jsonl(100_000, "i").as_bytes());
    let run = env.run(&["--json", "import", arg(&file)]).ok();
    assert!(run.stderr.is_empty(), "no progress bar off a terminal: {}", run.stderr);
    let counts = run.json();
    assert_eq!(
        counts,
        json!({"lines": 100_000, "new_items": 100_000, "new_versions": 0, "unchanged": 0, "skipped": 0})
    );
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "100000\n");
    assert_eq!(env.run(&["query", "--type", "t1", "--count"]).ok().text(), "33333\n");
    assert_eq!(env.run(&["get", "i99999"]).ok().stdout, br#"{"n":99999}"#);
    Ok(())
}

#[test]
fn import_from_stdin_reports_new_items_new_versions_and_unchanged() -> TestResult {
    let env = Env::new();
    let run = env.run_with_stdin(&["import", "-"], jsonl(3, "x").as_bytes()).ok();
    assert_eq!(run.text(), "imported 3 lines: 3 new items, 0 new versions, 0 unchanged\n");
    let mixed = format!(
        "{}\n{}\n\n{}\n{}\n",
        r#"{"data":{"n":0},"metadata":{"id":"x0","type":"t0"}}"#,
        r#"{"data":{"n":10},"metadata":{"id":"x1","type":"t1"}}"#,
        r#"{"data_base64":"AAEC/w==","content_type":"image/x-test","metadata":{"id":"bytes"}}"#,
        r#"{"data":{"n":2},"metadata":{"id":"x2","type":"t2"},"version":7,"offset":1,"timestamp":"x","size":1,"md5":"y"}"#,
    );
    let counts = env.run_with_stdin(&["--json", "import", "-"], mixed.as_bytes()).ok().json();
    assert_eq!(counts, json!({"lines": 4, "new_items": 1, "new_versions": 1, "unchanged": 2, "skipped": 0}));
    assert_eq!(env.run(&["get", "bytes"]).ok().stdout, [0, 1, 2, 255]);
    assert_eq!(env.run(&["get", "x1"]).ok().stdout, br#"{"n":10}"#);
    Ok(())
}

/// 25 lines in batches of 10; line 17 is broken.
fn with_bad_line_17() -> String {
    let mut lines: Vec<String> = jsonl(25, "b").lines().map(str::to_string).collect();
    lines[16] = r#"{"data": {"n": 16}, "metadata": {"id": "b16""#.to_string();
    lines.join("\n") + "\n"
}

#[test]
fn a_bad_line_fails_with_its_number_and_nothing_of_its_batch_is_written() -> TestResult {
    let env = Env::new();
    let run = env.run_with_stdin(&["import", "--batch-size", "10", "-"], with_bad_line_17().as_bytes()).expect_code(1);
    assert!(run.stderr.contains("line 17"), "names the line: {}", run.stderr);
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "10\n", "the first batch (lines 1-10) was written");
    env.run(&["get", "b9"]).ok();
    env.run(&["get", "b10"]).expect_code(3);
    env.run(&["get", "b15"]).expect_code(3);

    let invalid = "{\"data\": 1, \"metadata\": {\"id\": \"ok\"}}\n{\"data\": 1, \"metadata\": {\"tags\": [\"\"]}}\n";
    let run = env.run_with_stdin(&["import", "-"], invalid.as_bytes()).expect_code(1);
    assert!(run.stderr.contains("line 2") && run.stderr.contains("tag"), "{}", run.stderr);
    env.run(&["get", "ok"]).expect_code(3);

    let with_bom = "\u{feff}{\"data\": 1, \"metadata\": {\"id\": \"bom\"}}\n";
    env.run_with_stdin(&["import", "-"], with_bom.as_bytes()).ok();
    assert_eq!(env.run(&["get", "bom"]).ok().text(), "1", "a leading byte order mark is skipped");

    // serde would read an array as the fields in order: refused instead.
    let positional = "[{\"x\": 1}, null, null, {\"id\": \"arr\", \"type\": \"t\"}]\n";
    let run = env.run_with_stdin(&["import", "-"], positional.as_bytes()).expect_code(1);
    assert!(run.stderr.contains("line 1") && run.stderr.contains("expected a JSON object"), "{}", run.stderr);
    env.run(&["get", "arr"]).expect_code(3);
    Ok(())
}

/// The parser runs a batch ahead of the writer, so a bad line is found while
/// earlier batches are still waiting to be written: they must all still be
/// written, in order, and the message must count them.
#[test]
fn a_bad_line_several_batches_in_leaves_exactly_the_earlier_batches() -> TestResult {
    let env = Env::new();
    let mut lines: Vec<String> = jsonl(100, "p").lines().map(str::to_string).collect();
    lines[46] = r#"{"data": 1, "metadata": {"id": "p46", "colour": "red"}, "extra": 1}"#.to_string();
    lines.insert(20, String::new());
    let input = lines.join("\n") + "\n";
    let run = env.run_with_stdin(&["import", "--batch-size", "10", "-"], input.as_bytes()).expect_code(1);
    assert!(run.stderr.contains("line 48:"), "the blank line 21 counts in line numbers: {}", run.stderr);
    assert!(run.stderr.contains("(lines 42-48)"), "names its batch: {}", run.stderr);
    assert!(run.stderr.contains("40 items written before it"), "{}", run.stderr);
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "40\n", "batches 1-4 were written, no more");
    env.run(&["get", "p39"]).ok();
    env.run(&["get", "p40"]).expect_code(3);
    Ok(())
}

#[test]
fn skip_bad_reports_skipped_lines_and_exits_0() -> TestResult {
    let env = Env::new();
    let args = ["--json", "import", "--batch-size", "10", "--skip-bad", "-"];
    let run = env.run_with_stdin(&args, with_bad_line_17().as_bytes()).ok();
    assert!(run.stderr.contains("skipped line 17"), "{}", run.stderr);
    assert_eq!(run.json()["skipped"], json!(1));
    assert_eq!(run.json()["new_items"], json!(24));
    assert_eq!(env.run(&["query", "--count"]).ok().text(), "24\n");
    Ok(())
}

fn read_parquet(path: &std::path::Path) -> Result<Vec<RecordBatch>, Box<dyn std::error::Error>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

#[test]
fn parquet_export_has_the_contract_columns_and_values() -> TestResult {
    let env = Env::new();
    env.put_json(
        r#"{"t": 1}"#,
        &["--id", "a", "--type", "reading", "--source", "s1", "--tag", "raw", "--meta", r#"{"unit":"c"}"#],
    );
    env.put_json(r#"{"t": 2}"#, &["--id", "a", "--type", "reading", "--source", "s1", "--tag", "raw", "--tag", "hot"]);
    env.run_with_stdin(
        &["put", "--id", "img", "--parent", "a@1", "--content-type", "image/x-test", "-"],
        &[0, 159, 146, 150],
    )
    .ok();
    env.put_json(r#"{"t": 3}"#, &["--id", "gone"]);
    env.run(&["delete", "gone"]).ok();

    let out = env.path("items.parquet");
    let run = env.run(&["--json", "export", "--out", arg(&out)]).ok();
    assert_eq!(run.json()["rows"], json!(2));
    let batches = read_parquet(&out)?;
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "version",
            "offset",
            "timestamp",
            "type",
            "source_id",
            "tags",
            "parents",
            "metadata",
            "data",
            "data_bytes"
        ]
    );
    let types: Vec<DataType> = schema.fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(types[1], DataType::UInt32);
    assert_eq!(types[2], DataType::UInt64);
    assert_eq!(types[3], DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert!(matches!(&types[6], DataType::List(item) if item.data_type() == &DataType::Utf8));
    assert!(matches!(&types[7], DataType::List(item) if item.data_type() == &DataType::Utf8));
    assert_eq!(
        (types[8].clone(), types[9].clone(), types[10].clone()),
        (DataType::Utf8, DataType::Utf8, DataType::Binary)
    );

    let batch = &batches[0];
    assert_eq!(batch.num_rows(), 2);
    let ids = batch.column(0).as_string::<i32>();
    assert_eq!((ids.value(0), ids.value(1)), ("a", "img"));
    assert_eq!(batch.column(1).as_primitive::<UInt32Type>().value(0), 2);
    assert_eq!(batch.column(2).as_primitive::<UInt64Type>().value(0), 1);
    assert!(batch.column(3).as_primitive::<TimestampMicrosecondType>().value(0) > 1_700_000_000_000_000);
    assert_eq!(batch.column(4).as_string::<i32>().value(0), "reading");
    assert!(batch.column(5).is_valid(0) && batch.column(5).is_null(1), "source_id is null when unset");
    let tags = batch.column(6).as_list::<i32>().value(0);
    assert_eq!(tags.as_string::<i32>().iter().flatten().collect::<Vec<_>>(), ["hot", "raw"]);
    assert_eq!(batch.column(7).as_list::<i32>().value(1).as_string::<i32>().value(0), "a@1");
    let metadata: serde_json::Value = serde_json::from_str(batch.column(8).as_string::<i32>().value(0))?;
    assert_eq!((metadata["source_id"].clone(), metadata["version"].clone()), (json!("s1"), json!(2)));
    let data = batch.column(9).as_string::<i32>();
    assert_eq!(data.value(0), r#"{"t":2}"#);
    assert!(data.is_null(1), "data is null for byte items");
    let data_bytes = batch.column(10).as_binary::<i32>();
    assert!(data_bytes.is_null(0), "data_bytes is null for JSON items");
    assert_eq!(data_bytes.value(1), [0, 159, 146, 150]);

    let all = env.path("all.parquet");
    env.run(&["export", "--out", arg(&all), "--all-versions", "--type", "reading"]).ok();
    let rows: usize = read_parquet(&all)?.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 2, "both versions of `a`, nothing else");
    assert!(!env.path("all.parquet.partial").exists());
    Ok(())
}

#[test]
fn parquet_export_of_many_rows_spans_batches() -> TestResult {
    let env = Env::new();
    env.run_with_stdin(&["import", "-"], jsonl(10_000, "m").as_bytes()).ok();
    let out = env.path("many.parquet");
    env.run(&["export", "--format", "parquet", "--out", arg(&out), "--type", "t0"]).ok();
    let batches = read_parquet(&out)?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 3334);
    Ok(())
}

#[test]
fn jsonl_export_imports_again_as_it_is() -> TestResult {
    let env = Env::new();
    env.put_json(r#"{"t": 1}"#, &["--id", "a", "--type", "reading", "--tag", "raw", "--meta", r#"{"unit":"c"}"#]);
    env.put_json(r#"{"t": 2}"#, &["--id", "a", "--type", "reading", "--tag", "raw", "--meta", r#"{"unit":"c"}"#]);
    env.run_with_stdin(&["put", "--id", "img", "--bytes", "-"], b"\x00\x01binary").ok();
    let out = env.path("all.jsonl");
    assert_eq!(
        env.run(&["export", "--out", arg(&out), "--all-versions"]).ok().text(),
        format!("exported 3 rows to {}\n", out.display())
    );
    let stdout = env.run(&["export", "--out", "-", "--tag", "raw"]).ok().lines();
    assert_eq!(stdout.len(), 1);
    assert_eq!((stdout[0]["data"].clone(), stdout[0]["metadata"]["unit"].clone()), (json!({"t": 2}), json!("c")));
    env.run(&["export", "--out", "-", "--format", "parquet"]).expect_code(1);

    let copy = Env::new();
    let counts = copy.run(&["--json", "import", arg(&out)]).ok().json();
    assert_eq!((counts["new_items"].clone(), counts["new_versions"].clone()), (json!(2), json!(1)));
    assert_eq!(copy.run(&["get", "a", "--version", "1"]).ok().stdout, br#"{"t":1}"#);
    assert_eq!(copy.run(&["get", "img"]).ok().stdout, b"\x00\x01binary");
    assert_eq!(copy.run(&["meta", "a"]).ok().json()["unit"], json!("c"));

    // After a compaction, --all-versions leaves out the versions whose data is gone.
    env.run(&["compact", "--max-versions", "1"]).ok();
    assert_eq!(
        env.run(&["export", "--out", arg(&out), "--all-versions"]).ok().text(),
        format!("exported 2 rows to {} (left out: 1 version whose data compaction pruned)\n", out.display())
    );
    let summary = env.run(&["--json", "export", "--out", arg(&out), "--all-versions"]).ok().json();
    assert_eq!((summary["rows"].clone(), summary["pruned_versions_left_out"].clone()), (json!(2), json!(1)));

    // The old store's cleanup expires current versions too: export still
    // works, and expired items are gone as deleted ones are (issue 22.1),
    // so there is nothing current to leave out.
    env.run(&["compact", "--before", "2099-01-01T00:00:00Z", "--expire"]).ok();
    let summary = env.run(&["--json", "export", "--out", arg(&out)]).ok().json();
    assert_eq!((summary["rows"].clone(), summary["pruned_versions_left_out"].clone()), (json!(0), json!(0)));
    Ok(())
}

#[test]
fn datasets_put_get_list_and_versions() -> TestResult {
    let env = Env::new();
    let items = "{\"data\": {\"a\": 1}, \"metadata\": {\"type\": \"typeA\"}}\n{\"data\": {\"a\": 2}, \"metadata\": {\"type\": \"typeA\"}}\n";
    let file = env.write_file("items.jsonl", items.as_bytes());
    let run = env
        .run(&["dataset", "put", "typeA_collection", arg(&file), "--info", r#"{"description": "two A items"}"#])
        .ok();
    let fields: Vec<String> = run.text().split_whitespace().map(str::to_string).collect();
    assert_eq!((fields[0].as_str(), fields[1].as_str()), ("typeA_collection", "1"));

    let dataset = env.run(&["dataset", "get", "typeA_collection"]).ok().json();
    assert_eq!((dataset["name"].clone(), dataset["version"].clone()), (json!("typeA_collection"), json!(1)));
    assert_eq!(dataset["info"], json!({"description": "two A items"}));
    let members = dataset["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m["type"] == json!("typeA") && m.get("data").is_none()));

    let second = env
        .run_with_stdin(
            &["--json", "dataset", "put", "typeA_collection", "-"],
            items.lines().next().unwrap_or_default().as_bytes(),
        )
        .ok()
        .json();
    assert_eq!(second["version"], json!(2));
    let with_data = env.run(&["dataset", "get", "typeA_collection", "--with-data"]).ok().json();
    assert_eq!(with_data["items"][0]["data"], json!({"a": 1}));
    assert_eq!(
        env.run(&["dataset", "get", "typeA_collection", "--version", "1"]).ok().json()["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let list = env.run(&["dataset", "list"]).ok().lines();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0]["name"].clone(), list[0]["version"].clone(), list[0]["item_count"].clone()),
        (json!("typeA_collection"), json!(2), json!(1))
    );

    env.run(&["dataset", "get", "nope"]).expect_code(3);
    env.run(&["dataset", "get", "typeA_collection", "--version", "9"]).expect_code(3);
    let bad = env.run_with_stdin(&["dataset", "put", "d", "-"], b"{\"data\": 1}\nnot json\n").expect_code(1);
    assert!(bad.stderr.contains("line 2"), "{}", bad.stderr);
    env.run(&["dataset", "get", "d"]).expect_code(3);
    Ok(())
}
