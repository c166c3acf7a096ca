//! The `slo` section: each service's objectives, exported as `vigia_slo_*` gauges so that one
//! generic set of alert rules (alerts/) serves every service, each with its own numbers.

use super::diagnostics::Diagnostic;
use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSection {
    /// Share of requests that must not fail (5xx).
    #[serde(default = "default_availability")]
    pub availability: f64,
    /// Requests slower than this are "slow"…
    #[serde(default = "default_latency_threshold")]
    pub latency_threshold: HumanDuration,
    /// …and at least this share must not be.
    #[serde(default = "default_latency_objective")]
    pub latency_objective: f64,
}

impl Default for SloSection {
    fn default() -> Self {
        Self {
            availability: default_availability(),
            latency_threshold: default_latency_threshold(),
            latency_objective: default_latency_objective(),
        }
    }
}

fn default_availability() -> f64 {
    0.999
}
fn default_latency_threshold() -> HumanDuration {
    HumanDuration::from_millis(500)
}
fn default_latency_objective() -> f64 {
    0.99
}

pub fn validate(spec: &SloSection, problems: &mut Vec<Diagnostic>) {
    for (field, value) in [
        ("availability", spec.availability),
        ("latency_objective", spec.latency_objective),
    ] {
        if !(value > 0.0 && value < 1.0) {
            problems.push(Diagnostic::new(
                format!("slo.{field}"),
                "must be a fraction strictly between 0 and 1 (0.999 = 99.9 %)",
            ));
        }
    }
    if spec.latency_threshold.0.is_zero() {
        problems.push(Diagnostic::new("slo.latency_threshold", "must be positive"));
    }
}
