//! Golden files: the expected output lives in `tests/data/golden/`; run with
//! `UPDATE_GOLDEN=1` to rewrite them after an intended change (and review the diff).

use pretty_assertions::assert_eq;

pub fn assert_golden(name: &str, actual: &str) {
    let path = super::data("golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(expected, actual, "output differs from {}", path.display());
}
