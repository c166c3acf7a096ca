//! `vigia check-metrics [--format auto|text|openmetrics] [--strict] [FILE|-|URL]`: like
//! `promtool check metrics`. Exit 0 when the input is valid exposition, 1 when it is not
//! (with line:column and the reason), 3 with `--strict` when lint found something. The input
//! is checked as it is read, on every core ([`segmented`]), in memory bounded by a few
//! segment buffers, the longest line and one family's series hashes.

use super::EXIT_FAILURE;
use crate::metrics::exposition::{Format, SCRAPE_ACCEPT};
use clap::Args;
use segmented::Verdict;
use std::io::Read;

mod segmented;

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

/// The longest line read: a 100,000-label series is 1.6 MB; anything near this is not an
/// exposition, and refusing it keeps memory bounded.
pub const MAX_LINE_BYTES: usize = 64 << 20;

pub fn execute(args: &CheckMetricsArgs) -> u8 {
    let input = args.input.as_deref().unwrap_or("-");
    let forced = match args.format {
        FormatChoice::Text => Some(Format::Text),
        FormatChoice::Openmetrics => Some(Format::OpenMetrics),
        FormatChoice::Auto => None,
    };
    let (format, verdict) = match check(input, forced) {
        Ok(checked) => checked,
        Err(error) => {
            eprintln!("{input}: {error}");
            return EXIT_FAILURE;
        }
    };
    match verdict {
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

/// Checks the input as it is read. The format is the one forced, else the Content-Type of
/// a URL, else for a file whether it ends with `# EOF`; stdin, which cannot be looked at
/// ahead, is checked as both and judged by its last line.
fn check(input: &str, forced: Option<Format>) -> Result<(Format, Verdict), String> {
    let sizes = segmented::Sizes::default();
    if input.starts_with("http://") || input.starts_with("https://") {
        let (format, source) = fetch(input, forced)?;
        return segmented::check(source, &[format], Some(format), sizes);
    }
    if input == "-" {
        let formats = match forced {
            Some(format) => vec![format],
            None => vec![Format::Text, Format::OpenMetrics],
        };
        return segmented::check(reading(std::io::stdin()), &formats, forced, sizes);
    }
    let mut file = std::fs::File::open(input).map_err(|e| e.to_string())?;
    let format = match forced {
        Some(format) => format,
        None => guess_file(&mut file).map_err(|e| e.to_string())?,
    };
    segmented::check(reading(file), &[format], Some(format), sizes)
}

/// A source that reads `reader` [`segmented::READ_BYTES`] at a time.
fn reading(mut reader: impl Read + Send + 'static) -> segmented::Source {
    Box::new(move |buffer: &mut Vec<u8>| {
        let read = (&mut reader)
            .take(segmented::READ_BYTES as u64)
            .read_to_end(buffer)
            .map_err(|e| e.to_string())?;
        Ok(read > 0)
    })
}

/// OpenMetrics when the file ends with `# EOF` (its last bytes, read first).
fn guess_file(file: &mut std::fs::File) -> std::io::Result<Format> {
    use std::io::{Seek, SeekFrom};
    let length = file.metadata()?.len();
    let tail_length = length.min(64);
    file.seek(SeekFrom::Start(length - tail_length))?;
    let mut tail = Vec::new();
    file.by_ref().take(tail_length).read_to_end(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;
    let tail = String::from_utf8_lossy(&tail);
    Ok(if tail.trim_end_matches('\n').ends_with("# EOF") {
        Format::OpenMetrics
    } else {
        Format::Text
    })
}

/// The scrape's format, and a source that reads its body as it arrives.
fn fetch(url: &str, forced: Option<Format>) -> Result<(Format, segmented::Source), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let response = runtime.block_on(async {
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
        Ok(response)
    })?;
    let format = forced.unwrap_or_else(|| {
        response
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .map_or(Format::Text, Format::from_content_type)
    });
    let mut response = response;
    let source: segmented::Source = Box::new(move |buffer: &mut Vec<u8>| {
        match runtime
            .block_on(response.chunk())
            .map_err(|e| e.to_string())?
        {
            Some(chunk) => {
                buffer.extend_from_slice(&chunk);
                Ok(true)
            }
            None => Ok(false),
        }
    });
    Ok((format, source))
}
