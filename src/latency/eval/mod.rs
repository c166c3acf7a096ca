//! The evaluation harness: labelled scenarios from a seed, vigia's detector and two baselines
//! run on the same windows, and the scores (recall, false alarms per day, detection delay,
//! F1). The test suite runs it small on a fixed seed and asserts the targets; `cargo bench
//! --bench latency_eval` runs it full size (docs/latency-detection.md).

pub mod baselines;
pub mod scenario;
pub mod series;

use super::detector::{DetectorSettings, SignalDetector, Transition};
use super::sketch::LatencySketch;
use baselines::{KayentaStyle, StaticP99};
use scenario::{Injected, Scenario, Traffic};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A few minutes in a debug build: the test suite.
    Small,
    /// The benchmark: ten times the seeds, longer clean runs.
    Full,
}

const MEDIAN: f64 = 0.080;
const SIGMA: f64 = 0.5;
const DAY: u32 = 1440;

/// The scenarios of one run.
pub fn suite(seed: u64, scale: Scale) -> Vec<Scenario> {
    let (seeds, clean_days) = match scale {
        Scale::Small => (2u64, 2u32),
        Scale::Full => (10, 7),
    };
    let mut scenarios = Vec::new();
    let mut next_seed = seed;
    let mut add = |name: String, traffic, rate, routes, windows, injected, deploy_at| {
        next_seed = next_seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        scenarios.push(Scenario {
            name,
            seed: next_seed,
            traffic,
            rate,
            routes,
            windows,
            median_seconds: MEDIAN,
            sigma: SIGMA,
            injected,
            deploy_at,
        });
    };
    for rate in [1.0, 10.0] {
        for traffic in [Traffic::Stationary, Traffic::Diurnal] {
            for s in 0..seeds.min(3) {
                add(
                    format!("{traffic:?} {rate} rps #{s}"),
                    traffic,
                    rate,
                    1,
                    clean_days * DAY,
                    None,
                    None,
                );
            }
        }
    }
    // Daily cycles: the first day is learned from the level's own rise, the next ones from
    // the previous days.
    for rate in [1.0, 10.0] {
        for s in 0..seeds.min(3) {
            add(
                format!("DailyCycle {rate} rps #{s}"),
                Traffic::DailyCycle,
                rate,
                1,
                clean_days.max(2) * DAY,
                None,
                None,
            );
        }
    }
    for traffic in [Traffic::BurstyHeavyTail, Traffic::Dips] {
        add(
            format!("{traffic:?} 5 rps"),
            traffic,
            5.0,
            1,
            DAY,
            None,
            None,
        );
    }
    let step_start = 300;
    // The full run adds a busy tier; the small one stays quick in a debug build.
    let rates: &[f64] = match scale {
        Scale::Small => &[1.0, 10.0],
        Scale::Full => &[1.0, 10.0, 100.0],
    };
    for s in 0..seeds {
        for &rate in rates {
            for magnitude in [0.05, 0.10, 0.20, 0.50, 1.00] {
                for tail_only in [false, true] {
                    let start = step_start + (s as u32 * 17) % 60;
                    add(
                        format!(
                            "step +{:.0}% {} {rate} rps #{s}",
                            magnitude * 100.0,
                            if tail_only { "tail" } else { "all" }
                        ),
                        Traffic::Stationary,
                        rate,
                        1,
                        start + 120,
                        Some(Injected::step(start, magnitude, tail_only)),
                        None,
                    );
                }
            }
            add(
                format!("drift +50% over 2 h {rate} rps #{s}"),
                Traffic::Diurnal,
                rate,
                1,
                step_start + 240,
                Some(Injected {
                    route: 0,
                    start_window: step_start,
                    magnitude: 0.5,
                    tail_only: false,
                    ramp_windows: 120,
                    duration_windows: 0,
                }),
                None,
            );
            add(
                format!("deploy, no regression {rate} rps #{s}"),
                Traffic::Stationary,
                rate,
                1,
                step_start + 180,
                None,
                Some(step_start),
            );
            add(
                format!("deploy, +30% {rate} rps #{s}"),
                Traffic::Stationary,
                rate,
                1,
                step_start + 120,
                Some(Injected::step(step_start, 0.3, false)),
                Some(step_start),
            );
        }
    }
    // Steps at every time of the second day of a daily cycle: on the rise, at the peak, on
    // the fall; and incidents (×2 for 15 or 30 minutes), on a daily cycle and on flat traffic.
    for s in 0..seeds {
        for (i, &rate) in [1.0, 10.0].iter().enumerate() {
            let hour = [8u32, 11, 14, 17, 20][(s as usize * 2 + i) % 5];
            let start = DAY + hour * 60 + (s as u32 * 23) % 60;
            for magnitude in [0.20, 0.50] {
                for tail_only in [false, true] {
                    add(
                        format!(
                            "daily cycle, step +{:.0}% {} at {hour}:xx {rate} rps #{s}",
                            magnitude * 100.0,
                            if tail_only { "tail" } else { "all" }
                        ),
                        Traffic::DailyCycle,
                        rate,
                        1,
                        start + 120,
                        Some(Injected::step(start, magnitude, tail_only)),
                        None,
                    );
                }
            }
            for (traffic, minutes) in [
                (Traffic::DailyCycle, 15),
                (Traffic::DailyCycle, 30),
                (Traffic::Stationary, 15),
            ] {
                let start = if traffic == Traffic::DailyCycle {
                    start + 60 * (s as u32 % 3)
                } else {
                    step_start + (s as u32 * 17) % 60
                };
                add(
                    format!("{traffic:?}, incident x2 for {minutes} min {rate} rps #{s}"),
                    traffic,
                    rate,
                    1,
                    start + minutes + 120,
                    Some(Injected {
                        route: 0,
                        start_window: start,
                        magnitude: 1.0,
                        tail_only: false,
                        ramp_windows: 0,
                        duration_windows: minutes,
                    }),
                    None,
                );
            }
        }
    }
    for s in 0..seeds.div_ceil(2) {
        add(
            format!("1 route of 100 +50% #{s}"),
            Traffic::Stationary,
            1.0,
            100,
            step_start + 120,
            Some(Injected {
                route: (s as usize * 37) % 100,
                start_window: step_start,
                magnitude: 0.5,
                tail_only: false,
                ramp_windows: 0,
                duration_windows: 0,
            }),
            None,
        );
    }
    scenarios
}

/// An alarm raised by a method: the route and the window it was raised at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alarm {
    pub route: usize,
    pub window: u32,
    /// The quantile that fired (0.99 for the static alert, 0.95 for Kayenta).
    pub quantile: f64,
}

/// Alarms of vigia's detector, the static p99 alert and the Kayenta-style judge.
#[derive(Debug, Default)]
pub struct Alarms {
    pub vigia: Vec<Alarm>,
    pub static_p99: Vec<Alarm>,
    pub kayenta: Vec<Alarm>,
}

/// Runs every method over one scenario.
pub fn run(scenario: &Scenario, settings: &DetectorSettings) -> Alarms {
    let mut rng = fastrand::Rng::with_seed(scenario.seed);
    let mut detectors: Vec<SignalDetector> = (0..scenario.routes)
        .map(|_| SignalDetector::new(settings))
        .collect();
    let mut statics: Vec<StaticP99> = (0..scenario.routes).map(|_| StaticP99::new(120)).collect();
    let mut kayentas: Vec<KayentaStyle> =
        (0..scenario.routes).map(|_| KayentaStyle::new()).collect();
    let mut active_quantiles = vec![0usize; scenario.routes];
    let mut alarms = Alarms::default();
    for window in 0..scenario.windows {
        let end = f64::from(window + 1) * scenario::WINDOW_SECONDS;
        for route in 0..scenario.routes {
            let mut sketch = LatencySketch::new();
            for sample in scenario.window_samples(&mut rng, route, window) {
                sketch.add(sample);
            }
            let version = if scenario.deploy_at.is_some_and(|at| window >= at) {
                "v2"
            } else {
                "v1"
            };
            detectors[route].set_version(version, settings);
            if statics[route].close_window(&sketch) {
                alarms.static_p99.push(Alarm {
                    route,
                    window,
                    quantile: 0.99,
                });
            }
            if kayentas[route].close_window(&sketch) {
                alarms.kayenta.push(Alarm {
                    route,
                    window,
                    quantile: 0.95,
                });
            }
            for transition in detectors[route].close_window(sketch, end, scenario.routes, settings)
            {
                match transition {
                    Transition::Started(regression) => {
                        // Several quantiles of one route firing together are one alarm.
                        if active_quantiles[route] == 0 {
                            alarms.vigia.push(Alarm {
                                route,
                                window,
                                quantile: regression.quantile,
                            });
                        }
                        active_quantiles[route] += 1;
                    }
                    Transition::Ended(_) => {
                        active_quantiles[route] = active_quantiles[route].saturating_sub(1)
                    }
                }
            }
        }
    }
    alarms
}

/// One method's scores over a suite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    pub regressions: usize,
    /// Regressions detected (an alarm on the regressed route after it started).
    pub detected: usize,
    /// The target class: steps raising p95 by ≥ 20 % (whole or tail) at ≥ 1 req/s…
    pub target_regressions: usize,
    /// …detected within 10 minutes.
    pub target_detected: usize,
    /// Incidents (×2 for 15 min or more), and those detected while they lasted.
    pub incidents: usize,
    pub incidents_detected: usize,
    pub true_alarms: usize,
    pub false_alarms: usize,
    /// Service-days of traffic without an injected regression (clean scenarios, and the time
    /// before the injection in the others).
    pub clean_days: f64,
    /// False alarms and service-weeks on stationary and diurnal traffic only.
    pub steady_false_alarms: usize,
    pub steady_weeks: f64,
    /// False alarms on a daily cycle's first day, before any previous day can say what the
    /// rise looks like (a process starting with no stored or loaded days); counted in the
    /// precision, not in the steady rate, and reported on their own.
    pub first_cycle_day_false_alarms: usize,
    pub first_cycle_days: f64,
    /// Detection delays in minutes, from the injection (steps and deploys; drifts excluded).
    pub delays: Vec<f64>,
}

impl Score {
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.regressions)
    }
    pub fn target_recall(&self) -> f64 {
        ratio(self.target_detected, self.target_regressions)
    }
    pub fn incident_recall(&self) -> f64 {
        ratio(self.incidents_detected, self.incidents)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.true_alarms, self.true_alarms + self.false_alarms)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    pub fn false_alarms_per_day(&self) -> f64 {
        self.false_alarms as f64 / self.clean_days.max(f64::MIN_POSITIVE)
    }
    pub fn steady_false_alarms_per_week(&self) -> f64 {
        self.steady_false_alarms as f64 / self.steady_weeks.max(f64::MIN_POSITIVE)
    }
    pub fn first_cycle_day_false_alarms_per_day(&self) -> f64 {
        self.first_cycle_day_false_alarms as f64 / self.first_cycle_days.max(f64::MIN_POSITIVE)
    }
    pub fn median_delay(&self) -> Option<f64> {
        let mut delays = self.delays.clone();
        delays.sort_by(f64::total_cmp);
        delays.get(delays.len() / 2).copied()
    }

    /// Adds one scenario's alarms.
    pub fn add(&mut self, scenario: &Scenario, alarms: &[Alarm]) {
        let clean_windows = scenario
            .injected
            .map_or(scenario.windows, |i| i.start_window);
        self.clean_days += f64::from(clean_windows) / f64::from(DAY);
        let steady = matches!(
            scenario.traffic,
            Traffic::Stationary | Traffic::Diurnal | Traffic::DailyCycle
        ) && scenario.injected.is_none()
            && scenario.deploy_at.is_none();
        let cycle = scenario.traffic == Traffic::DailyCycle;
        let learning_windows = if cycle { DAY.min(scenario.windows) } else { 0 };
        if cycle {
            self.first_cycle_days += f64::from(learning_windows) / f64::from(DAY);
        }
        if steady {
            self.steady_weeks +=
                f64::from(scenario.windows - learning_windows) / f64::from(7 * DAY);
        }
        let mut first_detection = None;
        for alarm in alarms {
            // An incident's alarm is true while it lasts and shortly after (the evidence
            // arrives a few windows late); later ones are false.
            let true_alarm = scenario.injected.is_some_and(|i| {
                alarm.route == i.route
                    && alarm.window >= i.start_window
                    && (!i.is_incident() || alarm.window < i.start_window + i.duration_windows + 10)
            });
            if true_alarm {
                self.true_alarms += 1;
                first_detection = first_detection.or(Some(alarm.window));
            } else {
                self.false_alarms += 1;
                if alarm.window < learning_windows {
                    self.first_cycle_day_false_alarms += 1;
                } else if steady {
                    self.steady_false_alarms += 1;
                }
            }
        }
        let Some(injected) = scenario.injected else {
            return;
        };
        self.regressions += 1;
        let delay = first_detection.map(|w| f64::from(w + 1 - injected.start_window));
        if let Some(delay) = delay {
            self.detected += 1;
            if injected.ramp_windows == 0 {
                self.delays.push(delay);
            }
        }
        if injected.is_incident() {
            self.incidents += 1;
            if delay.is_some_and(|d| d <= f64::from(injected.duration_windows)) {
                self.incidents_detected += 1;
            }
            return;
        }
        let target = injected.ramp_windows == 0
            && injected.magnitude >= 0.2 - 1e-9
            && scenario.rate >= 1.0
            && scenario.routes == 1
            && scenario.deploy_at.is_none();
        if target {
            self.target_regressions += 1;
            if delay.is_some_and(|d| d <= 10.0) {
                self.target_detected += 1;
            }
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Scores of the three methods over a suite.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub vigia: Score,
    pub static_p99: Score,
    pub kayenta: Score,
    /// Per scenario name: minutes to vigia's first true alarm, or None.
    pub vigia_by_scenario: Vec<(String, Option<f64>, Vec<Alarm>)>,
}

pub fn evaluate(scenarios: &[Scenario], settings: &DetectorSettings) -> Report {
    let mut report = Report::default();
    for scenario in scenarios {
        let alarms = run(scenario, settings);
        report.vigia.add(scenario, &alarms.vigia);
        report.static_p99.add(scenario, &alarms.static_p99);
        report.kayenta.add(scenario, &alarms.kayenta);
        let first = scenario.injected.and_then(|i| {
            alarms
                .vigia
                .iter()
                .find(|a| a.route == i.route && a.window >= i.start_window)
                .map(|a| f64::from(a.window + 1 - i.start_window))
        });
        let false_alarms = alarms
            .vigia
            .iter()
            .filter(|a| {
                scenario
                    .injected
                    .is_none_or(|i| a.route != i.route || a.window < i.start_window)
            })
            .copied()
            .collect();
        report
            .vigia_by_scenario
            .push((scenario.name.clone(), first, false_alarms));
    }
    report
}

impl Report {
    /// A Markdown table, as docs/latency-detection.md shows it.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| method | recall (all) | recall ≥20 % p95 steps ≤10 min | incidents ×2 ≥15 min caught | false alarms/day | false alarms/service-week (steady) | false alarms on a cycle's first day (per day) | median delay (min) | precision | F1 |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (name, score) in [
            ("vigia", &self.vigia),
            ("static p99 threshold", &self.static_p99),
            ("Kayenta-style Mann-Whitney", &self.kayenta),
        ] {
            out.push_str(&format!(
                "| {name} | {:.1} % ({}/{}) | {:.1} % ({}/{}) | {:.1} % ({}/{}) | {:.2} | {:.2} | {:.2} | {} | {:.3} | {:.3} |\n",
                100.0 * score.recall(),
                score.detected,
                score.regressions,
                100.0 * score.target_recall(),
                score.target_detected,
                score.target_regressions,
                100.0 * score.incident_recall(),
                score.incidents_detected,
                score.incidents,
                score.false_alarms_per_day(),
                score.steady_false_alarms_per_week(),
                score.first_cycle_day_false_alarms_per_day(),
                score.median_delay().map_or("–".to_owned(), |d| format!("{d:.0}")),
                score.precision(),
                score.f1(),
            ));
        }
        out
    }
}
