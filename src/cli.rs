//! The command line: a thin layer that parses arguments, sets up logging and hands over to
//! a command. Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.

use crate::cmd;
use crate::cmd::check_config::CheckConfigArgs;
use crate::cmd::check_metrics::CheckMetricsArgs;
use crate::cmd::detect::DetectArgs;
use crate::cmd::parse::ParseArgs;
use crate::cmd::run::RunArgs;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "vigia",
    version,
    long_version = crate::build_info::LONG_VERSION,
    about = "Observability sidecar and node agent: logs to Loki, metrics on :9100, latency regressions",
    after_help = "With no --config, `vigia run` reads log lines from stdin, normalizes them and writes one JSON record per line to stdout, with /metrics, /healthz and /readyz on 127.0.0.1:9100."
)]
pub struct Cli {
    /// Log filter for the agent's own logs (stderr): error, warn, info, debug, trace, or
    /// tracing directives. Overrides VIGIA_LOG.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent (embedded default without --config: stdin → JSON records on stdout)
    Run(RunArgs),
    /// Validate a configuration file and print it with every default filled in
    CheckConfig(CheckConfigArgs),
    /// Print the canonical JSON record vigia makes of each event in a log file
    Parse(ParseArgs),
    /// Check a Prometheus exposition (text 0.0.4 or OpenMetrics 1.0) like `promtool check
    /// metrics`: exit 0 if valid, 1 if not, 3 with --strict when lint found something
    CheckMetrics(CheckMetricsArgs),
    /// Detect latency regressions in a CSV of `timestamp,value` rows with the agent's detector:
    /// one JSON line per regression
    Detect(DetectArgs),
    /// Manage the admin API's signing keys (rotation every 24 h, for admin.auth)
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Issue admin API bearer tokens (for Prometheus's credentials_file)
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Add vigia as a sidecar to Kubernetes workloads (YAML or JSON on stdin or from files),
    /// or take it out with --uninject: the manifests go to stdout, a report to stderr
    Inject(cmd::inject::InjectArgs),
    /// Print the version, git commit and build date
    Version,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => cmd::run::execute(args, cli.log_level.as_deref()),
        Command::CheckConfig(args) => cmd::check_config::execute(&args),
        Command::Parse(args) => cmd::parse::execute(&args),
        Command::CheckMetrics(args) => cmd::check_metrics::execute(&args),
        Command::Detect(args) => cmd::detect::execute(&args),
        Command::Keys(command) => cmd::keys::execute(&command),
        Command::Token(command) => cmd::token::execute(&command),
        Command::Inject(args) => cmd::inject::execute(&args),
        Command::Version => {
            println!("{}", crate::build_info::describe());
            0
        }
    };
    ExitCode::from(code)
}
