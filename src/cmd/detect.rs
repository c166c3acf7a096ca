//! `vigia detect --input FILE.csv [--kind samples|quantiles]`: one JSON line per latency
//! regression the live detector would have raised on that series.

use crate::cli::{DetectArgs, EXIT_FAILURE};
use crate::latency::detector::DetectorSettings;
use crate::latency::offline::{InputKind, detect, read_rows};
use crate::latency::unix_to_rfc3339;
use std::io::{BufRead, BufReader, Write};

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
    let rows = match read_rows(input, scale) {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("{}:{error}", args.input);
            return EXIT_FAILURE;
        }
    };
    let mut settings = match args.kind {
        InputKind::Samples => DetectorSettings::default(),
        InputKind::Quantiles => DetectorSettings::for_interval_values(),
    };
    settings.min_relative = args.min_relative;
    let regressions = detect(&rows, args.interval.as_secs_f64(), &settings);
    let mut out = std::io::stdout().lock();
    for regression in &regressions {
        let line = Line {
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
    eprintln!(
        "{} rows, {} regression{}",
        rows.len(),
        regressions.len(),
        if regressions.len() == 1 { "" } else { "s" }
    );
    0
}

/// One output line, fields in this order.
#[derive(serde::Serialize)]
struct Line {
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
