//! Every example configuration shipped in `examples/` is valid.

use crate::support::agent::vigia;

#[test]
fn every_example_configuration_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let output = vigia().arg("check-config").arg(&path).output().unwrap();
            assert!(
                output.status.success(),
                "{}:\n{}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected the quickstart, sidecar and node-agent examples"
    );
}
