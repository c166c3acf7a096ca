//! `vigia parse [--format F] [FILE|-]`: the canonical record of each event in a file, as
//! `vigia run` would make it (the same framing, multiline, parsing, normalization and
//! redaction code), one JSON object per line on stdout.

use super::EXIT_FAILURE;
use crate::logs::frame::{Framer, MultilineSettings};
use crate::logs::normalize::Normalizer;
use crate::logs::pipeline::Origin;
use crate::logs::redact::{DEFAULT_RULES, Redactor};
use crate::logs::source::raw_lines;
use crate::logs::timestamp::now_nanos;
use crate::telemetry::AgentMetrics;
use clap::Args;
use std::io::{BufWriter, Read, Write};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Log format: auto (detected per line), json, logfmt, access, syslog, klog, logcat, cbs, ras, python, java, go, plain
    #[arg(long, short, default_value = "auto", value_parser = super::enum_value::<crate::logs::parse::Format>)]
    pub format: crate::logs::parse::Format,
    /// Container-log framing: auto, cri, docker, raw
    #[arg(long, default_value = "auto", value_parser = super::enum_value::<crate::logs::frame::ContainerFormat>)]
    pub container: crate::logs::frame::ContainerFormat,
    /// Multiline rule: auto, none, java, python, go, ruby, nodejs
    #[arg(long, default_value = "auto", value_parser = multiline_mode)]
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

fn parse_now(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}); example: 2024-05-01T12:00:00Z"))
}

const MAX_LINE_BYTES: usize = 256 * 1024;

pub fn execute(args: &ParseArgs) -> u8 {
    match run(args) {
        Ok(()) => 0,
        // A closed stdout (`vigia parse app.log | head`) is not an error worth a message.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_FAILURE
        }
    }
}

fn run(args: &ParseArgs) -> std::io::Result<()> {
    if let Some(now) = args.now {
        crate::logs::timestamp::set_reference_now(now);
    }
    let (mut input, name): (Box<dyn Read>, Option<Arc<str>>) =
        match args.file.as_deref() {
            None | Some("-") => (Box::new(std::io::stdin().lock()), None),
            Some(path) => (
                Box::new(std::fs::File::open(path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot open {path}: {e}"))
                })?),
                Some(Arc::from(path)),
            ),
        };
    let metrics = AgentMetrics::new();
    let counters = metrics.source("parse");
    let mut rules: Vec<String> = DEFAULT_RULES.iter().map(|r| (*r).to_owned()).collect();
    rules.extend(args.redact.iter().cloned());
    let redactor = Redactor::new(&rules, &[], |rule| metrics.redactions(rule))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut normalizer = Normalizer::new(args.format, Arc::new(redactor));
    let multiline = MultilineSettings {
        mode: args.multiline,
        ..MultilineSettings::auto(MAX_LINE_BYTES)
    };
    let mut framer = Framer::new(args.container, multiline, MAX_LINE_BYTES, 0);
    let origin = Origin {
        source_id: Arc::from("parse"),
        file: name,
        kubernetes: None,
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut buffer = vec![0u8; 64 * 1024];
    let mut events = Vec::new();
    let mut line = Vec::with_capacity(1024);
    loop {
        let finished = match input.read(&mut buffer) {
            Ok(0) => {
                framer.finish(Instant::now(), &mut events);
                true
            }
            Ok(read) => {
                framer.push(&buffer[..read], Instant::now(), &mut events);
                false
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        write(
            &mut out,
            &mut normalizer,
            &origin,
            &mut events,
            &counters,
            &mut line,
        )?;
        if finished {
            break;
        }
    }
    out.flush()
}

fn write(
    out: &mut impl Write,
    normalizer: &mut Normalizer,
    origin: &Origin,
    events: &mut Vec<crate::logs::frame::CompleteLine>,
    counters: &crate::telemetry::agent_metrics::SourceCounters,
    line: &mut Vec<u8>,
) -> std::io::Result<()> {
    for raw in raw_lines(events.drain(..), now_nanos(), None, counters) {
        line.clear();
        normalizer.normalize_into(&raw, origin, line);
        out.write_all(line)?;
    }
    Ok(())
}

/// A built-in multiline rule (`custom` needs patterns, which only a configuration file gives).
fn multiline_mode(text: &str) -> Result<crate::logs::frame::MultilineMode, String> {
    match super::enum_value(text)? {
        crate::logs::frame::MultilineMode::Custom => {
            Err("custom rules need patterns: set them in a configuration file".to_owned())
        }
        mode => Ok(mode),
    }
}
