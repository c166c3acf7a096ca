//! The regression detector for one signal (one route of one service): fed one latency sketch
//! per interval, it compares each with a baseline and reports when a regression starts and
//! ends. The same code serves the live agent, `vigia detect` and the evaluation harness.
//!
//! Per quantile watched, a one-sided CUSUM accumulates evidence window after window:
//! - the median (0.5) is watched with a rank test — the Mann-Whitney z of the window against
//!   the baseline — so a shift of the whole distribution is seen from few samples;
//! - a tail quantile q is watched with an exceedance test: the share of the window above the
//!   baseline's q quantile, scored as the log-likelihood ratio of doubling vs staying at 1 − q.
//!
//! Each score is divided by the dispersion measured on the signal's own quiet windows (real
//! traffic varies more from minute to minute than sampling alone explains). A regression
//! fires when the CUSUM crosses its threshold — raised by ln(routes) so that a service with
//! many routes has no more false alarms than one with one — *and* the effect is large enough
//! (relative and absolute), for `persistence` windows in a row. It ends when the effect has
//! halved for as long. `docs/latency-detection.md` says why, with the harness's figures.

use super::buckets::requantize;
use super::seasonal::{BaselineClock, DailyShape};
use super::sketch::{LatencySketch, SketchParts};
use super::stats::{bernoulli_llr, hodges_lehmann_ratio, rank_compare};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSettings {
    /// Quantiles watched: 0.5 with the rank test, others with the exceedance test.
    pub quantiles: Vec<f64>,
    /// Windows seen and observations in the baseline before anything is tested.
    pub warmup_windows: u32,
    pub warmup_observations: f64,
    /// Windows wait this long before joining the baseline, so a regression being detected
    /// does not become its own baseline.
    pub baseline_delay: usize,
    /// The trailing baseline forgets with this half-life, in windows.
    pub baseline_half_life: f64,
    /// Rank CUSUM: allowance k and threshold h, in dispersion-scaled z units.
    pub shift_allowance: f64,
    pub shift_threshold: f64,
    /// Exceedance CUSUM: the alternative tested (this many times the expected share above the
    /// baseline quantile) and the threshold in nats.
    pub tail_alternative: f64,
    pub tail_threshold: f64,
    /// Effect-size gate: the recent quantile must exceed the baseline's by both.
    pub min_relative: f64,
    pub min_absolute: f64,
    /// Windows the (CUSUM and effect) condition must hold before firing, and the effect stay
    /// halved before ending.
    pub persistence: u32,
    /// Windows merged into the "recent" sketch the effect is measured on.
    pub recent_windows: usize,
    /// After a version change, new windows are compared with the previous version's baseline
    /// (and kept out of it) for this many windows.
    pub deploy_windows: u32,
    /// A regression active this long becomes the new normal: it ends ("accepted") and the
    /// baseline restarts from the recent windows.
    pub accept_after: u32,
    /// The baseline stops absorbing windows while a test is half-way to firing, at most this
    /// many windows in a row.
    pub max_freeze: u32,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        Self {
            quantiles: vec![0.5, 0.95, 0.99],
            warmup_windows: 30,
            warmup_observations: 300.0,
            baseline_delay: 10,
            baseline_half_life: 60.0,
            shift_allowance: 0.5,
            shift_threshold: 9.0,
            tail_alternative: 2.0,
            tail_threshold: 8.0,
            min_relative: 0.10,
            min_absolute: 0.002,
            persistence: 2,
            recent_windows: 5,
            deploy_windows: 60,
            accept_after: 360,
            max_freeze: 60,
        }
    }
}

/// A regression of one quantile of one signal; times are unix seconds (window ends).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    pub quantile: f64,
    /// End of the last window before the evidence started to accumulate.
    #[serde(serialize_with = "super::serialize_time")]
    pub start: f64,
    #[serde(serialize_with = "super::serialize_time")]
    pub detected_at: f64,
    /// Baseline and recent values of the quantile, in seconds; ratio = the shift estimate.
    pub baseline: f64,
    pub current: f64,
    pub ratio: f64,
    /// `trailing` or `previous_version`.
    pub compared_with: &'static str,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::serialize_optional_time"
    )]
    pub ended_at: Option<f64>,
    /// `recovered` or `accepted` (became the new normal after `accept_after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<&'static str>,
    /// `regression`, or `incident` once it has recovered within an hour of its start: a
    /// short excursion (an outage, a dependency's bad hour) rather than a lasting change.
    pub kind: &'static str,
}

/// A regression that recovered within this long of its start is an incident.
pub const INCIDENT_WITHIN_SECONDS: f64 = 3600.0;

impl Regression {
    /// Its kind once ended: `incident` if it recovered within `incident_within` seconds of
    /// its start, else `regression` (still active, lasting, or accepted as the new normal).
    pub fn kind_after_end(&self, incident_within: f64) -> &'static str {
        let recovered_soon = self.end_reason == Some("recovered")
            && self
                .ended_at
                .is_some_and(|end| end - self.start <= incident_within);
        if recovered_soon {
            "incident"
        } else {
            "regression"
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Started(Regression),
    Ended(Regression),
}

/// What a gauge shows for one quantile after the last window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileState {
    pub quantile: f64,
    pub active: bool,
    pub baseline: f64,
    pub current: f64,
    pub ratio: f64,
}

#[derive(Debug, Clone)]
struct Monitor {
    quantile: f64,
    cusum: f64,
    /// EWMA of the squared standardized score on quiet windows (1 = sampling noise only).
    dispersion: f64,
    change_start: f64,
    streak: u32,
    /// The statistic over the last `persistence` windows: firing needs it not to be falling
    /// (evidence still arriving), which tells a lasting change from the wake of a burst.
    history: VecDeque<f64>,
    quiet: u32,
    active_windows: u32,
    active: Option<Regression>,
    last: Option<QuantileState>,
}

const DISPERSION_WEIGHT: f64 = 1.0 / 50.0;
const CUSUM_CAP: f64 = 1.25;
const MIN_WINDOWS_TO_FIRE: f64 = 3.0;
/// A tail quantile is tested once the baseline holds this many observations above it.
const TAIL_OBSERVATIONS: f64 = 100.0;
const DISPERSION_CLIP: f64 = 100.0;

impl Monitor {
    fn new(quantile: f64) -> Self {
        Self {
            quantile,
            cusum: 0.0,
            dispersion: 1.0,
            change_start: f64::NAN,
            streak: 0,
            history: VecDeque::new(),
            quiet: 0,
            active_windows: 0,
            active: None,
            last: None,
        }
    }

    /// Half-way to firing on an effect that could pass the gate: the baseline waits.
    fn suspicious(&self, settings: &DetectorSettings, routes: usize) -> bool {
        self.active.is_some()
            || (self.cusum >= self.threshold(settings, routes) / 2.0
                && self
                    .last
                    .is_some_and(|l| l.ratio >= 1.0 + settings.min_relative / 2.0))
    }

    fn is_rank(&self) -> bool {
        self.quantile == 0.5
    }

    fn threshold(&self, settings: &DetectorSettings, routes: usize) -> f64 {
        // Bonferroni on the false-alarm rate: ARL0 grows like e^(2kh) (rank) or e^h (LLR).
        let log_routes = (routes.max(1) as f64).ln();
        if self.is_rank() {
            settings.shift_threshold + log_routes / (2.0 * settings.shift_allowance)
        } else {
            settings.tail_threshold + log_routes
        }
    }

    /// The window's score (CUSUM increment before dispersion) and its squared z-score.
    fn score(
        &self,
        window: &LatencySketch,
        baseline: &LatencySketch,
        settings: &DetectorSettings,
    ) -> Option<(f64, f64)> {
        if self.is_rank() {
            let rank = rank_compare(window, baseline)?;
            return Some((rank.z, rank.z * rank.z));
        }
        if baseline.count() * (1.0 - self.quantile) < TAIL_OBSERVATIONS {
            return None;
        }
        let key = baseline.quantile_key(self.quantile)?;
        let p0 = (baseline.weight_above(key) / baseline.count()).clamp(1e-4, 0.5);
        let p1 = (p0 * settings.tail_alternative).min(0.9);
        let (n, hits) = (window.count(), window.weight_above(key));
        let z_squared = (hits - n * p0).powi(2) / (n * p0 * (1.0 - p0));
        Some((bernoulli_llr(hits, n, p0, p1), z_squared))
    }

    /// Baseline value, recent value and ratio. When it decides something, the ratio is the
    /// median over the recent windows of each window's own ratio — the Hodges-Lehmann shift
    /// for the median (quadratic in bins, hence only then), the quantile ratio for a tail —
    /// so that a burst of a minute or two does not look like a lasting change.
    fn effect(
        &self,
        recent: &LatencySketch,
        recent_windows: &[&LatencySketch],
        baseline: &LatencySketch,
        precise: bool,
    ) -> Option<(f64, f64, f64)> {
        let base = baseline.quantile(self.quantile)?;
        let current = recent.quantile(self.quantile)?;
        let ratio = if precise {
            let mut ratios: Vec<f64> = recent_windows
                .iter()
                .filter_map(|w| {
                    if self.is_rank() {
                        hodges_lehmann_ratio(w, baseline)
                    } else {
                        w.quantile(self.quantile).map(|q| q / base)
                    }
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            *ratios.get(ratios.len() / 2)?
        } else {
            current / base
        };
        Some((base, current, ratio))
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        window: &LatencySketch,
        recent: &LatencySketch,
        recent_windows: &[&LatencySketch],
        baseline: &LatencySketch,
        end: f64,
        routes: usize,
        compared_with: &'static str,
        settings: &DetectorSettings,
    ) -> Option<Transition> {
        if self.change_start.is_nan() {
            self.change_start = end;
        }
        let (score, z_squared) = self.score(window, baseline, settings)?;
        let threshold = self.threshold(settings, routes);
        let increment = if self.is_rank() {
            score / self.dispersion.max(1.0).sqrt() - settings.shift_allowance
        } else {
            score / self.dispersion.max(1.0)
        };
        // No single window can carry more than a third of the threshold: a burst of a minute
        // or two is not enough to fire, whatever its size.
        let increment = increment.min(threshold / MIN_WINDOWS_TO_FIRE);
        let quiet_before = self.active.is_none() && self.cusum < threshold / 2.0;
        // Capped just above the threshold: after a burst of a minute or two the statistic is
        // back under it within a few quiet windows, instead of lingering and letting noise fire.
        self.cusum = (self.cusum + increment).clamp(0.0, CUSUM_CAP * threshold);
        if self.cusum == 0.0 {
            self.change_start = end;
        }
        let rising = self.history.front().is_none_or(|old| self.cusum >= *old);
        self.history.push_back(self.cusum);
        if self.history.len() > settings.persistence as usize {
            self.history.pop_front();
        }
        if quiet_before {
            self.dispersion +=
                DISPERSION_WEIGHT * (z_squared.min(DISPERSION_CLIP) - self.dispersion);
        }
        let decisive = self.active.is_some() || self.cusum >= threshold;
        let (base, current, ratio) = self.effect(recent, recent_windows, baseline, decisive)?;
        self.last = Some(QuantileState {
            quantile: self.quantile,
            active: self.active.is_some(),
            baseline: base,
            current,
            ratio,
        });
        let large = ratio >= 1.0 + settings.min_relative && current - base >= settings.min_absolute;
        match &mut self.active {
            None => {
                self.streak = if self.cusum >= threshold && large && rising {
                    self.streak + 1
                } else {
                    0
                };
                if self.streak < settings.persistence {
                    return None;
                }
                let regression = Regression {
                    quantile: self.quantile,
                    start: self.change_start,
                    detected_at: end,
                    baseline: base,
                    current,
                    ratio,
                    compared_with,
                    ended_at: None,
                    end_reason: None,
                    kind: "regression",
                };
                self.active = Some(regression.clone());
                self.active_windows = 0;
                self.quiet = 0;
                self.set_last_active(true);
                Some(Transition::Started(regression))
            }
            Some(active) => {
                active.current = current;
                active.ratio = ratio;
                self.active_windows += 1;
                let halved = ratio < 1.0 + settings.min_relative / 2.0;
                self.quiet = if halved { self.quiet + 1 } else { 0 };
                if self.quiet >= settings.persistence {
                    return Some(self.end(end, "recovered"));
                }
                None
            }
        }
    }

    fn end(&mut self, at: f64, reason: &'static str) -> Transition {
        let mut regression = self.active.take().expect("ending an active regression");
        regression.ended_at = Some(at);
        regression.end_reason = Some(reason);
        regression.kind = regression.kind_after_end(INCIDENT_WITHIN_SECONDS);
        self.cusum = 0.0;
        self.streak = 0;
        self.change_start = at;
        self.set_last_active(false);
        Transition::Ended(regression)
    }

    fn set_last_active(&mut self, active: bool) {
        if let Some(last) = &mut self.last {
            last.active = active;
        }
    }
}

/// The detector of one signal.
#[derive(Debug, Clone)]
pub struct SignalDetector {
    baseline: LatencySketch,
    /// Windows not yet in the baseline with their end times, oldest first; the newest form
    /// the "recent" sketch.
    pending: VecDeque<(LatencySketch, f64)>,
    monitors: Vec<Monitor>,
    windows: u32,
    version: Option<String>,
    deploy_left: u32,
    frozen_for: u32,
    /// Histogram bounds every window is requantized to, when the baseline came from
    /// buckets (Prometheus): the two sides of every test at the same resolution.
    resolution: Option<Arc<[f64]>>,
    /// Where the baseline came from before this process learned its own.
    seeded: bool,
    /// Where in the day the baseline's weight lies.
    clock: BaselineClock,
    shape: DailyShape,
}

/// What a restart needs to go on where it stopped: the baseline and what it learned about
/// the signal's noise. Windows in flight and active regressions are not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorSnapshot {
    pub baseline: SketchParts,
    pub version: Option<String>,
    /// Dispersion per watched quantile.
    pub dispersion: Vec<(f64, f64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Vec<f64>>,
    /// The previous days' levels by time of day (see `seasonal`), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Vec<Option<f32>>>,
    /// Where in the day the baseline was summed; absent in snapshots older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<BaselineClock>,
}

impl SignalDetector {
    pub fn new(settings: &DetectorSettings) -> Self {
        Self {
            baseline: LatencySketch::new(),
            pending: VecDeque::with_capacity(settings.baseline_delay + 1),
            monitors: settings
                .quantiles
                .iter()
                .map(|q| Monitor::new(*q))
                .collect(),
            windows: 0,
            version: None,
            deploy_left: 0,
            frozen_for: 0,
            resolution: None,
            seeded: false,
            clock: BaselineClock::default(),
            shape: DailyShape::default(),
        }
    }

    /// Still learning its first baseline (nothing tested yet, nothing loaded).
    pub fn is_warming(&self, settings: &DetectorSettings) -> bool {
        !self.seeded && self.windows <= settings.warmup_windows
    }

    /// With a seeded baseline: where in the day it was summed (`covering`, unix seconds), and
    /// the previous days' shape when this detector has none of its own.
    pub fn seed_shape(&mut self, days: &[Vec<Option<f32>>], covering: (f64, f64)) {
        if self.seeded && self.clock.is_empty() {
            const PIECES: u32 = 60;
            let (from, to) = covering;
            let weight = self.baseline.count() / f64::from(PIECES);
            for piece in 0..PIECES {
                let end = from + (to - from) * f64::from(piece + 1) / f64::from(PIECES);
                self.clock.absorb(end, weight);
            }
        }
        if !days.is_empty() && !self.shape.knows_days() {
            self.shape = DailyShape::with_days(days);
        }
    }

    /// Starts from a baseline made elsewhere (a histogram's buckets, at `bounds`), skipping
    /// the warm-up. With `deployed_version`, that baseline is the previous version's: the
    /// windows are compared with it, and kept out of it, for `deploy_windows`. Refused (false)
    /// once the detector has a baseline of its own.
    pub fn seed(
        &mut self,
        baseline: LatencySketch,
        bounds: Arc<[f64]>,
        deployed_version: Option<&str>,
        settings: &DetectorSettings,
    ) -> bool {
        if !self.is_warming(settings) || baseline.count() < settings.warmup_observations {
            return false;
        }
        self.pending = self
            .pending
            .iter()
            .map(|(w, end)| (requantize(w, &bounds), *end))
            .collect();
        self.baseline = baseline;
        self.clock.clear();
        self.resolution = Some(bounds);
        self.windows = settings.warmup_windows;
        self.seeded = true;
        if let Some(version) = deployed_version {
            self.version = Some(version.to_owned());
            self.deploy_left = settings.deploy_windows;
        }
        true
    }

    pub fn snapshot(&self) -> DetectorSnapshot {
        DetectorSnapshot {
            baseline: self.baseline.to_parts(),
            version: self.version.clone(),
            dispersion: self
                .monitors
                .iter()
                .map(|m| (m.quantile, m.dispersion))
                .collect(),
            resolution: self.resolution.as_deref().map(<[f64]>::to_vec),
            days: self.shape.days(),
            clock: (!self.clock.is_empty()).then(|| self.clock.clone()),
        }
    }

    /// A detector that goes on from `snapshot` (taken by a previous run); `None` if the
    /// snapshot is not usable. A version different from `current_version` makes the stored
    /// baseline the previous version's.
    pub fn restore(
        snapshot: DetectorSnapshot,
        current_version: Option<&str>,
        settings: &DetectorSettings,
    ) -> Option<Self> {
        let baseline = LatencySketch::from_parts(snapshot.baseline)?;
        let resolution: Option<Arc<[f64]>> = match snapshot.resolution {
            Some(bounds) if bounds.windows(2).all(|w| w[0] < w[1]) => Some(bounds.into()),
            Some(_) => return None,
            None => None,
        };
        let mut detector = Self::new(settings);
        if baseline.count() < settings.warmup_observations {
            return None;
        }
        for monitor in &mut detector.monitors {
            if let Some((_, d)) = snapshot
                .dispersion
                .iter()
                .find(|(q, d)| *q == monitor.quantile && d.is_finite() && *d > 0.0)
            {
                monitor.dispersion = d.min(DISPERSION_CLIP);
            }
        }
        detector.baseline = baseline;
        detector.shape = DailyShape::with_days(&snapshot.days);
        if let Some(clock) = snapshot.clock.filter(BaselineClock::is_valid) {
            detector.clock = clock;
        }
        detector.resolution = resolution;
        detector.windows = settings.warmup_windows;
        detector.seeded = true;
        detector.version = snapshot.version;
        if let (Some(stored), Some(current)) = (&detector.version, current_version)
            && stored != current
        {
            detector.version = Some(current.to_owned());
            detector.deploy_left = settings.deploy_windows;
        }
        Some(detector)
    }

    /// The service's version. A change makes the windows already seen (the previous
    /// version's) the baseline, and keeps the new version's out of it for `deploy_windows`.
    /// Returns whether it changed.
    pub fn set_version(&mut self, version: &str, settings: &DetectorSettings) -> bool {
        match &self.version {
            Some(current) if current == version => false,
            None => {
                self.version = Some(version.to_owned());
                false
            }
            Some(_) => {
                self.version = Some(version.to_owned());
                while let Some((window, end)) = self.pending.pop_front() {
                    self.absorb(window, end, settings);
                }
                self.deploy_left = settings.deploy_windows;
                true
            }
        }
    }

    /// Closes one interval ending at `end` (unix seconds). `routes` is the number of signals
    /// of this service tested at once.
    pub fn close_window(
        &mut self,
        window: LatencySketch,
        end: f64,
        routes: usize,
        settings: &DetectorSettings,
    ) -> Vec<Transition> {
        self.windows = self.windows.saturating_add(1);
        let window = match &self.resolution {
            Some(bounds) => requantize(&window, bounds),
            None => window,
        };
        let warmed = self.windows > settings.warmup_windows
            && self.baseline.count() >= settings.warmup_observations;
        let (median, requests) = (window.quantile(0.5), window.count());
        self.pending.push_back((window, end));
        let mut transitions = Vec::new();
        if warmed {
            let recent_windows: Vec<&LatencySketch> = self
                .pending
                .iter()
                .rev()
                .take(settings.recent_windows)
                .map(|(w, _)| w)
                .collect();
            let mut recent = LatencySketch::new();
            recent_windows.iter().for_each(|w| recent.merge(w));
            let window = &self.pending.back().expect("just pushed").0;
            let compared_with = if self.deploy_left > 0 {
                "previous_version"
            } else {
                "trailing"
            };
            // The baseline moved to this time of day (the daily cycle is not a regression).
            let shift = self.shape.expected_shift(end, &self.clock);
            let shifted;
            let baseline = if shift == 0.0 {
                &self.baseline
            } else {
                shifted = self.baseline.shifted(shift);
                &shifted
            };
            for monitor in &mut self.monitors {
                transitions.extend(monitor.update(
                    window,
                    &recent,
                    &recent_windows,
                    baseline,
                    end,
                    routes,
                    compared_with,
                    settings,
                ));
            }
            if let Some(accepted) = self.accept_long_regressions(end, settings) {
                transitions.extend(accepted);
            }
        }
        let suspicious = warmed && self.monitors.iter().any(|m| m.suspicious(settings, routes));
        let any_active = self.monitors.iter().any(|m| m.active.is_some());
        self.shape
            .observe(end, median, requests, suspicious || any_active);
        while self.pending.len() > settings.baseline_delay {
            let (oldest, oldest_end) = self.pending.pop_front().expect("non-empty");
            if self.deploy_left > 0 {
                continue;
            }
            if suspicious && (any_active || self.frozen_for < settings.max_freeze) {
                self.frozen_for += 1;
                continue;
            }
            self.absorb(oldest, oldest_end, settings);
        }
        if !suspicious {
            self.frozen_for = 0;
        }
        self.deploy_left = self.deploy_left.saturating_sub(1);
        transitions
    }

    fn absorb(&mut self, window: LatencySketch, end: f64, settings: &DetectorSettings) {
        let decay = 0.5f64.powf(1.0 / settings.baseline_half_life.max(1.0));
        self.baseline.scale(decay);
        self.clock.scale(decay);
        self.clock.absorb(end, window.count());
        self.baseline.merge(&window);
    }

    /// A regression that lasted `accept_after` windows is the new normal.
    fn accept_long_regressions(
        &mut self,
        end: f64,
        settings: &DetectorSettings,
    ) -> Option<Vec<Transition>> {
        let expired = self
            .monitors
            .iter()
            .any(|m| m.active.is_some() && m.active_windows >= settings.accept_after);
        if !expired {
            return None;
        }
        let mut transitions = Vec::new();
        for monitor in &mut self.monitors {
            if monitor.active.is_some() {
                transitions.push(monitor.end(end, "accepted"));
            }
            monitor.cusum = 0.0;
        }
        self.baseline.clear();
        self.clock.clear();
        for (window, end) in &self.pending {
            self.baseline.merge(window);
            self.clock.absorb(*end, window.count());
        }
        self.pending.clear();
        Some(transitions)
    }

    pub fn states(&self) -> impl Iterator<Item = QuantileState> + '_ {
        self.monitors.iter().filter_map(|m| m.last)
    }

    /// Per quantile: the CUSUM statistic and the dispersion it is scaled by.
    pub fn evidence(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        self.monitors
            .iter()
            .map(|m| (m.quantile, m.cusum, m.dispersion))
    }

    pub fn active(&self) -> impl Iterator<Item = &Regression> + '_ {
        self.monitors.iter().filter_map(|m| m.active.as_ref())
    }

    pub fn heap_bytes(&self) -> usize {
        self.baseline.heap_bytes()
            + self.shape.heap_bytes()
            + self
                .pending
                .iter()
                .map(|(w, _)| w.heap_bytes())
                .sum::<usize>()
    }
}
