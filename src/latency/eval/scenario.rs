//! Labelled scenarios generated from a seed: per-minute windows of request latencies for one
//! or more routes, with or without an injected regression.

use crate::latency::stats::normal_sf;

/// What is injected into a scenario's regressed route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Injected {
    pub route: usize,
    pub start_window: u32,
    /// +0.2 = 20 % slower at the quantiles affected.
    pub magnitude: f64,
    /// Only the slowest quarter of requests slows down (p95 and p99 by `magnitude`, the median
    /// not at all); otherwise every request does.
    pub tail_only: bool,
    /// The slowdown grows linearly over this many windows (0 = a step).
    pub ramp_windows: u32,
    /// The slowdown lasts this many windows (an incident); 0 = it stays.
    pub duration_windows: u32,
}

impl Injected {
    /// A lasting step on route 0 from `start_window`.
    pub fn step(start_window: u32, magnitude: f64, tail_only: bool) -> Self {
        Self {
            route: 0,
            start_window,
            magnitude,
            tail_only,
            ramp_windows: 0,
            duration_windows: 0,
        }
    }

    pub fn is_incident(&self) -> bool {
        self.duration_windows > 0
    }

    fn covers(&self, window: u32) -> bool {
        window >= self.start_window
            && (self.duration_windows == 0 || window < self.start_window + self.duration_windows)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    Stationary,
    /// Load ±70 % over 24 h, latency ±5 % with it.
    Diurnal,
    /// 2 % of requests from a Pareto tail, and one-to-two-minute bursts (about every two
    /// hours) where 30 % of requests are 4× slower.
    BurstyHeavyTail,
    /// Traffic falls to 5 % for an hour every six hours.
    Dips,
    /// A daily cycle driven by traffic: from 06:00 to 22:00 the load rises up to 1.7× and
    /// the latency up to 2–3× (the scenario's peak), at 14:00 give or take 20 min from day to
    /// day, the peak ±10 % from day to day and 0.6 of it on weekends (days 5 and 6).
    DailyCycle,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub traffic: Traffic,
    /// Requests per second per route (before diurnal or dip modulation).
    pub rate: f64,
    pub routes: usize,
    pub windows: u32,
    pub median_seconds: f64,
    /// Log-normal shape (standard deviation of ln latency).
    pub sigma: f64,
    pub injected: Option<Injected>,
    /// The service's version changes at this window (a deploy).
    pub deploy_at: Option<u32>,
}

pub const WINDOW_SECONDS: f64 = 60.0;

impl Scenario {
    /// The samples of one route's window, drawn from `rng`.
    pub fn window_samples(&self, rng: &mut fastrand::Rng, route: usize, window: u32) -> Vec<f64> {
        let minute = window as f64;
        let phase = (minute / 1440.0) * std::f64::consts::TAU;
        let (mut rate, mut scale) = (self.rate, 1.0);
        match self.traffic {
            Traffic::Stationary | Traffic::BurstyHeavyTail => {}
            Traffic::Diurnal => {
                rate *= 1.0 + 0.7 * phase.sin();
                scale *= 1.0 + 0.05 * phase.sin();
            }
            Traffic::Dips => {
                if window % 360 >= 300 {
                    rate *= 0.05;
                }
            }
            Traffic::DailyCycle => {
                let (load, slowdown) = self.daily_cycle(window);
                rate *= load;
                scale *= slowdown;
            }
        }
        // Bursts are a property of the minute, the same for every route.
        let burst = self.traffic == Traffic::BurstyHeavyTail && {
            let mut minute_rng = fastrand::Rng::with_seed(self.seed ^ 0xB0B5 ^ (window as u64 / 2));
            minute_rng.f64() < 1.0 / 60.0 && (window.is_multiple_of(2) || minute_rng.bool())
        };
        let count = poisson(rng, rate * WINDOW_SECONDS);
        let regression = self
            .injected
            .filter(|i| i.route == route && i.covers(window))
            .map(|i| {
                let progress = if i.ramp_windows == 0 {
                    1.0
                } else {
                    ((window - i.start_window) as f64 / i.ramp_windows as f64).min(1.0)
                };
                (i.magnitude * progress, i.tail_only)
            });
        (0..count)
            .map(|_| {
                let z = standard_normal(rng);
                let mut latency = self.median_seconds * scale * (self.sigma * z).exp();
                if let Some((magnitude, tail_only)) = regression {
                    latency *= if tail_only {
                        let u = 1.0 - normal_sf(z);
                        1.0 + magnitude * smoothstep((u - 0.75) / 0.2)
                    } else {
                        1.0 + magnitude
                    };
                }
                if self.traffic == Traffic::BurstyHeavyTail {
                    if rng.f64() < 0.02 {
                        latency *= 2.0 / rng.f64().max(1e-9).powf(1.0 / 1.5);
                    }
                    if burst && rng.f64() < 0.3 {
                        latency *= 4.0;
                    }
                }
                latency
            })
            .collect()
    }
}

impl Scenario {
    /// The daily cycle's load and latency factors at `window` (minutes from midnight of
    /// day 0).
    pub fn daily_cycle(&self, window: u32) -> (f64, f64) {
        let day = window / 1440;
        let mut scenario_rng = fastrand::Rng::with_seed(self.seed ^ 0xDA11);
        let peak = 2.0 + scenario_rng.f64();
        let mut day_rng = fastrand::Rng::with_seed(self.seed ^ 0xDA7 ^ (u64::from(day) << 20));
        let jitter_minutes = 40.0 * (day_rng.f64() - 0.5);
        let weekend = if day % 7 >= 5 { 0.6 } else { 1.0 };
        let day_peak = (peak - 1.0) * weekend * (1.0 + 0.2 * (day_rng.f64() - 0.5));
        let hour = (f64::from(window % 1440) - jitter_minutes) / 60.0;
        let bump = if (6.0..22.0).contains(&hour) {
            0.5 - 0.5 * ((hour - 6.0) / 16.0 * std::f64::consts::TAU).cos()
        } else {
            0.0
        };
        (0.3 + 1.4 * bump * weekend, 1.0 + day_peak * bump)
    }
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

pub(super) fn standard_normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Poisson draws: Knuth's product method for small means, a rounded normal for large ones.
fn poisson(rng: &mut fastrand::Rng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 50.0 {
        return (mean + mean.sqrt() * standard_normal(rng)).round().max(0.0) as usize;
    }
    let limit = (-mean).exp();
    let (mut count, mut product) = (0, rng.f64());
    while product > limit {
        count += 1;
        product *= rng.f64();
    }
    count
}
