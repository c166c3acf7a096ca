//! One module per subcommand: its arguments (clap) and what it does. `cli` only dispatches.

/// Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

pub mod check_config;
pub mod check_metrics;
pub mod detect;
pub mod parse;
pub mod run;
