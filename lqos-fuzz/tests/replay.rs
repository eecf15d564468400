//! Replays the committed corpus (`corpus/<target>/`, minimised by `scripts/fuzz.sh`) and the
//! inputs that once broke a target (`regressions/<target>/`) through the fuzz targets: every
//! file must pass without a panic. CI does not fuzz; this keeps what the fuzzer found fixed.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// The files of `target` under `kind` that panic, with the panic's message.
fn panics(kind: &str, target: &lqos_fuzz::Target) -> (usize, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target.name);
    let files = files(&dir);
    let failed = files
        .iter()
        .filter_map(|f| {
            let data = std::fs::read(f).ok()?;
            let outcome = std::panic::catch_unwind(|| (target.run)(&data));
            outcome.err().map(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("{}: {msg}", f.display())
            })
        })
        .collect();
    (files.len(), failed)
}

#[test]
fn every_target_has_a_corpus_and_every_corpus_file_passes() {
    let mut failed = Vec::new();
    for target in lqos_fuzz::TARGETS {
        let (count, mut bad) = panics("corpus", target);
        assert!(
            count > 0,
            "lqos-fuzz/corpus/{} is missing or empty: scripts/fuzz.sh builds it",
            target.name
        );
        failed.append(&mut bad);
    }
    assert!(
        failed.is_empty(),
        "inputs that panic:\n{}",
        failed.join("\n")
    );
}

#[test]
fn every_regression_input_passes() {
    let mut failed = Vec::new();
    for target in lqos_fuzz::TARGETS {
        failed.append(&mut panics("regressions", target).1);
    }
    assert!(
        failed.is_empty(),
        "inputs that panic:\n{}",
        failed.join("\n")
    );
}

#[test]
fn every_corpus_directory_names_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for kind in ["corpus", "regressions"] {
        for dir in std::fs::read_dir(root.join(kind))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = dir.file_name().to_string_lossy().into_owned();
            assert!(
                lqos_fuzz::target(&name).is_some(),
                "lqos-fuzz/{kind}/{name} names no target"
            );
        }
    }
}
