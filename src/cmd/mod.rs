//! One module per subcommand.

pub mod check_config;
pub mod check_metrics;
pub mod detect;
pub mod parse;
pub mod run;
