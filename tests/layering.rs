//! The layers `src/lib.rs` describes, checked: every `crate::` path in the
//! code of a module names a module of a lower layer (or itself). Doc and
//! line comments may point anywhere; code may not point up.

mod common;

use std::path::Path;

use common::TestResult;

/// Each top-level module of `src/` and its layer, lowest first.
const LAYERS: &[(&str, u32)] = &[
    ("storage", 0),
    ("limits", 0),
    ("error_kind", 0),
    ("base64", 0),
    ("json_object", 0),
    ("background", 0),
    ("log", 1),
    ("records", 2),
    ("error", 2),
    ("store", 3),
    ("search", 4),
    ("facade", 5),
    ("timetravel", 6),
    ("compaction", 6),
    ("subscribe", 7),
    ("export", 7),
    ("server", 8),
    ("cli", 9),
    ("fuzzing", 10),
];

fn layer_of(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|&(_, layer)| layer)
}

/// The module names that `crate::` paths in the code of `text` start with.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().filter(|line| !line.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String =
                rest.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, into)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
    Ok(())
}

#[test]
fn no_module_imports_a_layer_above_its_own() -> TestResult {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files)?;
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src)?;
        let top = relative.components().next().ok_or("a path")?.as_os_str().to_string_lossy().into_owned();
        let module = top.trim_end_matches(".rs");
        if matches!(module, "lib" | "bin") {
            continue;
        }
        let own =
            layer_of(module).ok_or_else(|| format!("src/{module} is in no layer: add it to LAYERS and lib.rs"))?;
        for target in crate_paths(&std::fs::read_to_string(file)?) {
            match layer_of(&target) {
                Some(layer) if layer > own || (layer == own && target != module) => {
                    violations.push(format!("{} imports crate::{target}", relative.display()));
                }
                _ => {}
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(violations.is_empty(), "imports that go up or sideways:\n{}", violations.join("\n"));
    Ok(())
}

#[test]
fn the_check_sees_an_upward_path_and_ignores_comments() {
    let text = "use crate::store::Store;\n// see crate::server\nlet x = crate::base64::encode(b);";
    assert_eq!(crate_paths(text), ["store", "base64"]);
}
