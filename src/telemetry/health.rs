//! Liveness and readiness. Each pipeline component registers and reports its state;
//! `/readyz` is 200 only when every component is running and none is failing, and names
//! the ones that are not. A sink that cannot reach its endpoint is `degraded`: shown, and
//! still ready, because readiness gates the pod's traffic: a Loki outage must not take
//! every service with an injected vigia out of its Service. `/healthz` checks that the runtime still runs tasks (a heartbeat).

use crate::telemetry::AgentMetrics;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A heartbeat older than this means the runtime is stuck: liveness fails.
pub const HEARTBEAT_STALE_AFTER: Duration = Duration::from_secs(10);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum ComponentState {
    Starting,
    Running,
    Failing(String),
    /// Doing its local work but not reaching what is downstream (a sink's endpoint).
    Degraded(String),
    /// Finished its work normally (a source at end of input).
    Finished,
}

#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    components: Mutex<BTreeMap<String, ComponentState>>,
    shutting_down: AtomicBool,
    started: Instant,
    last_heartbeat_ms: AtomicI64,
    metrics: Arc<AgentMetrics>,
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub status: &'static str,
    pub components: Vec<ComponentReport>,
}

#[derive(Debug, Serialize)]
pub struct ComponentReport {
    pub name: String,
    #[serde(flatten)]
    pub state: ComponentState,
}

impl Health {
    pub fn new(metrics: Arc<AgentMetrics>) -> Self {
        Self {
            inner: Arc::new(Inner {
                components: Mutex::new(BTreeMap::new()),
                shutting_down: AtomicBool::new(false),
                started: Instant::now(),
                last_heartbeat_ms: AtomicI64::new(0),
                metrics,
            }),
        }
    }

    /// Registers a component in the `Starting` state.
    pub fn register(&self, name: impl Into<String>) -> ComponentHealth {
        let name = name.into();
        self.set(&name, ComponentState::Starting);
        ComponentHealth {
            name,
            health: self.clone(),
        }
    }

    fn set(&self, name: &str, state: ComponentState) {
        let ready = matches!(state, ComponentState::Running | ComponentState::Finished);
        self.inner
            .components
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), state);
        self.inner.metrics.set_ready(name, ready);
    }

    /// From now on the agent is draining: not ready for new work.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
    }

    pub fn readiness(&self) -> Readiness {
        let components = self
            .inner
            .components
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let shutting_down = self.inner.shutting_down.load(Ordering::Acquire);
        let all_running = components.values().all(|s| {
            matches!(
                s,
                ComponentState::Running | ComponentState::Finished | ComponentState::Degraded(_)
            )
        });
        let degraded = components
            .values()
            .any(|s| matches!(s, ComponentState::Degraded(_)));
        let ready = all_running && !shutting_down && !components.is_empty();
        let status = if ready && degraded {
            "degraded"
        } else if ready {
            "ready"
        } else if shutting_down {
            "shutting_down"
        } else {
            "not_ready"
        };
        Readiness {
            ready,
            status,
            components: components
                .iter()
                .map(|(name, state)| ComponentReport {
                    name: name.clone(),
                    state: state.clone(),
                })
                .collect(),
        }
    }

    /// Whether the runtime has run the heartbeat task recently.
    pub fn is_live(&self) -> bool {
        let beat = self.inner.last_heartbeat_ms.load(Ordering::Acquire);
        let now = self.inner.started.elapsed().as_millis() as i64;
        now - beat <= HEARTBEAT_STALE_AFTER.as_millis() as i64
    }

    /// Beats while the runtime is able to run tasks; stops with the runtime.
    pub fn spawn_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let health = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            loop {
                tick.tick().await;
                let now = health.inner.started.elapsed().as_millis() as i64;
                health.inner.last_heartbeat_ms.store(now, Ordering::Release);
            }
        })
    }
}

/// A component's handle to report its own state.
#[derive(Clone)]
pub struct ComponentHealth {
    name: String,
    health: Health,
}

/// The longest reason `/readyz` shows.
pub const MAX_REASON_CHARS: usize = 160;

fn sanitized(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default();
    let mut out: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    if line.chars().filter(|c| !c.is_control()).count() > MAX_REASON_CHARS
        || reason.lines().nth(1).is_some()
    {
        out.push('…');
    }
    out
}

impl ComponentHealth {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn running(&self) {
        self.health.set(&self.name, ComponentState::Running);
    }

    /// Failing, for `reason` — shown on `/readyz`, so cut to its first line and
    /// [`MAX_REASON_CHARS`], control characters dropped: a receiver's error page is not
    /// echoed to whoever asks.
    pub fn failing(&self, reason: impl Into<String>) {
        self.health.set(
            &self.name,
            ComponentState::Failing(sanitized(&reason.into())),
        );
    }

    /// Degraded, for `reason` (sanitized as for [`Self::failing`]): still ready.
    pub fn degraded(&self, reason: impl Into<String>) {
        self.health.set(
            &self.name,
            ComponentState::Degraded(sanitized(&reason.into())),
        );
    }

    pub fn finished(&self) {
        self.health.set(&self.name, ComponentState::Finished);
    }
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    #[test]
    fn a_reason_is_one_short_line_without_control_characters() {
        let page = format!(
            "503 upstream error\x1b[31m{}\n<html>secret stack</html>",
            "x".repeat(500)
        );
        let shown = sanitized(&page);
        assert!(shown.chars().count() <= MAX_REASON_CHARS + 1, "{shown}");
        assert!(
            !shown.contains('\x1b') && !shown.contains("<html>"),
            "{shown}"
        );
        assert!(shown.ends_with('…'));
        assert_eq!(sanitized("stdout closed"), "stdout closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_component_runs() {
        let health = Health::new(Arc::new(AgentMetrics::new()));
        assert!(!health.readiness().ready, "nothing registered yet");
        let source = health.register("source.stdin");
        let sink = health.register("sink.console");
        source.running();
        assert!(!health.readiness().ready);
        sink.running();
        assert!(health.readiness().ready);
        sink.failing("stdout closed");
        let readiness = health.readiness();
        assert!(!readiness.ready);
        let json = serde_json::to_value(&readiness).unwrap();
        assert_eq!(json["components"][0]["name"], "sink.console");
        assert_eq!(json["components"][0]["state"], "failing");
        assert_eq!(json["components"][0]["reason"], "stdout closed");
        sink.running();
        source.finished();
        assert!(health.readiness().ready);
        health.begin_shutdown();
        assert_eq!(health.readiness().status, "shutting_down");
    }
}

#[cfg(test)]
mod degraded_tests {
    use super::*;

    #[test]
    fn a_degraded_sink_keeps_the_agent_ready_and_says_why() {
        let health = Health::new(Arc::new(AgentMetrics::new()));
        let source = health.register("source.app");
        let sink = health.register("sink.loki");
        source.running();
        sink.degraded("no successful request for 31s: connection refused");
        let readiness = health.readiness();
        assert!(readiness.ready);
        assert_eq!(readiness.status, "degraded");
        sink.failing("cannot write");
        assert!(!health.readiness().ready);
        sink.running();
        assert_eq!(health.readiness().status, "ready");
    }
}
