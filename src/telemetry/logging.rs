//! The agent's own logs: `tracing` to stderr — JSON when stderr is not a terminal (containers,
//! systemd, log collectors), human-readable text otherwise. The filter comes from
//! `--log-level`, else `VIGIA_LOG`, else `info`; it takes `tracing` directives
//! (`debug`, `vigia::sink=trace,info`).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub const ENV_VAR: &str = "VIGIA_LOG";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

/// Installs the global subscriber. Returns an error for an invalid filter directive.
pub fn init(level: Option<&str>, format: LogFormat) -> Result<(), String> {
    let directives = level
        .map(str::to_owned)
        .or_else(|| std::env::var(ENV_VAR).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "info".to_owned());
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|error| format!("invalid log level `{directives}`: {error}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = installed;
    Ok(())
}
