//! `vigia detect --input FILE.csv [--kind samples|quantiles]`: one JSON line per latency
//! regression the live detector would have raised on that series.

use super::EXIT_FAILURE;
use crate::latency::detector::DetectorSettings;
use crate::latency::offline::{InputKind, Rows, detect, read_rows};
use crate::latency::quantile_series::{SeriesSettings, detect_series, infer_interval};
use crate::latency::unix_to_rfc3339;
use clap::Args;
use std::io::{BufRead, BufReader, Write};

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The CSV file (`-` for stdin): `timestamp,value` rows, timestamps RFC 3339 or unix seconds
    #[arg(long, value_name = "FILE.csv")]
    pub input: String,
    /// samples: one request latency per row; quantiles: one per-interval quantile per row
    #[arg(long, default_value = "samples", value_parser = super::enum_value::<crate::latency::offline::InputKind>)]
    pub kind: crate::latency::offline::InputKind,
    /// Window length for samples (default 1m); for quantiles the rows' interval, inferred
    /// from the timestamps when not given
    #[arg(long, value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,
    /// The quantile a `--kind quantiles` series holds (reported with each regression)
    #[arg(long, default_value_t = 0.95, value_parser = parse_quantile)]
    pub quantile: f64,
    /// Values are milliseconds (default: seconds)
    #[arg(long)]
    pub milliseconds: bool,
    /// Smallest relative increase reported (0.1 = 10 %)
    #[arg(long, default_value_t = 0.10)]
    pub min_relative: f64,
}

fn parse_quantile(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(q) if q > 0.0 && q < 1.0 => Ok(q),
        _ => Err("a quantile is a number between 0 and 1, e.g. 0.95".to_owned()),
    }
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

pub fn execute(args: &DetectArgs) -> u8 {
    let input: Box<dyn BufRead> = if args.input == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(&args.input) {
            Ok(file) => Box::new(BufReader::new(file)),
            Err(error) => {
                eprintln!("error: cannot open {}: {error}", args.input);
                return EXIT_FAILURE;
            }
        }
    };
    let scale = if args.milliseconds { 1e-3 } else { 1.0 };
    let Rows {
        rows,
        without_value,
    } = match read_rows(input, scale) {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("{}:{error}", args.input);
            return EXIT_FAILURE;
        }
    };
    let regressions = match args.kind {
        InputKind::Samples => {
            let settings = DetectorSettings {
                min_relative: args.min_relative,
                ..DetectorSettings::default()
            };
            let interval = args.interval.map_or(60.0, |d| d.as_secs_f64());
            detect(&rows, interval, &settings)
        }
        InputKind::Quantiles => {
            let settings = SeriesSettings {
                quantile: args.quantile,
                min_relative: args.min_relative,
                min_relative_first_day: args.min_relative.max(0.30),
                ..SeriesSettings::default()
            };
            let interval = args
                .interval
                .map(|d| d.as_secs_f64())
                .or_else(|| infer_interval(&rows))
                .unwrap_or(60.0);
            detect_series(&rows, interval, &settings)
        }
    };
    let mut out = std::io::stdout().lock();
    for regression in &regressions {
        let line = Line {
            kind: regression.kind,
            start: unix_to_rfc3339(regression.start),
            detected_at: unix_to_rfc3339(regression.detected_at),
            quantile: regression.quantile,
            baseline: micros(regression.baseline),
            current: micros(regression.current),
            ratio: (regression.ratio * 1000.0).round() / 1000.0,
            compared_with: regression.compared_with,
            ended_at: regression.ended_at.map(unix_to_rfc3339),
            end_reason: regression.end_reason,
        };
        let line = serde_json::to_string(&line).expect("plain fields serialize");
        if writeln!(out, "{line}").is_err() {
            return 0;
        }
    }
    let skipped = if without_value > 0 {
        format!(" ({without_value} more with no value, skipped)")
    } else {
        String::new()
    };
    eprintln!(
        "{} rows{skipped}, {} regression{}",
        rows.len(),
        regressions.len(),
        if regressions.len() == 1 { "" } else { "s" }
    );
    0
}

/// One output line, fields in this order.
#[derive(serde::Serialize)]
struct Line {
    /// `regression`, or `incident` for an excursion that recovered within the hour.
    kind: &'static str,
    start: String,
    detected_at: String,
    quantile: f64,
    baseline: f64,
    current: f64,
    ratio: f64,
    compared_with: &'static str,
    ended_at: Option<String>,
    end_reason: Option<&'static str>,
}

fn micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}
