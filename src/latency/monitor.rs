//! The live path: request latencies recorded per service and route into the current window,
//! windows closed every interval into one [`SignalDetector`] per route, and the results
//! published as gauges, as log events and on `GET /api/v1/regressions`.
//!
//! Memory: routes are capped per service (the RED recorder folds extra routes into `other`;
//! this module caps again at [`MAX_ROUTES_PER_SERVICE`]), and a detector holds at most
//! `baseline_delay + 1` sketches of ≤ 8.8 KiB — typically ~2 KiB each.

use super::baseline::store::{BaselineStore, StoredRoute};
use super::baseline::{BaselineStatus, Imported, ImportedRoute};
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
/// The baselines are written to `data_dir` every this many windows, and at shutdown.
const SAVE_EVERY_WINDOWS: u64 = 10;

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

    /// `weight` requests between `lower` (excluded) and `upper` (a histogram bucket's
    /// increment), spread across the bucket.
    pub fn observe_bucket(&self, route: &str, lower: f64, upper: f64, weight: f64) {
        let mut bucket = LatencySketch::new();
        super::buckets::add_bucket(&mut bucket, lower, upper, weight);
        self.with_window(route, |window| window.merge(&bucket));
    }

    /// `weight` requests of `seconds` each.
    pub fn observe_weighted(&self, route: &str, seconds: f64, weight: f64) {
        self.with_window(route, |window| window.add_weighted(seconds, weight));
    }

    fn with_window(&self, route: &str, record: impl FnOnce(&mut LatencySketch)) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sketch) = windows.get_mut(route) {
            record(sketch);
            return;
        }
        let route = if windows.len() < MAX_ROUTES_PER_SERVICE {
            route
        } else {
            "other"
        };
        record(windows.entry(route.to_owned()).or_default());
    }
}

struct Families {
    regression: IntGaugeVec,
    ratio: GaugeVec,
    baseline: GaugeVec,
    current: GaugeVec,
    started: IntCounterVec,
    version_info: IntGaugeVec,
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
            version_info: register_gauge(
                registry,
                super::baseline::prometheus::VERSION_INFO,
                "1 for the version of the service vigia watches (latency.version or its *_build_info): what a restarted vigia's baseline query tells versions apart by.",
                &["service", "version"],
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
    pub baseline: BaselineStatus,
}

struct State {
    detectors: BTreeMap<String, BTreeMap<String, SignalDetector>>,
    ended: VecDeque<RouteRegression>,
    windows_closed: u64,
    /// Loaded baselines of routes not seen yet, waiting for their first window.
    imported: BTreeMap<(String, String), ImportedRoute>,
    /// Our version when `imported` is the previous version's.
    deployed_version: Option<String>,
    baseline: BaselineStatus,
    /// The version exported per service in `vigia_service_version_info`.
    exported_versions: BTreeMap<String, String>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            detectors: BTreeMap::new(),
            ended: VecDeque::new(),
            windows_closed: 0,
            imported: BTreeMap::new(),
            deployed_version: None,
            baseline: BaselineStatus::warmup(),
            exported_versions: BTreeMap::new(),
        }
    }
}

pub struct LatencyMonitor {
    settings: LatencySettings,
    services: Mutex<Vec<(String, Windows)>>,
    state: Mutex<State>,
    families: Families,
    store: Mutex<Option<BaselineStore>>,
}

impl LatencyMonitor {
    pub fn new(registry: &Registry, settings: LatencySettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            services: Mutex::new(Vec::new()),
            state: Mutex::new(State::default()),
            families: Families::register(registry),
            store: Mutex::new(None),
        })
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the baselines in `store` from now on, and goes on from the ones it holds (a
    /// previous run's). Returns why nothing was restored, when a file was there but unusable.
    pub fn restore_from(&self, store: BaselineStore, now: f64, version: Option<&str>) {
        let interval = self.settings.interval.as_secs_f64();
        let loaded = store.load(now, interval);
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = Some(store);
        let routes = match loaded {
            Ok(Some(routes)) => routes,
            Ok(None) => return,
            Err(reason) => {
                tracing::warn!(%reason, "latency baselines not restored: warming up");
                self.lock_state().baseline.fallback_reason = Some(reason);
                return;
            }
        };
        let settings = &self.settings.detector;
        let mut state = self.lock_state();
        let mut restored = 0;
        for StoredRoute {
            service,
            route,
            detector,
        } in routes
        {
            let detectors = state.detectors.entry(service).or_default();
            if detectors.len() >= MAX_ROUTES_PER_SERVICE {
                continue;
            }
            if let Some(detector) = SignalDetector::restore(detector, version, settings) {
                detectors.insert(route, detector);
                restored += 1;
            }
        }
        state.detectors.retain(|_, routes| !routes.is_empty());
        tracing::info!(
            routes = restored,
            "latency baselines restored from data_dir"
        );
        state.baseline = BaselineStatus {
            source: "data_dir",
            routes: restored,
            previous_versions: Vec::new(),
            fallback_reason: None,
        };
    }

    /// Writes every detector's baseline to the store (if there is one).
    pub fn persist(&self, now: f64) {
        let Some(store) = self.store.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let routes: Vec<StoredRoute> = {
            let state = self.lock_state();
            let settings = &self.settings.detector;
            state
                .detectors
                .iter()
                .flat_map(|(service, routes)| {
                    routes.iter().filter(|(_, d)| !d.is_warming(settings)).map(
                        |(route, detector)| StoredRoute {
                            service: service.clone(),
                            route: route.clone(),
                            detector: detector.snapshot(),
                        },
                    )
                })
                .collect()
        };
        if routes.is_empty() {
            return;
        }
        if let Err(error) = store.save(now, self.settings.interval.as_secs_f64(), routes) {
            tracing::warn!(%error, path = %store.path().display(), "latency baselines not saved");
        }
    }

    /// The services recorded so far.
    pub fn service_names(&self) -> Vec<String> {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        services.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Uses a baseline loaded from Prometheus (or says why there is none): routes still
    /// warming up start from it now, routes not seen yet when their first window comes.
    /// `version` is ours.
    pub fn import(&self, loaded: Result<Imported, String>, version: Option<&str>) {
        let settings = &self.settings.detector;
        let mut state = self.lock_state();
        let imported = match loaded {
            Ok(imported) => imported,
            Err(reason) => {
                tracing::warn!(%reason, "no latency baseline from Prometheus: warming up locally");
                if state.baseline.source == "loading" {
                    state.baseline = BaselineStatus::warmup();
                }
                state.baseline.fallback_reason = Some(format!("prometheus: {reason}"));
                return;
            }
        };
        let deployed = (!imported.previous_versions.is_empty())
            .then_some(version)
            .flatten()
            .map(str::to_owned);
        let routes = imported.routes.len();
        let mut waiting = BTreeMap::new();
        for ((service, route), loaded) in imported.routes {
            match state
                .detectors
                .get_mut(&service)
                .and_then(|d| d.get_mut(&route))
            {
                Some(detector) => {
                    detector.seed(loaded.sketch, loaded.bounds, deployed.as_deref(), settings);
                    detector.seed_shape(&loaded.days, loaded.covering);
                }
                None => {
                    waiting.insert((service, route), loaded);
                }
            }
        }
        tracing::info!(
            routes,
            previous_versions = ?imported.previous_versions,
            "latency baseline loaded from Prometheus"
        );
        state.imported = waiting;
        state.deployed_version = deployed;
        state.baseline = BaselineStatus {
            source: "prometheus",
            routes,
            previous_versions: imported.previous_versions,
            fallback_reason: None,
        };
    }

    fn export_version(&self, state: &mut State, service: &str, version: &str) {
        if state.exported_versions.get(service).map(String::as_str) == Some(version) {
            return;
        }
        if let Some(old) = state
            .exported_versions
            .insert(service.to_owned(), version.to_owned())
        {
            let _ = self
                .families
                .version_info
                .remove_label_values(&[service, &old]);
        }
        self.families
            .version_info
            .with_label_values(&[service, version])
            .set(1);
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
        let mut state = self.lock_state();
        state.windows_closed += 1;
        let mut transitions = Vec::new();
        for (service, mut windows) in taken {
            if let Some(version) = version {
                self.export_version(&mut state, &service, version);
            }
            let State {
                detectors,
                imported,
                deployed_version,
                ..
            } = &mut *state;
            let detectors = detectors.entry(service.clone()).or_default();
            for route in windows.keys() {
                if !detectors.contains_key(route) && detectors.len() < MAX_ROUTES_PER_SERVICE {
                    let mut detector = SignalDetector::new(settings);
                    if let Some(loaded) = imported.remove(&(service.clone(), route.clone())) {
                        detector.seed(
                            loaded.sketch,
                            loaded.bounds,
                            deployed_version.as_deref(),
                            settings,
                        );
                        detector.seed_shape(&loaded.days, loaded.covering);
                    }
                    detectors.insert(route.clone(), detector);
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
        let state = self.lock_state();
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
            baseline: state.baseline.clone(),
        }
    }

    /// Closes a window every interval until `stop`, writing the baselines to `data_dir`
    /// every [`SAVE_EVERY_WINDOWS`]; with `latency.baseline.prometheus`, loads a baseline
    /// from Prometheus first, in the background.
    pub async fn run(
        self: Arc<Self>,
        version: impl Fn() -> Option<String> + Send + Sync + 'static,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let version = Arc::new(version);
        if let Some(prometheus) = self.settings.baseline_prometheus.clone() {
            self.lock_state().baseline.source = "loading";
            let (monitor, version, stop) = (self.clone(), version.clone(), stop.clone());
            let started = unix_now();
            tokio::spawn(async move {
                let load = async {
                    // The version may come from the first scrape of a `*_build_info`.
                    let deadline = tokio::time::Instant::now() + prometheus.timeout;
                    while version().is_none() && tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    let version = version();
                    // The services are known from their first requests; those of the first
                    // window are all asked for at once (the query time stays our start).
                    while monitor.service_names().is_empty() {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    tokio::time::sleep(monitor.settings.interval.min(prometheus.timeout)).await;
                    let services = monitor.service_names();
                    let loaded = super::baseline::prometheus::load(
                        &prometheus,
                        &services,
                        version.as_deref(),
                        started,
                    )
                    .await;
                    monitor.import(loaded, version.as_deref());
                };
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = load => {}
                }
            });
        }
        let mut ticker = tokio::time::interval(self.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = unix_now();
            let version = version();
            self.close_windows(now, version.as_deref());
            let closed = self.lock_state().windows_closed;
            if closed.is_multiple_of(SAVE_EVERY_WINDOWS) {
                let monitor = self.clone();
                let _ = tokio::task::spawn_blocking(move || monitor.persist(now)).await;
            }
        }
    }
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
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
        kind = r.kind,
        started = %unix_to_rfc3339(r.detected_at),
        "latency {} ended: {route} p{}",
        r.kind,
        r.quantile * 100.0
    );
}
