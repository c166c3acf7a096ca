//! The live path: request latencies recorded per service and route into the current window,
//! windows closed every interval into one [`SignalDetector`] per route, and the results
//! published as gauges, as log events and on `GET /api/v1/regressions`.
//!
//! Memory: routes are capped per service (the RED recorder folds extra routes into `other`;
//! this module caps again at [`MAX_ROUTES_PER_SERVICE`]), and a detector holds at most
//! `baseline_delay + 1` sketches of ≤ 8.8 KiB — typically ~2 KiB each.

use super::detector::{DetectorSettings, QuantileState, Regression, SignalDetector, Transition};
use super::sketch::LatencySketch;
use super::unix_to_rfc3339;
use crate::latency::config::LatencySettings;
use crate::telemetry::register::{register_counter, register_float_gauge, register_gauge};
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Registry};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Hard cap on routes watched per service, whatever feeds them.
pub const MAX_ROUTES_PER_SERVICE: usize = 1000;
/// Ended regressions kept for the API.
const RECENT_ENDED: usize = 50;

type Windows = Arc<Mutex<FxHashMap<String, LatencySketch>>>;

/// Records one service's latencies into the current window; cheap enough for every request
/// (one uncontended lock, no allocation for a route already seen this window).
#[derive(Clone)]
pub struct ServiceLatency {
    windows: Windows,
}

impl ServiceLatency {
    pub fn observe(&self, route: &str, seconds: f64) {
        self.observe_weighted(route, seconds, 1.0);
    }

    /// Requests recorded for `route` in the current window, and their median.
    pub fn current_window(&self, route: &str) -> Option<(f64, f64)> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let sketch = windows.get(route)?;
        Some((sketch.count(), sketch.quantile(0.5)?))
    }

    /// `weight` requests of `seconds` each (a histogram bucket's increment).
    pub fn observe_weighted(&self, route: &str, seconds: f64, weight: f64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sketch) = windows.get_mut(route) {
            sketch.add_weighted(seconds, weight);
            return;
        }
        let route = if windows.len() < MAX_ROUTES_PER_SERVICE {
            route
        } else {
            "other"
        };
        windows
            .entry(route.to_owned())
            .or_default()
            .add_weighted(seconds, weight);
    }
}

struct Families {
    regression: IntGaugeVec,
    ratio: GaugeVec,
    baseline: GaugeVec,
    current: GaugeVec,
    started: IntCounterVec,
}

impl Families {
    fn register(registry: &Registry) -> Self {
        let labels = ["service", "route", "quantile"];
        let gauge = |name, help| register_float_gauge(registry, name, help, &labels);
        Self {
            regression: register_gauge(
                registry,
                "vigia_latency_regression",
                "1 while a latency regression of this route and quantile is active.",
                &labels,
            ),
            ratio: gauge(
                "vigia_latency_ratio",
                "Recent over baseline latency at this quantile (the Hodges-Lehmann shift for 0.5).",
            ),
            baseline: gauge(
                "vigia_latency_baseline_seconds",
                "Baseline latency at this quantile.",
            ),
            current: gauge(
                "vigia_latency_current_seconds",
                "Latency at this quantile over the recent windows.",
            ),
            started: register_counter(
                registry,
                "vigia_latency_regressions_total",
                "Latency regressions detected.",
                &["service"],
            ),
        }
    }
}

/// One regression as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RouteRegression {
    pub service: String,
    pub route: String,
    #[serde(flatten)]
    pub regression: Regression,
}

/// `GET /api/v1/regressions`.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionsReport {
    pub interval_seconds: f64,
    pub windows_closed: u64,
    pub routes: usize,
    pub active: Vec<RouteRegression>,
    pub recent: Vec<RouteRegression>,
}

#[derive(Default)]
struct State {
    detectors: BTreeMap<String, BTreeMap<String, SignalDetector>>,
    ended: VecDeque<RouteRegression>,
    windows_closed: u64,
}

pub struct LatencyMonitor {
    settings: LatencySettings,
    services: Mutex<Vec<(String, Windows)>>,
    state: Mutex<State>,
    families: Families,
}

impl LatencyMonitor {
    pub fn new(registry: &Registry, settings: LatencySettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            services: Mutex::new(Vec::new()),
            state: Mutex::new(State::default()),
            families: Families::register(registry),
        })
    }

    pub fn settings(&self) -> &LatencySettings {
        &self.settings
    }

    /// The recorder of one service (the same one for every call with that name).
    pub fn service(&self, service: &str) -> ServiceLatency {
        let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, windows)) = services.iter().find(|(name, _)| name == service) {
            return ServiceLatency {
                windows: windows.clone(),
            };
        }
        let windows = Windows::default();
        services.push((service.to_owned(), windows.clone()));
        ServiceLatency { windows }
    }

    /// Closes the current windows at `end` (unix seconds); `version` is the service version
    /// now known (config, or a scraped `*_build_info`). Returns the transitions.
    pub fn close_windows(&self, end: f64, version: Option<&str>) -> Vec<RouteRegression> {
        let settings: &DetectorSettings = &self.settings.detector;
        let taken: Vec<(String, FxHashMap<String, LatencySketch>)> = {
            let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
            services
                .iter()
                .map(|(name, windows)| {
                    let mut windows = windows.lock().unwrap_or_else(|e| e.into_inner());
                    (name.clone(), std::mem::take(&mut *windows))
                })
                .collect()
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.windows_closed += 1;
        let mut transitions = Vec::new();
        for (service, mut windows) in taken {
            let detectors = state.detectors.entry(service.clone()).or_default();
            for route in windows.keys() {
                if !detectors.contains_key(route) && detectors.len() < MAX_ROUTES_PER_SERVICE {
                    detectors.insert(route.clone(), SignalDetector::new(settings));
                }
            }
            let routes = detectors.len();
            for (route, detector) in detectors.iter_mut() {
                if let Some(version) = version
                    && detector.set_version(version, settings)
                {
                    tracing::info!(
                        service,
                        route,
                        version,
                        "service version changed: comparing with the previous version's latency"
                    );
                }
                let window = windows.remove(route).unwrap_or_default();
                for transition in detector.close_window(window, end, routes, settings) {
                    transitions.push((service.clone(), route.clone(), transition));
                }
                self.publish(&service, route, detector.states());
            }
        }
        let mut changes = Vec::new();
        for (service, route, transition) in transitions {
            let entry = |regression| RouteRegression {
                service: service.clone(),
                route: route.clone(),
                regression,
            };
            match transition {
                Transition::Started(regression) => {
                    self.families.started.with_label_values(&[&service]).inc();
                    log_started(&service, &route, &regression);
                    changes.push(entry(regression));
                }
                Transition::Ended(regression) => {
                    log_ended(&service, &route, &regression);
                    let ended = entry(regression);
                    state.ended.push_back(ended.clone());
                    if state.ended.len() > RECENT_ENDED {
                        state.ended.pop_front();
                    }
                    changes.push(ended);
                }
            }
        }
        changes
    }

    fn publish(&self, service: &str, route: &str, states: impl Iterator<Item = QuantileState>) {
        for state in states {
            let quantile = format_quantile(state.quantile);
            let labels = [service, route, quantile.as_str()];
            let f = &self.families;
            f.regression
                .with_label_values(&labels)
                .set(i64::from(state.active));
            f.ratio.with_label_values(&labels).set(state.ratio);
            f.baseline.with_label_values(&labels).set(state.baseline);
            f.current.with_label_values(&labels).set(state.current);
        }
    }

    pub fn report(&self) -> RegressionsReport {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut active = Vec::new();
        let mut routes = 0;
        for (service, detectors) in &state.detectors {
            routes += detectors.len();
            for (route, detector) in detectors {
                active.extend(detector.active().map(|regression| RouteRegression {
                    service: service.clone(),
                    route: route.clone(),
                    regression: regression.clone(),
                }));
            }
        }
        RegressionsReport {
            interval_seconds: self.settings.interval.as_secs_f64(),
            windows_closed: state.windows_closed,
            routes,
            active,
            recent: state.ended.iter().rev().cloned().collect(),
        }
    }

    /// Closes a window every interval until `stop`.
    pub async fn run(
        self: Arc<Self>,
        version: impl Fn() -> Option<String> + Send + 'static,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(self.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let version = version();
            self.close_windows(now, version.as_deref());
        }
    }
}

/// `0.5`, `0.95`, `0.99`: the label value, as Prometheus' `quantile` labels are written.
pub fn format_quantile(quantile: f64) -> String {
    let text = format!("{quantile:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn log_started(service: &str, route: &str, r: &Regression) {
    tracing::warn!(
        event = "latency_regression_started",
        service,
        route,
        quantile = r.quantile,
        baseline_seconds = r.baseline,
        current_seconds = r.current,
        ratio = r.ratio,
        compared_with = r.compared_with,
        start = %unix_to_rfc3339(r.start),
        "latency regression: {route} p{} is {:.0} % slower than its baseline",
        r.quantile * 100.0,
        (r.ratio - 1.0) * 100.0
    );
}

fn log_ended(service: &str, route: &str, r: &Regression) {
    tracing::info!(
        event = "latency_regression_ended",
        service,
        route,
        quantile = r.quantile,
        reason = r.end_reason.unwrap_or("recovered"),
        started = %unix_to_rfc3339(r.detected_at),
        "latency regression ended: {route} p{}",
        r.quantile * 100.0
    );
}
