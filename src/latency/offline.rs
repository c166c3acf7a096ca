//! `vigia detect`: the live detector run over a CSV of `timestamp,value` rows.

use super::detector::{DetectorSettings, Regression, SignalDetector, Transition};
use super::sketch::LatencySketch;
use std::io::BufRead;

/// What each row's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// One request's latency per row.
    Samples,
    /// One per-interval quantile (e.g. a p95 series exported from Prometheus) per row.
    Quantiles,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {reason}")]
pub struct RowError {
    pub line: usize,
    pub reason: String,
}

/// The rows of a CSV, time-ordered, and how many had no value (`NaN`, what Prometheus
/// exports for an interval with no requests).
#[derive(Debug, PartialEq)]
pub struct Rows {
    pub rows: Vec<(f64, f64)>,
    pub without_value: usize,
}

/// Reads `timestamp,value` rows: RFC 3339 or unix seconds, then a number (× `scale` to get
/// seconds). A first line that does not parse is taken as a header; blank lines and `#`
/// comments are skipped, and so are rows whose value is `NaN` (counted).
pub fn read_rows(input: impl BufRead, scale: f64) -> Result<Rows, RowError> {
    let mut rows = Vec::new();
    let mut without_value = 0;
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| RowError {
            line: number,
            reason: e.to_string(),
        })?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_row(line) {
            Ok((_, value)) if value.is_nan() => without_value += 1,
            Ok((time, value)) => rows.push((time, value * scale)),
            Err(_) if number == 1 => continue,
            Err(reason) => {
                return Err(RowError {
                    line: number,
                    reason,
                });
            }
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Rows {
        rows,
        without_value,
    })
}

fn parse_row(line: &str) -> Result<(f64, f64), String> {
    let (time, value) = line
        .split_once(',')
        .ok_or_else(|| "expected `timestamp,value`".to_owned())?;
    let (time, value) = (
        time.trim().trim_matches('"'),
        value.trim().trim_matches('"'),
    );
    let time = match time.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() => seconds,
        _ => chrono::DateTime::parse_from_rfc3339(time)
            .map(|t| t.timestamp_nanos_opt().unwrap_or(0) as f64 / 1e9)
            .map_err(|_| format!("`{time}` is neither RFC 3339 nor unix seconds"))?,
    };
    let value: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if value.is_infinite() || value < 0.0 {
        return Err(format!("`{value}` is not a duration"));
    }
    Ok((time, value))
}

const MAX_EMPTY_WINDOWS: u64 = 10_080;

/// Runs the detector over time-ordered rows grouped into `interval_seconds` windows;
/// returns every regression, ended or still active at the end of the input.
pub fn detect(
    rows: &[(f64, f64)],
    interval_seconds: f64,
    settings: &DetectorSettings,
) -> Vec<Regression> {
    let mut detector = SignalDetector::new(settings);
    let mut found = Vec::new();
    let Some(&(first, _)) = rows.first() else {
        return found;
    };
    let window_of = |time: f64| ((time - first) / interval_seconds).floor() as u64;
    let mut current = 0u64;
    let mut sketch = LatencySketch::new();
    let mut close = |detector: &mut SignalDetector, sketch: LatencySketch, window: u64| {
        let end = first + (window as f64 + 1.0) * interval_seconds;
        for transition in detector.close_window(sketch, end, 1, settings) {
            match transition {
                Transition::Started(regression) => found.push(regression),
                Transition::Ended(ended) => {
                    if let Some(open) = found.iter_mut().rev().find(|r| {
                        r.quantile == ended.quantile && r.detected_at == ended.detected_at
                    }) {
                        open.ended_at = ended.ended_at;
                        open.end_reason = ended.end_reason;
                        open.kind = ended.kind;
                    }
                }
            }
        }
    };
    for &(time, value) in rows {
        let window = window_of(time);
        // A gap of more than a week of empty windows changes nothing more (the baseline has
        // decayed away): skip the rest, so that a stray timestamp cannot make this loop run
        // for billions of windows.
        let mut empty = 0;
        while current < window {
            close(&mut detector, std::mem::take(&mut sketch), current);
            current += 1;
            empty += 1;
            if empty >= MAX_EMPTY_WINDOWS {
                current = window;
            }
        }
        sketch.add(value);
    }
    close(&mut detector, sketch, current);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_take_rfc3339_or_unix_seconds_and_skip_a_header() {
        let csv = "timestamp,latency\n2024-05-01T12:00:00Z,0.120\n1714564801.5,0.080\n\n# note\n";
        let rows = read_rows(csv.as_bytes(), 1.0).unwrap().rows;
        assert_eq!(rows, vec![(1714564800.0, 0.120), (1714564801.5, 0.080)]);
        let ms = read_rows("1,120\n".as_bytes(), 1e-3).unwrap().rows;
        assert_eq!(ms, vec![(1.0, 0.12)]);
        let idle = read_rows("1,0.1\n2,NaN\n3,0.2\n".as_bytes(), 1.0).unwrap();
        assert_eq!(idle.rows, vec![(1.0, 0.1), (3.0, 0.2)]);
        assert_eq!(idle.without_value, 1);
    }

    #[test]
    fn a_stray_far_future_timestamp_ends_quickly() {
        let mut rows: Vec<(f64, f64)> = (0..600).map(|i| (f64::from(i), 0.05)).collect();
        rows.push((1e300, 0.05));
        let started = std::time::Instant::now();
        let found = detect(&rows, 60.0, &DetectorSettings::default());
        assert!(found.is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    /// 4 requests a second, log-normal around 100 ms, `factor` times slower in `slow`.
    fn traffic(hours: f64, slow: std::ops::Range<f64>, factor: f64) -> Vec<(f64, f64)> {
        let mut rng = fastrand::Rng::with_seed(13);
        let start = 1_764_000_000.0;
        (0..(hours * 3600.0 * 4.0) as u64)
            .map(|i| {
                let time = start + i as f64 / 4.0;
                let normal = (-2.0 * (1.0 - rng.f64()).ln()).sqrt()
                    * (std::f64::consts::TAU * rng.f64()).cos();
                let slower = if slow.contains(&(time - start)) {
                    factor
                } else {
                    1.0
                };
                (time, 0.1 * (0.3 * normal).exp() * slower)
            })
            .collect()
    }

    #[test]
    fn a_doubling_that_recovers_within_the_hour_is_an_incident_and_a_lasting_one_is_not() {
        let settings = DetectorSettings::default();
        // Two hours of normal, then twenty minutes twice as slow, then normal again.
        let short = detect(&traffic(4.0, 7200.0..8400.0, 2.0), 60.0, &settings);
        assert!(!short.is_empty(), "the doubling is caught");
        for regression in &short {
            assert_eq!(regression.end_reason, Some("recovered"), "{regression:?}");
            assert_eq!(regression.kind, "incident", "{regression:?}");
            assert!(regression.detected_at - 7200.0 - 1_764_000_000.0 <= 600.0);
        }
        // Twice as slow from the second hour to the end, seven hours later: accepted as the
        // new normal after six, and a regression, not an incident.
        let lasting = detect(&traffic(9.0, 7200.0..f64::INFINITY, 2.0), 60.0, &settings);
        assert!(!lasting.is_empty(), "the doubling is caught");
        for regression in &lasting {
            assert_eq!(regression.end_reason, Some("accepted"), "{regression:?}");
            assert_eq!(regression.kind, "regression", "{regression:?}");
        }
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let error = read_rows("1,0.1\n2,fast\n".as_bytes(), 1.0).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("fast"), "{error}");
        assert!(read_rows("1,0.1\n2;0.3\n".as_bytes(), 1.0).is_err());
        assert!(read_rows("1,0.1\n2,-3\n".as_bytes(), 1.0).is_err());
    }
}
