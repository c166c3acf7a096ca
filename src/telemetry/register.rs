//! Registering a metric family in the agent's registry: one place, used by every module that
//! owns metrics (the agent's own, the Loki sink's, RED, latency), so none depends on another
//! to register.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// A counter family, registered; the definitions are static, so failing here is a bug.
pub fn register_counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)
        .expect("static metric definitions are valid");
    registry
        .register(Box::new(vec.clone()))
        .expect("each metric is registered once");
    vec
}

/// A gauge family, registered (see [`register_counter`]).
pub fn register_gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help), labels)
        .expect("static metric definitions are valid");
    registry
        .register(Box::new(vec.clone()))
        .expect("each metric is registered once");
    vec
}

/// A float gauge family (ratios, seconds, objectives), registered once.
pub fn register_float_gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::GaugeVec {
    let vec = prometheus::GaugeVec::new(Opts::new(name, help), labels)
        .expect("static metric definitions are valid");
    registry
        .register(Box::new(vec.clone()))
        .expect("each metric is registered once");
    vec
}
