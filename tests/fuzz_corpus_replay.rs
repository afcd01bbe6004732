//! Replays every fuzz input kept in the repository through the same
//! functions the fuzz targets call (`recstore::fuzzing`), on stable and in
//! CI: the seed corpus in `fuzz/corpus/<target>/` and every crash found so
//! far, kept as a regression input in `fuzz/regressions/<target>/`. A
//! panic fails the test, naming the file. The fuzzing itself runs outside
//! CI (fuzz/README.md).

mod common;

use std::path::{Path, PathBuf};

use recstore::fuzzing::{TARGETS, run};

use common::TestResult;

fn inputs(folder: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    if !folder.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if path.is_file() && !hidden {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[test]
fn every_corpus_and_regression_input_runs_through_its_target_without_a_panic() -> TestResult {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for target in TARGETS {
        let seeds = inputs(&fuzz_dir.join("corpus").join(target))?;
        assert!(!seeds.is_empty(), "target {target} has a seed corpus");
        let regressions = inputs(&fuzz_dir.join("regressions").join(target))?;
        for path in seeds.iter().chain(&regressions) {
            let bytes = std::fs::read(path)?;
            let ran = std::panic::catch_unwind(|| run(target, &bytes));
            assert!(matches!(ran, Ok(true)), "target {target} panicked on {}", path.display());
        }
        eprintln!("{target}: {} corpus and {} regression inputs replayed", seeds.len(), regressions.len());
    }
    Ok(())
}

#[test]
fn every_target_has_a_fuzz_target_file() -> TestResult {
    let targets_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("fuzz_targets");
    for target in TARGETS {
        assert!(targets_dir.join(format!("{target}.rs")).exists(), "fuzz/fuzz_targets/{target}.rs");
    }
    Ok(())
}
