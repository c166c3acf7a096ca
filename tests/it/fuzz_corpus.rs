//! The fuzz targets' committed corpora (`fuzz/corpus/<target>.tar.gz`, minimized by
//! `bench/fuzz-corpus.sh pack`) and the inputs of bugs they found
//! (`fuzz/regressions/<target>/`, each named after its bug), replayed through the same entry
//! points on stable: what fuzzing once reached keeps being checked on every run, without
//! nightly.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_fuzz_input_runs_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let unpacked = tempfile::tempdir().unwrap();
    let mut replayed = Vec::new();
    for (target, run) in vigia::fuzzing::TARGETS {
        let corpus = unpacked.path().join(target);
        std::fs::create_dir_all(&corpus).unwrap();
        let archive = root.join("corpus").join(format!("{target}.tar.gz"));
        if archive.exists() {
            let status = std::process::Command::new("tar")
                .arg("-xzf")
                .arg(&archive)
                .arg("-C")
                .arg(&corpus)
                .status()
                .unwrap();
            assert!(status.success(), "cannot unpack {}", archive.display());
        }
        let mut count = 0;
        for dir in [corpus, root.join("regressions").join(target)] {
            for input in inputs(&dir) {
                // A fuzzer running beside the tests may have replaced it meanwhile.
                let Ok(data) = std::fs::read(&input) else {
                    continue;
                };
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "{target}: {} panics", input.display());
                count += 1;
            }
        }
        replayed.push((target, count));
    }
    eprintln!("replayed: {replayed:?}");
    for (target, count) in replayed {
        assert!(
            count > 0,
            "no committed corpus for the fuzz target {target}"
        );
    }
}
