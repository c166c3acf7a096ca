//! `vigia check-metrics [--format auto|text|openmetrics] [--strict] [FILE|-|URL]`: like
//! `promtool check metrics`. Exit 0 when the input is valid exposition, 1 when it is not
//! (with line:column and the reason), 3 with `--strict` when lint found something.

use super::EXIT_FAILURE;
use crate::metrics::exposition::{Format, SCRAPE_ACCEPT, lint};
use clap::Args;
use std::io::Read;

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

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatChoice {
    Auto,
    Text,
    Openmetrics,
}

/// `--strict` and lint findings.
pub const EXIT_LINT: u8 = 3;

pub fn execute(args: &CheckMetricsArgs) -> u8 {
    let input = args.input.as_deref().unwrap_or("-");
    let (body, content_type) = match read(input) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("{input}: {error}");
            return EXIT_FAILURE;
        }
    };
    let format = match args.format {
        FormatChoice::Text => Format::Text,
        FormatChoice::Openmetrics => Format::OpenMetrics,
        FormatChoice::Auto => match content_type {
            Some(content_type) => Format::from_content_type(&content_type),
            None => guess(&body),
        },
    };
    match lint::lint(&body, format) {
        Err(error) => {
            eprintln!("{input}:{error}");
            eprintln!("{input}: not valid {}", name(format));
            EXIT_FAILURE
        }
        Ok(findings) => {
            for finding in &findings {
                eprintln!(
                    "{input}:{}: warning: {}: {}",
                    finding.line, finding.metric, finding.message
                );
            }
            eprintln!(
                "{input}: valid {}, {} lint finding{}",
                name(format),
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            );
            if args.strict && !findings.is_empty() {
                EXIT_LINT
            } else {
                0
            }
        }
    }
}

fn name(format: Format) -> &'static str {
    match format {
        Format::Text => "text format 0.0.4",
        Format::OpenMetrics => "OpenMetrics 1.0",
    }
}

/// OpenMetrics when the body ends with `# EOF`.
fn guess(body: &str) -> Format {
    if body.trim_end_matches('\n').ends_with("# EOF") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// The body, and the content type when it came over HTTP.
fn read(input: &str) -> Result<(String, Option<String>), String> {
    if input.starts_with("http://") || input.starts_with("https://") {
        return fetch(input);
    }
    let mut bytes = Vec::new();
    if input == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
    } else {
        bytes = std::fs::read(input).map_err(|e| e.to_string())?;
    }
    String::from_utf8(bytes)
        .map(|body| (body, None))
        .map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

fn fetch(url: &str) -> Result<(String, Option<String>), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let response = crate::http_client::builder(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?
            .get(url)
            .header("Accept", SCRAPE_ACCEPT)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let content_type = response
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok((body, content_type))
    })
}
