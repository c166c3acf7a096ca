//! The admin API's keys and tokens made by the real commands, as a user would:
//! `vigia keys rotate` and `vigia token issue`, in a test's directory.

use super::agent::vigia;
use std::path::{Path, PathBuf};

/// Runs `vigia args…`, which must succeed; its standard output, trimmed.
pub fn vigia_ok(args: &[&str]) -> String {
    let output = vigia().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "vigia {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `dir/jwks.json` and `dir/keys`, rotated at `now` (Unix seconds; the clock when `None`).
pub fn rotate(dir: &Path, now: Option<u64>) -> PathBuf {
    let (jwks, keys) = (dir.join("jwks.json"), dir.join("keys"));
    let now = now.map(|n| n.to_string());
    let mut args = vec![
        "keys",
        "rotate",
        "--jwks",
        jwks.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ];
    if let Some(now) = &now {
        args.extend(["--now", now.as_str()]);
    }
    vigia_ok(&args);
    jwks
}

/// A token from the current key of `dir/keys` with `scope`, valid an hour.
pub fn issue(dir: &Path, scope: &str) -> String {
    let keys = dir.join("keys");
    vigia_ok(&[
        "token",
        "issue",
        "--keys",
        keys.to_str().unwrap(),
        "--ttl",
        "1h",
        "--scope",
        scope,
    ])
}
