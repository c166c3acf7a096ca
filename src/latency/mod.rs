//! Latency: per-route windows of request durations (from access logs, the service's own
//! histogram and an active probe), a regression detector, and the harness that measures it.
//!
//! ```text
//! samples ──► window sketch per route (1 min) ──► SignalDetector ──► gauges, events, /api/v1/regressions
//! ```

pub mod baseline;
pub mod buckets;
pub mod config;
pub mod detector;
pub mod eval;
pub mod monitor;
pub mod offline;
pub mod probe;
pub mod quantile_series;
pub mod seasonal;
pub mod sketch;
pub mod stats;

/// Unix seconds as RFC 3339 UTC with milliseconds.
pub fn unix_to_rfc3339(unix_seconds: f64) -> String {
    chrono::DateTime::from_timestamp_millis((unix_seconds * 1000.0).round() as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn serialize_time<S: serde::Serializer>(
    unix_seconds: &f64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&unix_to_rfc3339(*unix_seconds))
}

fn serialize_optional_time<S: serde::Serializer>(
    unix_seconds: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match unix_seconds {
        Some(seconds) => serialize_time(seconds, serializer),
        None => serializer.serialize_none(),
    }
}
