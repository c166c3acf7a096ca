//! Labelled per-interval quantile series (what `vigia detect --kind quantiles` reads): a p95
//! every 5 minutes for two weeks, with traffic-driven daily cycles (2–3× at peak, the peak
//! coming up to 20 min earlier or later from day to day, quieter weekends), noise, lone spikes,
//! and injected level shifts and incidents. Scored for the series detector and for the
//! median+MAD threshold a user would otherwise set.

use super::scenario::standard_normal;
use crate::latency::quantile_series::{SeriesSettings, detect_series, median_and_spread};

const INTERVAL: f64 = 300.0;
const DAY: f64 = 86_400.0;
/// A Monday, 00:00 UTC.
const T0: f64 = 1_762_732_800.0;

#[derive(Debug, Clone)]
pub struct LabelledSeries {
    pub name: String,
    pub rows: Vec<(f64, f64)>,
    /// Injected anomaly: `(start, end)` unix seconds.
    pub anomaly: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Copy)]
pub struct SeriesShape {
    pub days: u32,
    /// Peak-to-trough ratio of the daily cycle (1 = flat).
    pub daily_peak: f64,
    /// Log-normal noise per point.
    pub noise: f64,
    /// Multiplies the level from `start_day` (fractional days) for `hours`.
    pub shift: Option<(f64, f64, f64)>,
}

/// Generates one series from a seed.
pub fn generate(name: &str, shape: SeriesShape, seed: u64) -> LabelledSeries {
    let mut rng = fastrand::Rng::with_seed(seed);
    let points = (f64::from(shape.days) * DAY / INTERVAL) as usize;
    let base: f64 = 0.120;
    let mut rows = Vec::with_capacity(points);
    let (mut phase, mut amplitude, mut day_seen) = (0.0, 1.0, u32::MAX);
    for i in 0..points {
        let time = T0 + i as f64 * INTERVAL;
        let day = ((time - T0) / DAY) as u32;
        if day != day_seen {
            day_seen = day;
            phase = (rng.f64() * 2.0 - 1.0) * 1200.0;
            let weekend = day % 7 >= 5;
            amplitude = (0.9 + 0.2 * rng.f64()) * if weekend { 0.6 } else { 1.0 };
        }
        let hour = ((time - T0 + phase).rem_euclid(DAY)) / 3600.0;
        // Traffic peaks at 14:00; the rise is steeper than a sine, as real mornings are.
        let bump = ((1.0 + (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos()) / 2.0).powi(3);
        let mut log_level = base.ln() + shape.daily_peak.ln() * amplitude * bump;
        log_level += shape.noise * standard_normal(&mut rng);
        if rng.f64() < 0.005 {
            log_level += 0.6 + 0.4 * rng.f64();
        }
        if let Some((start_day, hours, factor)) = shape.shift {
            let start = T0 + start_day * DAY;
            if time >= start && time < start + hours * 3600.0 {
                log_level += factor.ln();
            }
        }
        rows.push((time, log_level.exp()));
    }
    let anomaly = shape.shift.map(|(start_day, hours, _)| {
        let start = T0 + start_day * DAY;
        (start, start + hours * 3600.0)
    });
    LabelledSeries {
        name: name.to_owned(),
        rows,
        anomaly,
    }
}

/// The suite: per seed, daily cycles with and without anomalies, flat and noisy series.
pub fn suite(seeds: u64) -> Vec<LabelledSeries> {
    let mut all = Vec::new();
    for seed in 0..seeds {
        let peak = 2.0 + (seed % 3) as f64 * 0.5;
        let daily = |shift| SeriesShape {
            days: 14,
            daily_peak: peak,
            noise: 0.08,
            shift,
        };
        // Anomalies on weekdays of the second week, at varied hours.
        let day = 7.0 + (seed % 5) as f64 + (seed % 4) as f64 * 0.2 + 0.3;
        let series = [
            ("daily cycle", daily(None)),
            ("daily cycle, x2 for 2 h", daily(Some((day, 2.0, 2.0)))),
            ("daily cycle, x2 for 15 min", daily(Some((day, 0.25, 2.0)))),
            (
                "daily cycle, +30 % lasting",
                daily(Some((day, 24.0 * 3.0, 1.3))),
            ),
            (
                "flat",
                SeriesShape {
                    days: 14,
                    daily_peak: 1.0,
                    noise: 0.05,
                    shift: None,
                },
            ),
            (
                "noisy",
                SeriesShape {
                    days: 14,
                    daily_peak: 1.0,
                    noise: 0.3,
                    shift: None,
                },
            ),
        ];
        for (name, shape) in series {
            all.push(generate(name, shape, seed * 7919 + all.len() as u64));
        }
    }
    all
}

/// Scores over a suite: anomalies caught within `window` seconds of their start, and alarms
/// outside any anomaly (or long after its start).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SeriesScore {
    pub anomalies: usize,
    pub caught: usize,
    pub false_alarms: usize,
    pub delays: Vec<f64>,
}

/// Alarm times of one method on one series.
pub type Method = fn(&[(f64, f64)]) -> Vec<f64>;

pub fn vigia_alarms(rows: &[(f64, f64)]) -> Vec<f64> {
    series_alarms(rows, &SeriesSettings::default())
}

/// The same detector without the previous days: the trailing line only.
pub fn trailing_only_alarms(rows: &[(f64, f64)]) -> Vec<f64> {
    let settings = SeriesSettings {
        seasonal: false,
        ..SeriesSettings::default()
    };
    series_alarms(rows, &settings)
}

fn series_alarms(rows: &[(f64, f64)], settings: &SeriesSettings) -> Vec<f64> {
    detect_series(rows, INTERVAL, settings)
        .into_iter()
        .map(|found| found.detected_at)
        .collect()
}

/// The methods compared, by name.
pub const METHODS: [(&str, Method); 3] = [
    ("vigia (previous days + trailing)", vigia_alarms),
    ("trailing line only", trailing_only_alarms),
    ("median + 3 MAD of day 1", static_threshold_alarms),
];

/// A markdown table: per kind of series and method, anomalies caught within `window`
/// seconds, their median delay, and false alarms per series-week.
pub fn table(suite: &[LabelledSeries], window: f64) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for series in suite {
        if !kinds.contains(&series.name.as_str()) {
            kinds.push(&series.name);
        }
    }
    let mut out = String::from(
        "| series | method | caught | median delay | false alarms / series-week |\n|---|---|---|---|---|\n",
    );
    for kind in kinds {
        let part: Vec<LabelledSeries> = suite.iter().filter(|s| s.name == kind).cloned().collect();
        let weeks: f64 = part
            .iter()
            .map(|s| s.rows.len() as f64 * INTERVAL / (7.0 * DAY))
            .sum();
        for (name, method) in METHODS {
            let result = score(&part, method, window);
            let mut delays = result.delays.clone();
            delays.sort_by(f64::total_cmp);
            let caught = if result.anomalies == 0 {
                "–".to_owned()
            } else {
                format!("{}/{}", result.caught, result.anomalies)
            };
            let delay = delays
                .get(delays.len() / 2)
                .map_or("–".to_owned(), |d| format!("{:.0} min", d / 60.0));
            out.push_str(&format!(
                "| {kind} | {name} | {caught} | {delay} | {:.2} |\n",
                result.false_alarms as f64 / weeks
            ));
        }
    }
    out
}

/// A fixed threshold at median + 3·MAD of the first day (alarm on the first point over it
/// after a quiet point): what a user without a detector would configure.
pub fn static_threshold_alarms(rows: &[(f64, f64)]) -> Vec<f64> {
    let learn = (DAY / INTERVAL) as usize;
    if rows.len() <= learn {
        return Vec::new();
    }
    let (median, spread) = median_and_spread(rows[..learn].iter().map(|r| r.1.ln()).collect());
    let threshold = median + 3.0 * spread;
    let mut alarms = Vec::new();
    let mut above = false;
    for &(time, value) in &rows[learn..] {
        let now = value.ln() > threshold;
        if now && !above {
            alarms.push(time);
        }
        above = now;
    }
    alarms
}

pub fn score(suite: &[LabelledSeries], method: Method, window: f64) -> SeriesScore {
    let mut score = SeriesScore::default();
    for series in suite {
        let alarms = method(&series.rows);
        let mut caught = None;
        for alarm in alarms {
            match series.anomaly {
                Some((start, end)) if alarm >= start && alarm <= end.max(start + window) => {
                    caught.get_or_insert(alarm - start);
                }
                _ => score.false_alarms += 1,
            }
        }
        if series.anomaly.is_some() {
            score.anomalies += 1;
            if let Some(delay) = caught.filter(|d| *d <= window) {
                score.caught += 1;
                score.delays.push(delay);
            }
        }
    }
    score
}
