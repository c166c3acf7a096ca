//! `vigia check-config FILE`: every problem with its location, or the resolved configuration.

use super::EXIT_INVALID;
use crate::config;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file to check
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub fn execute(args: &CheckConfigArgs) -> u8 {
    match config::load_file(&args.file) {
        Ok(loaded) => {
            eprintln!("{}: configuration is valid", args.file.display());
            print!("{}", loaded.to_yaml());
            0
        }
        Err(error) => {
            eprintln!("{error}");
            let count = error.diagnostics.len();
            eprintln!(
                "{}: {count} error{}",
                args.file.display(),
                if count == 1 { "" } else { "s" }
            );
            EXIT_INVALID
        }
    }
}
