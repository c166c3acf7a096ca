//! Metrics of the admin server itself: refused requests by reason, key-set reloads, and the
//! connections it holds and lets go of under load.

use super::register::{register_counter, register_gauge};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};

/// Every reason a request can be refused for, so each series exists from the start
/// (a dashboard shows 0, not "no data").
pub const AUTH_FAILURE_REASONS: [&str; 13] = [
    "missing",
    "malformed",
    "too_large",
    "algorithm",
    "unknown_kid",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "lifetime",
    "issuer",
    "audience",
    "missing_claim",
    "scope",
];

#[derive(Clone)]
pub struct AdminMetrics {
    auth_failures: IntCounterVec,
    key_reloads: IntCounterVec,
    pub keys_loaded: IntGauge,
    pub connections_open: IntGauge,
    pub connections_evicted: IntCounter,
    pub tls_reloads: IntCounterVec,
}

impl AdminMetrics {
    pub fn register(registry: &Registry) -> Self {
        let auth_failures = register_counter(
            registry,
            "vigia_admin_auth_failures_total",
            "Admin API requests refused (401 or 403), by reason.",
            &["reason"],
        );
        for reason in AUTH_FAILURE_REASONS {
            auth_failures.with_label_values(&[reason]);
        }
        let key_reloads = register_counter(
            registry,
            "vigia_admin_auth_key_reloads_total",
            "Reads of the JWKS file that changed, by result (ok, or error: the last good set is kept).",
            &["result"],
        );
        let tls_reloads = register_counter(
            registry,
            "vigia_tls_reloads_total",
            "The admin server's certificate, key or client CA files read again because they \
             changed, by result (ok, or error: the last good files are kept).",
            &["component", "result"],
        );
        let gauge = |name: &str, help: &str| register_gauge(registry, name, help, &[]);
        Self {
            auth_failures,
            key_reloads,
            tls_reloads,
            keys_loaded: gauge(
                "vigia_admin_auth_keys",
                "Verification keys in the JWKS set in force.",
            )
            .with_label_values(&[] as &[&str]),
            connections_open: gauge(
                "vigia_admin_connections",
                "Connections the admin server holds open.",
            )
            .with_label_values(&[] as &[&str]),
            connections_evicted: register_counter(
                registry,
                "vigia_admin_connections_evicted_total",
                "Idle admin connections closed to make room for a new one at the connection cap.",
                &[],
            )
            .with_label_values(&[] as &[&str]),
        }
    }

    /// Counts a refusal; `reason` is one of [`AUTH_FAILURE_REASONS`].
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures.with_label_values(&[reason]).inc();
    }

    /// Refusals counted for `reason` so far.
    pub fn auth_failure_count(&self, reason: &str) -> u64 {
        self.auth_failures.with_label_values(&[reason]).get()
    }

    pub fn key_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.key_reloads.with_label_values(&[result]).inc();
    }

    pub fn tls_reload(&self, component: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.tls_reloads
            .with_label_values(&[component, result])
            .inc();
    }
}
