//! Replays every committed seed (`fuzz/seeds/<target>/`) and every input the
//! fuzzer ever found (`fuzz/regressions/<target>/`) through the same harness
//! functions the fuzz targets call, so plain `cargo test` (and CI, which has
//! no fuzzer) keeps each finding fixed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use tessera_fuzz_harness::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for (target, harness) in TARGETS {
        for file in files(&fuzz_dir().join(kind).join(target)) {
            // A running fuzzer may remove corpus files it has reduced.
            let Ok(data) = std::fs::read(&file) else {
                continue;
            };
            count += 1;
            if std::panic::catch_unwind(|| harness(&data)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that fail their harness: {failures:#?}");
    count
}

#[test]
fn every_seed_passes_its_harness() {
    for (target, _) in TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(target));
        assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no seed");
    }
    assert!(replay("seeds") >= TARGETS.len());
}

#[test]
fn every_found_input_stays_fixed() {
    replay("regressions");
}

/// The corpus a fuzzing run grew (git-ignored, so not in CI), replayed on
/// the stable test build: checks a fix against every input the fuzzer
/// kept, without the fuzzer. `cargo test -p tessera-fuzz-harness --
/// --ignored` after `scripts/fuzz`.
#[test]
#[ignore = "needs a local fuzz/corpus from scripts/fuzz"]
fn the_local_corpus_passes() {
    println!("replayed {} corpus inputs", replay("corpus"));
}
