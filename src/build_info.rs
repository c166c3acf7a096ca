//! What this binary is: version, commit and build date, stamped by `build.rs`.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("VIGIA_GIT_COMMIT");
pub const BUILD_DATE: &str = env!("VIGIA_BUILD_DATE");

/// `--version` and `vigia version` output: version, commit, build date.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("VIGIA_GIT_COMMIT"),
    ", built ",
    env!("VIGIA_BUILD_DATE"),
    ")"
);

/// One line for `vigia version` and the startup log.
pub fn describe() -> String {
    format!("vigia {LONG_VERSION}")
}
