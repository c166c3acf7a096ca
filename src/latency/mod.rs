//! Latency: per-route windows of request durations (from access logs, the service's own
//! histogram and an active probe), a regression detector, and the harness that measures it.
//!
//! ```text
//! samples ──► window sketch per route (1 min) ──► SignalDetector ──► gauges, events, /api/v1/regressions
//! ```

pub mod detector;
pub mod eval;
pub mod offline;
pub mod sketch;
pub mod stats;
