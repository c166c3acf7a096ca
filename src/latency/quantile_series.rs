//! Level shifts in a series of per-interval quantiles (`vigia detect --kind quantiles`, a
//! p95 exported from Prometheus, a scraped summary quantile): one value per interval, no
//! samples to rank, often a daily cycle.
//!
//! Each value x (in log space, so effects are ratios) is compared with what is expected at
//! that time:
//! - **seasonal**, once a day of history exists: the median of the same time of day 1, 2, 3,
//!   7 and 14 days back (±1 slot), the second highest of those days, then
//!   the highest of that within ±30 min, so a daily rise that comes a little early is not a
//!   shift; plus the trailing offset when positive (median
//!   of x − seasonal over the last 2 h), so a day that runs a bit hotter than the previous
//!   ones is its own normal;
//! - **trend**, before that: a robust line (Theil–Sen) through the last hour, so the
//!   first day's rise is followed, and a larger minimum effect (×1.3) since one day says
//!   little about what is normal.
//!
//! The residual r, divided by the robust dispersion of the baseline's residuals, feeds a
//! one-sided CUSUM whose gain per point is capped (a spike adds at most 2.5) and whose alarm
//! also needs three consecutive points above the minimum effect: a doubling fires on its
//! third point, a lone or paired spike never. `docs/latency-detection.md` gives the
//! measurements that chose this over a trailing line alone and the variants dropped.

use super::detector::Regression;
use std::collections::{HashMap, VecDeque};

const DAY: f64 = 86_400.0;
/// Days back the seasonal reference looks at: the previous three days, and the same weekday.
const SEASONAL_LAGS: [i64; 5] = [1, 2, 3, 7, 14];

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSettings {
    /// The quantile the series holds (reported, not used by the test).
    pub quantile: f64,
    /// Compare with the previous days once they exist (off: the trailing line only, the
    /// comparison `docs/latency-detection.md` measures this against).
    pub seasonal: bool,
    /// Smallest relative increase reported (0.1 = 10 %) once a day of history exists.
    pub min_relative: f64,
    /// The same before: with no previous day, one day's normal swing looks like a shift.
    pub min_relative_first_day: f64,
    /// The trailing baseline: this long, and at least this many points.
    pub baseline_span: f64,
    pub min_baseline_points: usize,
    /// Points wait this many intervals before joining the baseline.
    pub baseline_delay: usize,
    /// The line of the first day goes through this much of the recent past.
    pub trend_span: f64,
    /// How early a daily rise may come and still be normal.
    pub phase_tolerance: f64,
    /// CUSUM: allowance and cap per point, in dispersions, and the alarm threshold.
    pub allowance: f64,
    pub max_gain: f64,
    pub threshold: f64,
    /// Consecutive points above the minimum effect an alarm also needs.
    pub min_run: usize,
    /// Consecutive points with the effect halved that end a regression (`recovered`).
    pub recovery_points: usize,
    /// A regression this long (seconds) becomes the new normal (`accepted`).
    pub accept_after: f64,
    /// A regression that recovered within this long is an incident.
    pub incident_within: f64,
}

impl Default for SeriesSettings {
    fn default() -> Self {
        Self {
            quantile: 0.95,
            seasonal: true,
            min_relative: 0.10,
            min_relative_first_day: 0.30,
            baseline_span: 2.0 * 3600.0,
            min_baseline_points: 6,
            baseline_delay: 3,
            trend_span: 3600.0,
            phase_tolerance: 1800.0,
            allowance: 1.0,
            max_gain: 3.5,
            threshold: 7.0,
            min_run: 3,
            recovery_points: 6,
            accept_after: DAY,
            incident_within: 3600.0,
        }
    }
}

/// The interval of a series: the median gap between consecutive timestamps.
pub fn infer_interval(rows: &[(f64, f64)]) -> Option<f64> {
    let mut gaps: Vec<f64> = rows
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .filter(|gap| *gap > 0.0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    Some(median(&mut gaps))
}

/// Runs the series detector over time-ordered `(unix seconds, value)` rows.
pub fn detect_series(
    rows: &[(f64, f64)],
    interval: f64,
    settings: &SeriesSettings,
) -> Vec<Regression> {
    let mut detector = SeriesDetector::new(interval, settings.clone());
    let mut found: Vec<Regression> = Vec::new();
    for &(time, value) in rows {
        match detector.push(time, value) {
            Some(Event::Started(regression)) => found.push(regression),
            Some(Event::Ended(ended)) => {
                if let Some(open) = found.last_mut() {
                    open.ended_at = ended.ended_at;
                    open.end_reason = ended.end_reason;
                }
            }
            None => {}
        }
    }
    found
        .into_iter()
        .map(|mut regression| {
            regression.kind = regression.kind_after_end(settings.incident_within);
            regression
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started(Regression),
    Ended(Regression),
}

/// One point of the trailing baseline.
#[derive(Debug, Clone, Copy)]
struct BaselinePoint {
    time: f64,
    log_value: f64,
}

/// What one point is compared with.
struct Expected {
    /// Log value expected, and the dispersion of the baseline's residuals.
    center: f64,
    spread: f64,
    min_effect: f64,
    compared_with: &'static str,
}

pub struct SeriesDetector {
    settings: SeriesSettings,
    interval: f64,
    /// Log values by slot (unix seconds / interval), as far back as the longest lag.
    history: HashMap<i64, f64>,
    history_order: VecDeque<i64>,
    /// Per-slot seasonal levels already computed (they depend on the past only).
    seasonal_levels: HashMap<i64, Option<f64>>,
    smoothed_levels: HashMap<i64, Option<f64>>,
    baseline: VecDeque<BaselinePoint>,
    pending: VecDeque<BaselinePoint>,
    cusum: f64,
    run: usize,
    /// The last point with no evidence, where a regression starts.
    quiet_since: Option<f64>,
    recent: VecDeque<f64>,
    active: Option<Regression>,
    normal_run: usize,
}

impl SeriesDetector {
    pub fn new(interval: f64, settings: SeriesSettings) -> Self {
        Self {
            settings,
            interval: interval.max(1e-3),
            history: HashMap::new(),
            history_order: VecDeque::new(),
            seasonal_levels: HashMap::new(),
            smoothed_levels: HashMap::new(),
            baseline: VecDeque::new(),
            pending: VecDeque::new(),
            cusum: 0.0,
            run: 0,
            quiet_since: None,
            recent: VecDeque::new(),
            active: None,
            normal_run: 0,
        }
    }

    /// Feeds one value (seconds) at `time`; returns a regression started or ended there.
    /// A value of 0 (an interval with no requests) is no data, like a missing row: as a
    /// level it would wreck the baseline and make the next normal interval a "rise".
    pub fn push(&mut self, time: f64, value: f64) -> Option<Event> {
        if value.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let log_value = value.ln();
        let slot = self.slot(time);
        let event = match self.expected(time) {
            Some(expected) => self.test(time, log_value, &expected),
            None => None,
        };
        self.remember(slot, log_value);
        if self.cusum == 0.0 {
            self.quiet_since = Some(time);
        }
        // Points join the baseline `baseline_delay` points late, and not at all once found
        // part of a regression: a shift being detected does not become its own baseline.
        // Every other point joins, high or low (keeping out the high ones only would drag the
        // baseline down until noise alone fires).
        if matches!(event, Some(Event::Started(_))) || self.active.is_some() {
            self.pending.clear();
        } else {
            self.pending.push_back(BaselinePoint { time, log_value });
        }
        if self.pending.len() > self.settings.baseline_delay
            && let Some(point) = self.pending.pop_front()
        {
            self.baseline.push_back(point);
            let keep = self
                .settings
                .min_baseline_points
                .max((self.settings.baseline_span / self.interval).round() as usize);
            while self.baseline.len() > keep {
                self.baseline.pop_front();
            }
        }
        event
    }

    fn slot(&self, time: f64) -> i64 {
        (time / self.interval).round() as i64
    }

    fn remember(&mut self, slot: i64, log_value: f64) {
        if self.history.insert(slot, log_value).is_none() {
            self.history_order.push_back(slot);
        }
        let horizon = ((SEASONAL_LAGS[4] as f64 * DAY
            + self.settings.baseline_span
            + 2.0 * self.settings.phase_tolerance)
            / self.interval)
            .ceil() as i64;
        while let Some(&oldest) = self.history_order.front() {
            if slot - oldest <= horizon {
                break;
            }
            self.history_order.pop_front();
            self.history.remove(&oldest);
            self.seasonal_levels.remove(&oldest);
            self.smoothed_levels.remove(&oldest);
        }
        // The memo of levels is bounded like the history it derives from.
        if self.seasonal_levels.len() > 2 * self.history.len() + 1024 {
            let oldest = self.history_order.front().copied().unwrap_or(slot);
            self.seasonal_levels.retain(|&s, _| s >= oldest);
            self.smoothed_levels.retain(|&s, _| s >= oldest);
        }
    }

    /// The level of the same slot on previous days: per day back, the median of the slot and
    /// its neighbours; then the second highest of those days (the highest of one or two), so
    /// that one unusual day (yesterday's incident) is outvoted, and weekend days mixed in
    /// with weekdays do not pull a weekday's reference down. (The highest of all days misses
    /// a 15-min doubling in four series of the harness; the median of them raises false
    /// alarms at Monday's rise.)
    fn seasonal_level(&mut self, slot: i64) -> Option<f64> {
        if let Some(&known) = self.seasonal_levels.get(&slot) {
            return known;
        }
        let day = (DAY / self.interval).round() as i64;
        let mut days: Vec<f64> = SEASONAL_LAGS
            .iter()
            .filter_map(|lag| {
                let center = slot - lag * day;
                let mut values: Vec<f64> = (center - 1..=center + 1)
                    .filter_map(|s| self.history.get(&s).copied())
                    .collect();
                (!values.is_empty()).then(|| median(&mut values))
            })
            .collect();
        days.sort_by(|a, b| b.total_cmp(a));
        let result = match days.len() {
            0 => None,
            1 | 2 => Some(days[0]),
            _ => Some(days[1]),
        };
        self.seasonal_levels.insert(slot, result);
        result
    }

    fn expected(&mut self, time: f64) -> Option<Expected> {
        let min_points = self.settings.min_baseline_points;
        if self.baseline.len() < min_points {
            return None;
        }
        if self.settings.seasonal
            && let Some(expected) = self.seasonal_expected(time)
        {
            return Some(expected);
        }
        let (center, spread) = self.trend_at(time)?;
        Some(Expected {
            center,
            spread,
            min_effect: self.settings.min_relative_first_day.ln_1p(),
            compared_with: "trailing",
        })
    }

    /// The previous days' level around this time: the highest smoothed level within the
    /// phase tolerance (a daily rise that comes early today is today's rhythm, not a
    /// regression), plus today's offset when today runs hotter than the previous days.
    fn seasonal_expected(&mut self, time: f64) -> Option<Expected> {
        let min_points = self.settings.min_baseline_points;
        let slot = self.slot(time);
        let tolerance = (self.settings.phase_tolerance / self.interval).round() as i64;
        let reference = (slot - tolerance..=slot + tolerance)
            .filter_map(|s| self.smoothed_level(s))
            .max_by(f64::total_cmp)?;
        // At most 48 points of the baseline (evenly spread) estimate offset and spread, so
        // that a fine interval costs no more per point than a coarse one.
        let stride = (self.baseline.len() / 48).max(1);
        let points: Vec<(i64, f64)> = self
            .baseline
            .iter()
            .rev()
            .step_by(stride)
            .map(|p| (self.slot(p.time), p.log_value))
            .collect();
        let residuals: Vec<f64> = points
            .into_iter()
            .filter_map(|(s, x)| self.smoothed_level(s).map(|level| x - level))
            .collect();
        if residuals.len() < min_points {
            return None;
        }
        // Only a day running hotter than the previous ones moves the reference: a quieter
        // one (a weekend) differs mostly at its peak, and an offset learned there would lag
        // into the evening as a false rise.
        let (offset, spread) = median_and_spread(residuals);
        Some(Expected {
            center: reference + offset.max(0.0),
            spread,
            min_effect: self.settings.min_relative.ln_1p(),
            compared_with: "previous_days",
        })
    }

    /// The seasonal level, smoothed over ±2 slots so that its maximum over the tolerance
    /// does not pick up the noise of single slots.
    fn smoothed_level(&mut self, slot: i64) -> Option<f64> {
        if let Some(&known) = self.smoothed_levels.get(&slot) {
            return known;
        }
        let mut levels: Vec<f64> = (slot - 2..=slot + 2)
            .filter_map(|s| self.seasonal_level(s))
            .collect();
        let result = (!levels.is_empty()).then(|| median(&mut levels));
        // Memoized only once all five slots' levels are in the past.
        if self
            .history_order
            .back()
            .is_some_and(|&newest| slot + 2 <= newest)
        {
            self.smoothed_levels.insert(slot, result);
        }
        result
    }

    /// Theil–Sen line through the baseline's last `trend_span`, evaluated at `time`, and
    /// the robust dispersion around it.
    fn trend_at(&self, time: f64) -> Option<(f64, f64)> {
        let newest = self.baseline.back()?.time;
        let points: Vec<(f64, f64)> = self
            .baseline
            .iter()
            .filter(|p| newest - p.time <= self.settings.trend_span)
            .map(|p| (p.time - newest, p.log_value))
            .collect();
        // At most 48 points (evenly spread): the pairwise slopes grow with the square.
        let stride = points.len().div_ceil(48).max(1);
        let points: Vec<(f64, f64)> = points.into_iter().rev().step_by(stride).collect();
        if points.len() < self.settings.min_baseline_points {
            return None;
        }
        let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
        for (i, a) in points.iter().enumerate() {
            for b in &points[i + 1..] {
                if b.0 > a.0 {
                    slopes.push((b.1 - a.1) / (b.0 - a.0));
                }
            }
        }
        // Only a rising slope is followed: a falling one (fitted to noise, or the end of a
        // peak) extrapolated down would make the next normal point look like a rise.
        let slope = if slopes.is_empty() {
            0.0
        } else {
            median(&mut slopes).max(0.0)
        };
        let mut intercepts: Vec<f64> = points.iter().map(|(t, y)| y - slope * t).collect();
        let intercept = median(&mut intercepts);
        let residuals = points
            .iter()
            .map(|(t, y)| y - intercept - slope * t)
            .collect();
        let (_, spread) = median_and_spread(residuals);
        // A line extrapolated from few noisy points is uncertain as well: widen the spread
        // by the prediction error of a least-squares line at that distance.
        let n = points.len() as f64;
        let mean_time = points.iter().map(|p| p.0).sum::<f64>() / n;
        let spread_of_times: f64 = points.iter().map(|p| (p.0 - mean_time).powi(2)).sum();
        let distance = time - newest - mean_time;
        let widening = (1.0 + 1.0 / n + distance * distance / spread_of_times.max(1e-9)).sqrt();
        Some((intercept + slope * (time - newest), spread * widening))
    }

    fn test(&mut self, time: f64, log_value: f64, expected: &Expected) -> Option<Event> {
        let settings = &self.settings;
        let residual = log_value - expected.center;
        let z = residual / expected.spread;
        let high = residual >= expected.min_effect;
        self.recent.push_back(log_value);
        while self.recent.len() > settings.min_run {
            self.recent.pop_front();
        }
        if let Some(active) = &mut self.active {
            // Ends once the effect has halved for `recovery_points` in a row, or becomes the
            // new normal after `accept_after`.
            self.normal_run = if residual < expected.min_effect / 2.0 {
                self.normal_run + 1
            } else {
                0
            };
            let reason = if self.normal_run >= settings.recovery_points {
                Some("recovered")
            } else if time - active.detected_at >= settings.accept_after {
                Some("accepted")
            } else {
                None
            };
            let reason = reason?;
            active.ended_at = Some(time);
            active.end_reason = Some(reason);
            let ended = self.active.take().expect("active");
            self.cusum = 0.0;
            self.run = 0;
            if reason == "accepted" {
                // The baseline restarts from the new level.
                self.baseline.clear();
            }
            return Some(Event::Ended(ended));
        }
        let gain = if high {
            z.min(settings.max_gain) - settings.allowance
        } else {
            (z - settings.allowance).min(0.0)
        };
        self.cusum = (self.cusum + gain).max(0.0);
        self.run = if high { self.run + 1 } else { 0 };
        if self.cusum < settings.threshold || self.run < settings.min_run {
            return None;
        }
        let mut recent: Vec<f64> = self.recent.iter().copied().collect();
        let current = median(&mut recent).exp();
        let baseline = expected.center.exp();
        let regression = Regression {
            quantile: settings.quantile,
            start: self.quiet_since.unwrap_or(time),
            detected_at: time,
            baseline,
            current,
            ratio: current / baseline,
            compared_with: expected.compared_with,
            ended_at: None,
            end_reason: None,
            kind: "regression",
        };
        self.active = Some(regression.clone());
        self.normal_run = 0;
        Some(Event::Started(regression))
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median and the normal-consistent MAD (floored: a perfectly flat series must not make
/// every rounding step an infinite z).
pub(crate) fn median_and_spread(mut values: Vec<f64>) -> (f64, f64) {
    let center = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    let spread = (1.4826 * median(&mut deviations)).max(0.01);
    (center, spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat 5-minute p95 at 120 ms with ±3 % deterministic wobble, for `days`.
    fn flat(days: f64) -> Vec<(f64, f64)> {
        let points = (days * DAY / 300.0) as usize;
        (0..points)
            .map(|i| {
                let wobble = 1.0 + 0.03 * ((i * 7919) % 13) as f64 / 6.0 - 0.03;
                (1_762_732_800.0 + i as f64 * 300.0, 0.120 * wobble)
            })
            .collect()
    }

    #[test]
    fn the_interval_is_the_median_gap() {
        let mut rows = flat(0.1);
        rows.remove(5);
        assert_eq!(infer_interval(&rows), Some(300.0));
        assert_eq!(infer_interval(&rows[..1]), None);
    }

    #[test]
    fn lone_and_paired_spikes_never_alarm() {
        let mut rows = flat(3.0);
        for at in [400, 500, 501, 700, 702] {
            rows[at].1 *= 4.0;
        }
        assert!(detect_series(&rows, 300.0, &SeriesSettings::default()).is_empty());
    }

    #[test]
    fn a_short_doubling_is_an_incident_and_a_lasting_one_a_regression() {
        let mut rows = flat(3.0);
        for row in &mut rows[600..606] {
            row.1 *= 2.0;
        }
        for row in &mut rows[700..] {
            row.1 *= 2.0;
        }
        let found = detect_series(&rows, 300.0, &SeriesSettings::default());
        let kinds: Vec<&str> = found.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["incident", "regression"], "{found:?}");
        assert_eq!(found[0].compared_with, "previous_days");
        // Detected on the third point of each, from the point before it.
        assert_eq!(found[0].start, rows[599].0);
        assert_eq!(found[0].detected_at, rows[602].0);
        assert!((1.8..2.2).contains(&found[1].ratio), "{found:?}");
    }

    #[test]
    fn idle_intervals_reported_as_zero_are_no_data_not_a_level() {
        let mut rows = flat(3.0);
        for row in &mut rows[500..540] {
            row.1 = 0.0;
        }
        assert!(detect_series(&rows, 300.0, &SeriesSettings::default()).is_empty());
    }

    #[test]
    fn history_stays_bounded_on_a_long_fine_series() {
        let mut detector = SeriesDetector::new(60.0, SeriesSettings::default());
        for i in 0..(16.0 * DAY / 60.0) as usize {
            detector.push(i as f64 * 60.0, 0.1);
        }
        let horizon = (14.0 * DAY + 3.0 * 3600.0) / 60.0 + 10.0;
        assert!(detector.history.len() as f64 <= horizon);
        assert!(detector.seasonal_levels.len() as f64 <= 2.0 * horizon + 1024.0);
    }

    proptest::proptest! {
        #[test]
        fn any_series_runs_without_panic(values in proptest::collection::vec((0.0f64..1e4, 0.0f64..1e3), 0..300)) {
            let mut rows = values;
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            let interval = infer_interval(&rows).unwrap_or(60.0);
            let _ = detect_series(&rows, interval, &SeriesSettings::default());
        }
    }
}
