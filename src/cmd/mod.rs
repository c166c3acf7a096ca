//! One module per subcommand.

pub mod check_config;
pub mod parse;
pub mod run;
