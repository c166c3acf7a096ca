//! `vigia check-metrics [--format auto|text|openmetrics] [--strict] [FILE|-|URL]`: like
//! `promtool check metrics`. Exit 0 when the input is valid exposition, 1 when it is not
//! (with line:column and the reason), 3 with `--strict` when lint found something. The input
//! is checked as it is read, in memory bounded by the longest line and one family's series
//! hashes.

use super::EXIT_FAILURE;
use crate::metrics::exposition::parser::ParseError;
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

type Verdict = Result<Vec<lint::Finding>, ParseError>;

/// Checks the input as it is read. The format is the one forced, else the Content-Type of
/// a URL, else for a file whether it ends with `# EOF`; stdin, which cannot be looked at
/// ahead, is checked as both and judged by its last line.
fn check(input: &str, forced: Option<Format>) -> Result<(Format, Verdict), String> {
    if input.starts_with("http://") || input.starts_with("https://") {
        return fetch(input, forced);
    }
    if input == "-" {
        let formats = match forced {
            Some(format) => vec![format],
            None => vec![Format::Text, Format::OpenMetrics],
        };
        let mut checks = Checks::new(&formats);
        read_all(std::io::stdin(), &mut checks)?;
        return Ok(checks.finish(forced));
    }
    let mut file = std::fs::File::open(input).map_err(|e| e.to_string())?;
    let format = match forced {
        Some(format) => format,
        None => guess_file(&mut file).map_err(|e| e.to_string())?,
    };
    let mut checks = Checks::new(&[format]);
    read_all(file, &mut checks)?;
    Ok(checks.finish(Some(format)))
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

/// One linter per candidate format, fed the same lines; one that fails stops being fed.
struct Checks {
    linters: Vec<(Format, Option<lint::Linter>, Option<ParseError>)>,
    /// The input's last line was `# EOF`.
    ended_with_eof: bool,
    lines: usize,
}

impl Checks {
    fn new(formats: &[Format]) -> Self {
        Self {
            linters: formats
                .iter()
                .map(|&format| (format, Some(lint::Linter::new(format)), None))
                .collect(),
            ended_with_eof: false,
            lines: 0,
        }
    }

    fn line(&mut self, line: &str) {
        self.lines += 1;
        self.ended_with_eof = line == "# EOF";
        for (_, linter, failed) in &mut self.linters {
            if let Some(active) = linter
                && let Err(error) = active.line(line)
            {
                *failed = Some(error);
                *linter = None;
            }
        }
    }

    fn finish(self, forced: Option<Format>) -> (Format, Verdict) {
        let format = forced.unwrap_or(if self.ended_with_eof {
            Format::OpenMetrics
        } else {
            Format::Text
        });
        let (_, linter, failed) = self
            .linters
            .into_iter()
            .find(|(f, _, _)| *f == format)
            .expect("a linter per candidate format");
        let verdict = match (linter, failed) {
            (_, Some(error)) => Err(error),
            (Some(linter), None) => linter.finish(),
            (None, None) => unreachable!("a linter is dropped only with its error"),
        };
        (format, verdict)
    }
}

/// Cuts chunks into lines as they arrive; only a line that spans chunks is copied.
#[derive(Default)]
struct LineCutter {
    carry: Vec<u8>,
}

impl LineCutter {
    fn push(&mut self, mut chunk: &[u8], checks: &mut Checks) -> Result<(), String> {
        while let Some(end) = memchr::memchr(b'\n', chunk) {
            if self.carry.is_empty() {
                feed(&chunk[..end], checks)?;
            } else {
                self.carry.extend_from_slice(&chunk[..end]);
                let line = std::mem::take(&mut self.carry);
                feed(&line, checks)?;
            }
            chunk = &chunk[end + 1..];
        }
        if self.carry.len() + chunk.len() > MAX_LINE_BYTES {
            return Err(format!(
                "line {}: longer than {} MiB",
                checks.lines + 1,
                MAX_LINE_BYTES >> 20
            ));
        }
        self.carry.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(self, checks: &mut Checks) -> Result<(), String> {
        if self.carry.is_empty() {
            return Ok(());
        }
        feed(&self.carry, checks)
    }
}

fn feed(line: &[u8], checks: &mut Checks) -> Result<(), String> {
    let text = std::str::from_utf8(line).map_err(|e| {
        format!(
            "line {}: not UTF-8 (byte {})",
            checks.lines + 1,
            e.valid_up_to()
        )
    })?;
    checks.line(text);
    Ok(())
}

/// Reads on a thread of its own while this one checks: on a file in the page cache, the
/// kernel's copy into our buffer is a third of the work, and it overlaps with parsing. The
/// buffers go round a bounded channel and come back to the reader, so memory stays at
/// `BUFFERS` buffers whatever the input's size.
fn read_all(reader: impl Read + Send, checks: &mut Checks) -> Result<(), String> {
    const BUFFER_BYTES: usize = 256 * 1024;
    const BUFFERS: usize = 4;
    let (full_tx, full_rx) =
        std::sync::mpsc::sync_channel::<std::io::Result<(Vec<u8>, usize)>>(BUFFERS);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        empty_tx
            .send(vec![0u8; BUFFER_BYTES])
            .expect("room for every buffer");
    }
    std::thread::scope(|scope| {
        scope.spawn(move || fill(reader, &empty_rx, &full_tx));
        let mut cutter = LineCutter::default();
        // Every exit drops `full_rx` (and `empty_tx`), which stops the reader.
        for filled in full_rx {
            let (buffer, read) = filled.map_err(|e| e.to_string())?;
            cutter.push(&buffer[..read], checks)?;
            // The reader may have stopped at the end of the input: a buffer it will not take
            // back is dropped.
            let _ = empty_tx.send(buffer);
        }
        cutter.finish(checks)
    })
}

/// The reader's side of [`read_all`]: fills the empty buffers it is given, until the end of
/// the input, an error, or the checker hanging up.
fn fill(
    mut reader: impl Read,
    empty: &std::sync::mpsc::Receiver<Vec<u8>>,
    full: &std::sync::mpsc::SyncSender<std::io::Result<(Vec<u8>, usize)>>,
) {
    while let Ok(mut buffer) = empty.recv() {
        let read = loop {
            match reader.read(&mut buffer) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => return,
            Ok(read) => {
                if full.send(Ok((buffer, read))).is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = full.send(Err(error));
                return;
            }
        }
    }
}

fn fetch(url: &str, forced: Option<Format>) -> Result<(Format, Verdict), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut response = crate::http_client::builder(std::time::Duration::from_secs(30))
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
        let format = forced.unwrap_or_else(|| {
            response
                .headers()
                .get("Content-Type")
                .and_then(|v| v.to_str().ok())
                .map_or(Format::Text, Format::from_content_type)
        });
        let mut checks = Checks::new(&[format]);
        let mut cutter = LineCutter::default();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            cutter.push(&chunk, &mut checks)?;
        }
        cutter.finish(&mut checks)?;
        Ok(checks.finish(Some(format)))
    })
}
