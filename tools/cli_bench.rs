//! Benchmark of the command line's bulk paths, end to end: `recstore import`
//! of issue 3's JSON Lines workload against the `sqlite3` shell's own bulk
//! import of the same data, then `recstore export` to Parquet and to JSON
//! Lines.
//!
//! Every command is the release binary (`target/release/recstore`, built by
//! `cargo build --release`; this benchmark builds nothing) or `sqlite3`, run
//! as a child process and timed from spawn to exit, so process start, open
//! and close are included. The workload is written before any timer starts.
//! `tools/README.md` lists the measurements, the baseline and where each
//! target comes from. Units: MB = 10^6 bytes.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

use common::args::{Flags, config_or_exit};
use common::process::{self, children_cpu, sample_threads};
use common::report::{load_average, print_table, verdict};
use common::sqlite;
use common::workload::{DATA_SIZE_BYTES, Item, Workload};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// What `recstore import` uses by default, and what the fallback baseline uses.
const BATCH_ITEM_COUNT: usize = 1_000;
/// How often the threads of a running child are sampled for their CPU time.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

// Targets. Issue 7 names the measurements but sets no numbers, so these are
// this benchmark's own; tools/README.md gives the reasoning for each.
/// import: at least the items/s of sqlite3's own bulk import.
const IMPORT_RATIO_MIN: f64 = 1.0;
/// export: at least the import's MB/s (of the same JSON Lines bytes).
const EXPORT_TO_IMPORT_MIN: f64 = 1.0;
/// A baseline run before and after what it serves differs by more than
/// this factor: the machine changed speed meanwhile, so the ratio is suspect.
const BASELINE_DRIFT_MAX: f64 = 1.5;

const USAGE: &str =
    "usage: cargo build --release && cargo bench --bench cli_bench -- [--quick] [--items N] [--json] [--keep]
  --items N        items in the workload (default 200000; --quick: 20000)
  --binary PATH    the recstore binary (default: target/release/recstore)
  --quick          smoke run: 20000 items
  --json           print one JSON object on stdout instead of the table
  --keep           keep the temporary directory (its path is printed on stderr)";

struct Config {
    item_count: usize,
    binary: PathBuf,
    json: bool,
    keep: bool,
}

fn main() -> BenchResult<()> {
    let config = config_or_exit(parse_args(std::env::args().skip(1)), USAGE);
    process::check_binary_or_exit("cli_bench", &config.binary);
    // The same file system as /work on the machines this runs on; TMPDIR moves it.
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let report = run(config, dir.path())?;
    if report.config.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    if report.config.keep {
        progress(&format!("kept {}", dir.keep().display()));
    } else {
        dir.close()?;
    }
    Ok(())
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let (mut item_count, mut json, mut keep, mut binary) = (None, false, false, None);
    let mut flags = Flags::new(args, USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        match flag.as_str() {
            "--quick" => item_count = Some(20_000),
            "--json" => json = true,
            "--keep" => keep = true,
            "--items" => item_count = Some(flags.value::<usize>(&flag, inline)?),
            "--binary" => binary = Some(flags.value::<PathBuf>(&flag, inline)?),
            // `cargo bench` passes this to every `harness = false` target.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            _ => return Err(flags.unknown(&flag)),
        }
    }
    let item_count = item_count.unwrap_or(200_000);
    if item_count < 100 {
        return Err(format!("--items must be at least 100\n{USAGE}"));
    }
    let binary = binary.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/recstore"));
    Ok(Some(Config { item_count, binary, json, keep }))
}

fn progress(message: &str) {
    eprintln!("cli_bench: {message}");
}

// ---------------------------------------------------------------- workload

/// The workload on disk: the JSON Lines file and the baseline's three CSVs.
struct Files {
    jsonl: PathBuf,
    jsonl_bytes: u64,
    csv: [PathBuf; 3],
    csv_bytes: u64,
    tag_rows: u64,
    parent_rows: u64,
    generate_s: f64,
}

/// One CSV field, quoted as RFC 4180 says (the sqlite3 shell reads it so).
fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn generate(dir: &Path, workload: &Workload, item_count: usize, timestamp_us: i64) -> BenchResult<Files> {
    let started = Instant::now();
    let jsonl = dir.join("workload.jsonl");
    let csv = ["items.csv", "item_tags.csv", "parents.csv"].map(|name| dir.join(name));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&jsonl)?);
    let open = |path: &Path| -> std::io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
    };
    let (mut items, mut tags, mut parents) = (open(&csv[0])?, open(&csv[1])?, open(&csv[2])?);
    let (mut tag_rows, mut parent_rows) = (0, 0);
    for index in 0..item_count {
        let item = workload.item(index);
        serde_json::to_writer(&mut out, &item.body_json())?;
        out.write_all(b"\n")?;
        let (data, meta) = (serde_json::to_string(&item.data)?, serde_json::to_string(&item.meta_json())?);
        writeln!(
            items,
            "{},1,{timestamp_us},{},{},{},{}",
            item.id,
            item.item_type,
            item.source_id,
            csv_field(&data),
            csv_field(&meta)
        )?;
        for tag in &item.tags {
            writeln!(tags, "{},1,{tag}", item.id)?;
            tag_rows += 1;
        }
        for parent in &item.parents {
            writeln!(parents, "{},1,{parent}", item.id)?;
            parent_rows += 1;
        }
    }
    out.flush()?;
    for writer in [&mut items, &mut tags, &mut parents] {
        writer.flush()?;
    }
    let csv_bytes = csv.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    let jsonl_bytes = std::fs::metadata(&jsonl)?.len();
    Ok(Files { jsonl, jsonl_bytes, csv, csv_bytes, tag_rows, parent_rows, generate_s: started.elapsed().as_secs_f64() })
}

// ---------------------------------------------------------------- child processes

/// One command, timed from spawn to exit.
struct ChildRun {
    elapsed: Duration,
    /// User plus system time of the child, all threads.
    cpu: Duration,
    /// CPU per thread name, as last sampled before the child exited.
    threads: BTreeMap<String, Duration>,
    stdout: String,
}

impl ChildRun {
    fn cores(&self) -> f64 {
        self.cpu.as_secs_f64() / self.elapsed.as_secs_f64()
    }

    fn json(&self) -> Value {
        let threads: serde_json::Map<String, Value> =
            self.threads.iter().map(|(name, cpu)| (name.clone(), cpu.as_secs_f64().into())).collect();
        json!({ "elapsed_s": self.elapsed.as_secs_f64(), "cpu_s": self.cpu.as_secs_f64(),
            "thread_cpu_s": threads })
    }
}

/// Runs `command` (stdin from `stdin`, if given) to its end and times it;
/// fails with its stderr if it does not exit 0.
fn run_child(command: &mut Command, stdin: Option<&Path>) -> BenchResult<ChildRun> {
    let stdin = match stdin {
        Some(path) => Stdio::from(File::open(path)?),
        None => Stdio::null(),
    };
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let (pid, done) = (child.id(), Arc::new(AtomicBool::new(false)));
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || sample_threads(pid, &done, SAMPLE_INTERVAL))
    };
    let mut stdout_pipe = child.stdout.take().ok_or("no stdout")?;
    let mut stderr_pipe = child.stderr.take().ok_or("no stderr")?;
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr_pipe.read_to_string(&mut text).map(|_| text)
    });
    let mut stdout = String::new();
    stdout_pipe.read_to_string(&mut stdout)?;
    let status = child.wait()?;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let cpu = children_cpu().saturating_sub(cpu_before);
    let mut threads = sampler.join().map_err(|_| "the thread sampler panicked")?;
    let sampled: Duration = threads.values().sum();
    threads.insert("(not sampled)".into(), cpu.saturating_sub(sampled));
    let stderr = stderr_reader.join().map_err(|_| "the stderr reader panicked")??;
    if !status.success() {
        return Err(format!("{command:?} failed ({status}):\n{stderr}").into());
    }
    Ok(ChildRun { elapsed, cpu, threads, stdout })
}

fn dir_size_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

// ---------------------------------------------------------------- the baseline

/// The baseline schema of issue 3 (as in store_bench): indices on id, type,
/// source, tag and time.
/// How the baseline imports.
#[derive(Clone)]
enum Baseline {
    /// The `sqlite3` shell, with its version.
    Shell(String),
    /// rusqlite batched inserts, because the shell is not installed.
    Rusqlite,
}

impl Baseline {
    fn detect() -> Self {
        match Command::new("sqlite3").arg("-version").output() {
            Ok(output) if output.status.success() => {
                let version = String::from_utf8_lossy(&output.stdout);
                Self::Shell(version.split_whitespace().next().unwrap_or("?").to_owned())
            }
            _ => Self::Rusqlite,
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Shell(version) => format!("sqlite3 {version} shell: .import --csv of 3 tables"),
            Self::Rusqlite => "rusqlite, 1000 rows/txn (sqlite3 shell NOT FOUND)".to_owned(),
        }
    }
}

/// Imports the workload into a fresh database at `db` with the baseline
/// schema, WAL mode and `synchronous=FULL`.
fn baseline_import(
    baseline: &Baseline,
    dir: &Path,
    db: &Path,
    files: &Files,
    workload: &Workload,
    item_count: usize,
) -> BenchResult<ChildRun> {
    match baseline {
        Baseline::Shell(_) => {
            let script = dir.join(format!("{}.import.sql", db.file_name().and_then(|n| n.to_str()).unwrap_or("db")));
            let imports: Vec<String> = files
                .csv
                .iter()
                .zip(["items", "item_tags", "parents"])
                .map(|(path, table)| format!(".import --csv '{}' {table}", path.display()))
                .collect();
            let text = format!(
                "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = FULL;\n{}\n{}\n",
                sqlite::SCHEMA,
                imports.join("\n")
            );
            std::fs::write(&script, text)?;
            run_child(Command::new("sqlite3").arg("-bail").arg(db), Some(&script))
        }
        Baseline::Rusqlite => rusqlite_import(db, workload, item_count),
    }
}

/// The fallback when the `sqlite3` shell is missing: the same rows through
/// rusqlite in transactions of 1,000 items, in this process.
fn rusqlite_import(db: &Path, workload: &Workload, item_count: usize) -> BenchResult<ChildRun> {
    let items: Vec<Item> = (0..item_count).map(|i| workload.item(i)).collect();
    let started = Instant::now();
    let mut conn = sqlite::open(db)?;
    let timestamp_us = 0i64;
    for batch in items.chunks(BATCH_ITEM_COUNT) {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO items VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6)")?;
            let mut insert_tag = tx.prepare_cached("INSERT INTO item_tags VALUES (?1, 1, ?2)")?;
            let mut insert_parent = tx.prepare_cached("INSERT INTO parents VALUES (?1, 1, ?2)")?;
            for item in batch {
                let (data, meta) = (serde_json::to_string(&item.data)?, serde_json::to_string(&item.meta_json())?);
                insert.execute(rusqlite::params![item.id, timestamp_us, item.item_type, item.source_id, data, meta])?;
                for tag in &item.tags {
                    insert_tag.execute(rusqlite::params![item.id, tag])?;
                }
                for parent in &item.parents {
                    insert_parent.execute(rusqlite::params![item.id, parent])?;
                }
            }
        }
        tx.commit()?;
    }
    drop(conn);
    let elapsed = started.elapsed();
    Ok(ChildRun { elapsed, cpu: Duration::ZERO, threads: BTreeMap::new(), stdout: String::new() })
}

/// Row counts of the three tables, to check that a baseline import is whole.
fn baseline_counts(db: &Path) -> BenchResult<[u64; 3]> {
    let conn = rusqlite::Connection::open(db)?;
    let count = |table: &str| conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get::<_, i64>(0));
    Ok([count("items")?, count("item_tags")?, count("parents")?].map(|n| n.max(0) as u64))
}

/// The shell's CSV export of the items table: a reference for export speed.
fn baseline_export(dir: &Path, db: &Path) -> BenchResult<(ChildRun, u64)> {
    let out = dir.join("baseline-export.csv");
    let script = dir.join("export.sql");
    let text = format!(
        ".headers off\n.mode csv\n.once '{}'\nSELECT id, version, ts, type, source, data, meta FROM items;\n",
        out.display()
    );
    std::fs::write(&script, text)?;
    let run = run_child(Command::new("sqlite3").arg("-bail").arg(db), Some(&script))?;
    Ok((run, std::fs::metadata(&out)?.len()))
}

// ---------------------------------------------------------------- the run

/// One export and what it wrote.
struct Export {
    run: ChildRun,
    out_bytes: u64,
}

struct Report {
    config: Config,
    dir: PathBuf,
    load_avg: (String, String),
    files: Files,
    baseline: Baseline,
    /// Before and after recstore's import, each into a fresh database.
    baseline_imports: [ChildRun; 2],
    baseline_bytes: u64,
    import: ChildRun,
    import_counts: Value,
    store_bytes: u64,
    parquet: Export,
    jsonl: Export,
    baseline_export: Option<Export>,
}

fn run(config: Config, dir: &Path) -> BenchResult<Report> {
    let load_start = load_average();
    let workload = Workload::new(config.item_count);
    let baseline = Baseline::detect();
    progress(&format!("writing {} items as JSON Lines and as CSV in {}", config.item_count, dir.display()));
    let files = generate(dir, &workload, config.item_count, 1_764_000_000_000_000)?;
    let expected = [config.item_count as u64, files.tag_rows, files.parent_rows];
    let import_baseline = |name: &str| -> BenchResult<ChildRun> {
        progress(&format!("baseline ({name} recstore): {}", baseline.name()));
        let db = dir.join(format!("baseline-{name}.db"));
        let run = baseline_import(&baseline, dir, &db, &files, &workload, config.item_count)?;
        let counts = baseline_counts(&db)?;
        if counts != expected {
            return Err(format!("the baseline imported {counts:?} rows, expected {expected:?}").into());
        }
        Ok(run)
    };
    let before = import_baseline("before")?;
    let store = dir.join("recstore");
    progress("recstore import");
    let import = run_child(
        Command::new(&config.binary).arg("--data").arg(&store).arg("--json").arg("import").arg(&files.jsonl),
        None,
    )?;
    let import_counts: Value = serde_json::from_str(import.stdout.trim())?;
    if import_counts["new_items"].as_u64() != Some(config.item_count as u64) {
        return Err(format!("recstore import printed {import_counts}, expected {} new items", config.item_count).into());
    }
    let after = import_baseline("after")?;
    let store_bytes = dir_size_bytes(&store);
    // The shell checkpoints and removes the WAL when it closes the database.
    let baseline_bytes = std::fs::metadata(dir.join("baseline-before.db"))?.len();
    let parquet = export(&config, &store, &dir.join("export.parquet"), "parquet")?;
    let jsonl = export(&config, &store, &dir.join("export.jsonl"), "jsonl")?;
    let baseline_export = match baseline {
        Baseline::Shell(_) => {
            progress("reference: sqlite3 CSV export of the items table");
            let (run, out_bytes) = baseline_export(dir, &dir.join("baseline-before.db"))?;
            Some(Export { run, out_bytes })
        }
        Baseline::Rusqlite => None,
    };
    Ok(Report {
        config,
        dir: dir.to_path_buf(),
        load_avg: (load_start, load_average()),
        files,
        baseline,
        baseline_imports: [before, after],
        baseline_bytes,
        import,
        import_counts,
        store_bytes,
        parquet,
        jsonl,
        baseline_export,
    })
}

fn export(config: &Config, store: &Path, out: &Path, format: &str) -> BenchResult<Export> {
    progress(&format!("recstore export --format {format}"));
    let mut command = Command::new(&config.binary);
    command.arg("--data").arg(store).arg("export").arg("--out").arg(out).args(["--format", format]);
    let run = run_child(&mut command, None)?;
    let expected = format!("exported {} rows", config.item_count);
    if !run.stdout.starts_with(&expected) {
        return Err(format!("export printed {:?}, expected {expected:?}", run.stdout.trim()).into());
    }
    Ok(Export { run, out_bytes: std::fs::metadata(out)?.len() })
}

// ---------------------------------------------------------------- report

/// One line of the table.
type Row = [String; 6];

fn row(what: &str, items: String, mb: String, detail: String, target: &str, verdict: &str) -> Row {
    [what.to_owned(), items, mb, detail, target.to_owned(), verdict.to_owned()]
}

impl Report {
    fn per_s(&self, run: &ChildRun) -> f64 {
        self.config.item_count as f64 / run.elapsed.as_secs_f64()
    }

    /// MB/s of the workload's JSON Lines bytes, whatever the command read or wrote.
    fn jsonl_mb_per_s(&self, run: &ChildRun) -> f64 {
        self.files.jsonl_bytes as f64 / 1e6 / run.elapsed.as_secs_f64()
    }

    /// The baseline's items/s: both runs pooled.
    fn baseline_per_s(&self) -> f64 {
        let [a, b] = &self.baseline_imports;
        2.0 * self.config.item_count as f64 / (a.elapsed + b.elapsed).as_secs_f64()
    }

    fn baseline_drift(&self) -> f64 {
        let [a, b] = &self.baseline_imports;
        let (a, b) = (self.per_s(a), self.per_s(b));
        a.max(b) / a.min(b)
    }

    fn import_ratio(&self) -> f64 {
        self.per_s(&self.import) / self.baseline_per_s()
    }

    fn export_ratio(&self, export: &Export) -> f64 {
        self.jsonl_mb_per_s(&export.run) / self.jsonl_mb_per_s(&self.import)
    }

    fn checks(&self) -> [(&'static str, bool); 3] {
        [
            ("import", self.import_ratio() >= IMPORT_RATIO_MIN),
            ("export_parquet", self.export_ratio(&self.parquet) >= EXPORT_TO_IMPORT_MIN),
            ("export_jsonl", self.export_ratio(&self.jsonl) >= EXPORT_TO_IMPORT_MIN),
        ]
    }

    fn rows(&self) -> Vec<Row> {
        let [import_pass, parquet_pass, jsonl_pass] = self.checks().map(|(_, pass)| pass);
        let [a, b] = &self.baseline_imports;
        let baseline_mb = self.files.jsonl_bytes as f64 / 1e6 * self.baseline_per_s() / self.config.item_count as f64;
        let mut rows = vec![
            row("measurement", "items/s".into(), "MB/s of JSONL".into(), "ratio / detail".into(), "target", "verdict"),
            row(
                &format!("baseline: {}", self.baseline.name()),
                format!("{:.0}", self.baseline_per_s()),
                format!("{baseline_mb:.1}"),
                format!("runs before/after recstore: {:.0} / {:.0} items/s", self.per_s(a), self.per_s(b)),
                "-",
                "",
            ),
            row(
                "recstore import (1000 lines/batch, fdatasync each)",
                format!("{:.0}", self.per_s(&self.import)),
                format!("{:.1}", self.jsonl_mb_per_s(&self.import)),
                format!("{:.2}x the baseline", self.import_ratio()),
                ">= 1x baseline",
                verdict(import_pass),
            ),
        ];
        for (what, export, pass) in [
            ("recstore export --format parquet", &self.parquet, parquet_pass),
            ("recstore export --format jsonl", &self.jsonl, jsonl_pass),
        ] {
            let out_mb = export.out_bytes as f64 / 1e6 / export.run.elapsed.as_secs_f64();
            rows.push(row(
                what,
                format!("{:.0}", self.per_s(&export.run)),
                format!("{:.1}", self.jsonl_mb_per_s(&export.run)),
                format!("{:.2}x import MB/s; output {out_mb:.1} MB/s", self.export_ratio(export)),
                ">= 1x import MB/s",
                verdict(pass),
            ));
        }
        if let Some(export) = &self.baseline_export {
            let out_mb = export.out_bytes as f64 / 1e6 / export.run.elapsed.as_secs_f64();
            let ratio = self.jsonl_mb_per_s(&self.jsonl.run) / self.jsonl_mb_per_s(&export.run);
            rows.push(row(
                "reference: sqlite3 .mode csv export of the items table",
                format!("{:.0}", self.per_s(&export.run)),
                format!("{:.1}", self.jsonl_mb_per_s(&export.run)),
                format!("output {out_mb:.1} MB/s; export jsonl is {ratio:.2}x this"),
                "-",
                "",
            ));
        }
        rows
    }

    fn print(&self) {
        println!(
            "recstore cli_bench: {} items, {:.1} MB of JSON Lines ({:.0} B/line), {}, in {}",
            self.config.item_count,
            self.files.jsonl_bytes as f64 / 1e6,
            self.files.jsonl_bytes as f64 / self.config.item_count as f64,
            self.config.binary.display(),
            self.dir.display()
        );
        println!("load average (1/5/15 min): {} at start, {} at end (2 cores)\n", self.load_avg.0, self.load_avg.1);
        print_table(&self.rows());
        if self.baseline_drift() > BASELINE_DRIFT_MAX {
            println!(
                "WARNING: the baseline changed {:.1}x between its two runs; the import ratio is unreliable",
                self.baseline_drift()
            );
        }
        println!();
        self.print_details();
    }

    fn print_details(&self) {
        let files = &self.files;
        println!(
            "workload: written in {:.2} s; CSV for the baseline {:.1} MB ({} items, {} tag rows, {} parent rows)",
            files.generate_s,
            files.csv_bytes as f64 / 1e6,
            self.config.item_count,
            files.tag_rows,
            files.parent_rows
        );
        println!(
            "import: {} (stdout); {} batches, so {} fdatasyncs of the log at least",
            self.import_counts,
            self.config.item_count.div_ceil(BATCH_ITEM_COUNT),
            self.config.item_count.div_ceil(BATCH_ITEM_COUNT)
        );
        println!(
            "on disk: recstore data directory {:.1} MB; baseline database {:.1} MB",
            self.store_bytes as f64 / 1e6,
            self.baseline_bytes as f64 / 1e6
        );
        println!(
            "run                                   wall s   CPU s  cores  CPU by thread name (sampled every 50 ms)"
        );
        let mut runs = vec![
            ("baseline import, before", &self.baseline_imports[0]),
            ("recstore import", &self.import),
            ("baseline import, after", &self.baseline_imports[1]),
            ("recstore export parquet", &self.parquet.run),
            ("recstore export jsonl", &self.jsonl.run),
        ];
        if let Some(export) = &self.baseline_export {
            runs.push(("sqlite3 csv export", &export.run));
        }
        for (name, run) in runs {
            let threads: Vec<String> =
                run.threads.iter().map(|(name, cpu)| format!("{name} {:.2}", cpu.as_secs_f64())).collect();
            println!(
                "{name:<36} {:>7.3} {:>7.2} {:>6.2}  {}",
                run.elapsed.as_secs_f64(),
                run.cpu.as_secs_f64(),
                run.cores(),
                threads.join(", ")
            );
        }
        println!(
            "export outputs: parquet {:.1} MB, jsonl {:.1} MB",
            self.parquet.out_bytes as f64 / 1e6,
            self.jsonl.out_bytes as f64 / 1e6
        );
    }

    fn json(&self) -> Value {
        let checks: serde_json::Map<String, Value> =
            self.checks().iter().map(|(name, pass)| ((*name).to_owned(), Value::Bool(*pass))).collect();
        let export = |export: &Export| {
            json!({ "run": export.run.json(), "out_bytes": export.out_bytes, "items_per_s": self.per_s(&export.run),
                "jsonl_mb_per_s": self.jsonl_mb_per_s(&export.run),
                "out_mb_per_s": export.out_bytes as f64 / 1e6 / export.run.elapsed.as_secs_f64(),
                "ratio_to_import_mb_per_s": self.export_ratio(export) })
        };
        json!({
            "config": { "item_count": self.config.item_count, "binary": self.config.binary,
                "data_size_bytes": DATA_SIZE_BYTES, "batch_item_count": BATCH_ITEM_COUNT },
            "load_average": { "start": self.load_avg.0, "end": self.load_avg.1 },
            "workload": { "jsonl_bytes": self.files.jsonl_bytes, "csv_bytes": self.files.csv_bytes,
                "tag_rows": self.files.tag_rows, "parent_rows": self.files.parent_rows },
            "baseline": { "name": self.baseline.name(), "before": self.baseline_imports[0].json(),
                "after": self.baseline_imports[1].json(), "items_per_s": self.baseline_per_s(),
                "drift": self.baseline_drift() },
            "import": { "run": self.import.json(), "items_per_s": self.per_s(&self.import),
                "jsonl_mb_per_s": self.jsonl_mb_per_s(&self.import), "ratio_to_baseline": self.import_ratio(),
                "counts": self.import_counts, "store_bytes": self.store_bytes },
            "baseline_bytes": self.baseline_bytes,
            "export_parquet": export(&self.parquet),
            "export_jsonl": export(&self.jsonl),
            "baseline_export": self.baseline_export.as_ref().map(export),
            "targets": { "import_ratio_min": IMPORT_RATIO_MIN, "export_to_import_min": EXPORT_TO_IMPORT_MIN },
            "pass": checks,
        })
    }
}
