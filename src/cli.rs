//! The command line: a thin layer that parses arguments, sets up logging and hands over to
//! a command. Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.

use crate::cmd;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

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
    /// Print the version, git commit and build date
    Version,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (YAML). Without it, the embedded default runs.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address of the admin server, overriding admin.listen (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Runtime worker threads (default: the number of CPUs, at most 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub worker_threads: Option<u16>,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Log format: auto (detected per line), json, logfmt, access, syslog, klog, python, java, go, plain
    #[arg(long, short, value_enum, default_value = "auto")]
    pub format: crate::logs::parse::Format,
    /// Container-log framing: auto, cri, docker, raw
    #[arg(long, value_enum, default_value = "auto")]
    pub container: crate::logs::frame::ContainerFormat,
    /// Multiline rule: auto, none, java, python, go, ruby, nodejs
    #[arg(long, value_enum, default_value = "auto")]
    pub multiline: crate::logs::frame::MultilineMode,
    /// Take this RFC 3339 time as now: the read time of events without one, and the year of
    /// dates written without one (syslog, klog). For reproducible output.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// Optional redaction rules to add to the defaults: email, ip
    #[arg(long, value_name = "RULE", value_parser = ["email", "ip"])]
    pub redact: Vec<String>,
    /// The log file to read; `-` or nothing reads stdin
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file to check
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckMetricsArgs {
    /// The format: auto (from the Content-Type of a URL, or `# EOF` at the end), text or
    /// openmetrics
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatChoice,
    /// Lint findings (missing HELP, counters without _total, non-base units…) fail the check
    #[arg(long)]
    pub strict: bool,
    /// A file, `-` for stdin (the default), or an http(s):// URL to scrape
    #[arg(value_name = "FILE|-|URL")]
    pub input: Option<String>,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The CSV file (`-` for stdin): `timestamp,value` rows, timestamps RFC 3339 or unix seconds
    #[arg(long, value_name = "FILE.csv")]
    pub input: String,
    /// samples: one request latency per row; quantiles: one per-interval quantile per row
    #[arg(long, value_enum, default_value = "samples")]
    pub kind: crate::latency::offline::InputKind,
    /// Window length
    #[arg(long, default_value = "1m", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Values are milliseconds (default: seconds)
    #[arg(long)]
    pub milliseconds: bool,
    /// Smallest relative increase reported (0.1 = 10 %)
    #[arg(long, default_value_t = 0.10)]
    pub min_relative: f64,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| e.to_string())
        .and_then(|d| {
            if d < std::time::Duration::from_millis(100) {
                Err("the interval must be at least 100ms".to_owned())
            } else {
                Ok(d)
            }
        })
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatChoice {
    Auto,
    Text,
    Openmetrics,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => cmd::run::execute(args, cli.log_level.as_deref()),
        Command::CheckConfig(args) => cmd::check_config::execute(&args),
        Command::Parse(args) => cmd::parse::execute(&args),
        Command::CheckMetrics(args) => cmd::check_metrics::execute(&args),
        Command::Detect(args) => cmd::detect::execute(&args),
        Command::Version => {
            println!("{}", crate::build_info::describe());
            0
        }
    };
    ExitCode::from(code)
}

fn parse_now(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}); example: 2024-05-01T12:00:00Z"))
}
