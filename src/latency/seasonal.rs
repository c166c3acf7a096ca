//! The daily shape of a route's latency, so that a service whose latency rises 2–3× at its
//! daily peak is not "regressing" every afternoon.
//!
//! The trailing baseline is made of windows an hour or two old on average; on a daily rise
//! the window tested is slower than them for a reason that is not a regression. The detector
//! shifts the baseline by the change expected between the baseline's times of day and now:
//! - from the previous days' levels at those times of day (half-hour slots of the median's
//!   log, interpolated): the second highest of up to 7 days, so that one odd day (an
//!   incident, a weekend) neither hides a regression nor raises one;
//! - on the first day, from the level's own rise over the last hour, when it is significant
//!   and only upwards (a slow rise is taken for the daily cycle; a step is not a rise yet
//!   when it is tested, since the trend leaves out the windows under test).
//!
//! The level (where the whole distribution sits) is the shape's only parameter: a tail that
//! widens at the peak more than the median rises is still seen as a tail regression.

use std::collections::VecDeque;

pub const SLOTS: usize = 48;
pub const SLOT_SECONDS: f64 = 86_400.0 / SLOTS as f64;
const DAY_SECONDS: f64 = 86_400.0;
const DAYS_KEPT: usize = 7;
/// A window's median counts towards the shape when it has this many requests.
const MIN_WINDOW_REQUESTS: f64 = 10.0;
/// A slot of a day is known when this many of its windows were measured.
const MIN_SLOT_WINDOWS: u32 = 3;
/// The first day's trend: two spans of this many windows, before the windows under test.
const TREND_SPAN: usize = 30;
const TREND_SKIP: usize = 10;
/// A trend is used when the rise between the two spans is this many standard errors.
const TREND_Z: f64 = 3.0;
/// The largest shift applied, in log (×2.7): beyond, it is not a daily cycle we know.
const MAX_SHIFT: f64 = 1.0;
/// Days differ (the peak ±10 %, ±20 min): a rise predicted from the previous days is taken
/// this much larger (a fall this much smaller). Too small a shift raises an alarm every day
/// (1.0 measured: 3 a day on a second day, whose one previous day may be the quieter);
/// too large only hides a regression smaller than the difference during the rise.
const DAY_TO_DAY_MARGIN: f64 = 1.15;
/// Today's amplitude against a previous day's is measured over this many slots before now
/// (3 h)…
const AMPLITUDE_SLOTS: usize = 6;
/// …when the previous day's heights over them (log, above its lowest slot) have at least
/// this root sum of squares…
const AMPLITUDE_MIN_HEIGHT: f64 = 0.3;
/// …and is taken within these bounds (a weekend's 0.6 of a weekday's, a day 50 % hotter).
const AMPLITUDE_RANGE: (f64, f64) = (0.5, 1.5);
/// A day's unknown slots are bridged over this many in a row at most (2 h).
const MAX_BRIDGED_SLOTS: usize = 4;

type DayLevels = [f32; SLOTS];

fn unknown_day() -> Box<DayLevels> {
    Box::new([f32::NAN; SLOTS])
}

#[derive(Debug, Clone)]
struct SlotFill {
    day: i64,
    slot: usize,
    sum: f64,
    windows: u32,
    tainted: bool,
}

/// Per route: the previous days' levels by time of day, and the recent windows' levels.
#[derive(Debug, Clone)]
pub struct DailyShape {
    /// Previous days, newest first.
    days: VecDeque<Box<DayLevels>>,
    today: Box<DayLevels>,
    /// Today's slots measured while a regression was suspected.
    today_tainted: Box<DayLevels>,
    today_index: Option<i64>,
    filling: Option<SlotFill>,
    /// (window end, log median or NaN), oldest first.
    recent: VecDeque<(f64, f32)>,
    /// The first day's slope (log per second), kept while the detector is suspicious.
    trend: f64,
}

impl Default for DailyShape {
    fn default() -> Self {
        Self {
            days: VecDeque::new(),
            today: unknown_day(),
            today_tainted: unknown_day(),
            today_index: None,
            filling: None,
            recent: VecDeque::with_capacity(2 * TREND_SPAN + TREND_SKIP + 1),
            trend: 0.0,
        }
    }
}

/// The UTC day (since the epoch) of an instant.
pub fn day_of(at: f64) -> i64 {
    (at / DAY_SECONDS).floor() as i64
}

fn day_and_slot(end: f64) -> (i64, usize) {
    // The window ending at `end` lies just before it.
    let at = end - 1e-6;
    let day = (at / DAY_SECONDS).floor();
    let slot = ((at - day * DAY_SECONDS) / SLOT_SECONDS) as usize;
    (day as i64, slot.min(SLOTS - 1))
}

/// Where the baseline's weight lies in the day and in time; decays with the baseline.
/// Persisted with the baseline, so a restored baseline is shifted from its first window.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaselineClock {
    slots: Vec<f64>,
    weighted_time: f64,
    weight: f64,
}

impl BaselineClock {
    pub fn absorb(&mut self, end: f64, weight: f64) {
        if !(weight > 0.0 && end.is_finite()) {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![0.0; SLOTS];
        }
        self.slots[day_and_slot(end).1] += weight;
        self.weighted_time += weight * end;
        self.weight += weight;
    }

    pub fn scale(&mut self, factor: f64) {
        self.slots.iter_mut().for_each(|w| *w *= factor);
        self.weighted_time *= factor;
        self.weight *= factor;
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn is_empty(&self) -> bool {
        self.weight <= 0.0
    }

    /// A stored clock that is whole: its slots, weights and time make sense together.
    pub fn is_valid(&self) -> bool {
        let slots_ok = (self.slots.is_empty() || self.slots.len() == SLOTS)
            && self.slots.iter().all(|w| w.is_finite() && *w >= 0.0);
        slots_ok
            && self.weight.is_finite()
            && self.weight >= 0.0
            && self.weighted_time.is_finite()
            && (self.weight > 0.0) != self.slots.is_empty()
    }

    fn mean_time(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.weighted_time / self.weight)
    }
}

impl DailyShape {
    /// One closed window: its median (None when it has too few requests). `tainted`: the
    /// detector suspects a regression, so the window says nothing about the normal shape.
    pub fn observe(&mut self, end: f64, median: Option<f64>, requests: f64, tainted: bool) {
        let level = median
            .filter(|m| *m > 0.0 && requests >= MIN_WINDOW_REQUESTS)
            .map(f64::ln);
        let (day, slot) = day_and_slot(end);
        if self
            .filling
            .as_ref()
            .is_some_and(|f| (f.day, f.slot) != (day, slot))
        {
            self.finish_slot();
        }
        if self.today_index != Some(day) {
            self.start_day(day);
        }
        let fill = self.filling.get_or_insert(SlotFill {
            day,
            slot,
            sum: 0.0,
            windows: 0,
            tainted: false,
        });
        fill.tainted |= tainted;
        if let Some(level) = level {
            fill.sum += level;
            fill.windows += 1;
        }
        self.recent
            .push_back((end, level.map_or(f32::NAN, |l| l as f32)));
        while self.recent.len() > 2 * TREND_SPAN + TREND_SKIP {
            self.recent.pop_front();
        }
        if !tainted {
            self.trend = self.measured_trend().unwrap_or(0.0);
        }
    }

    fn finish_slot(&mut self) {
        let Some(fill) = self.filling.take() else {
            return;
        };
        if Some(fill.day) == self.today_index && fill.windows >= MIN_SLOT_WINDOWS {
            let level = (fill.sum / f64::from(fill.windows)) as f32;
            if fill.tainted {
                self.today_tainted[fill.slot] = level;
            } else {
                self.today[fill.slot] = level;
            }
        }
    }

    fn start_day(&mut self, day: i64) {
        if let Some(previous) = self.today_index {
            let finished = std::mem::replace(&mut self.today, unknown_day());
            let tainted = std::mem::replace(&mut self.today_tainted, unknown_day());
            // A gap of days (no traffic) leaves the older days where they were: still the
            // most recent shape we know.
            if day > previous && finished.iter().any(|l| l.is_finite()) {
                let mut finished = finished;
                bridge_gaps(&mut finished, &tainted);
                self.days.push_front(finished);
                self.days.truncate(DAYS_KEPT);
            }
        }
        self.today_index = Some(day);
    }

    /// The slope of the level (log per second) between the two spans before the windows
    /// under test, when it is a significant rise.
    fn measured_trend(&self) -> Option<f64> {
        if self.recent.len() < 2 * TREND_SPAN + TREND_SKIP {
            return None;
        }
        let older: Vec<(f64, f32)> = self.recent.iter().take(TREND_SPAN).copied().collect();
        let newer: Vec<(f64, f32)> = self
            .recent
            .iter()
            .skip(TREND_SPAN)
            .take(TREND_SPAN)
            .copied()
            .collect();
        let (older_time, older_level, older_spread, older_n) = span_summary(&older)?;
        let (newer_time, newer_level, newer_spread, newer_n) = span_summary(&newer)?;
        // Standard error of a median ≈ 1.25 σ / √n.
        let error = 1.25
            * (older_spread.powi(2) / older_n + newer_spread.powi(2) / newer_n)
                .sqrt()
                .max(1e-3);
        let rise = newer_level - older_level;
        (rise > TREND_Z * error && newer_time > older_time)
            .then(|| rise / (newer_time - older_time))
    }

    /// The log of how much slower than its baseline the route is expected to be now for its
    /// time of day alone.
    pub fn expected_shift(&self, now: f64, clock: &BaselineClock) -> f64 {
        let Some(mean_time) = clock.mean_time() else {
            return 0.0;
        };
        let today_low = lowest(&self.today);
        let mut rises: Vec<f64> = self
            .days
            .iter()
            .filter_map(|day| {
                // Scaled by how today's cycle compares, erring towards a slower expected
                // level as the margin does: a rise is scaled up for a hotter day, never
                // down; a fall down for a quieter one (a weekend evening), never up.
                day_rise(day, now, clock).map(|rise| {
                    let amplitude = self.amplitude_against(day, today_low, now);
                    if rise > 0.0 {
                        rise * amplitude.max(1.0)
                    } else {
                        rise * amplitude.min(1.0)
                    }
                })
            })
            .collect();
        let shift = if rises.is_empty() {
            self.trend * (now - mean_time).max(0.0)
        } else {
            rises.sort_by(|a, b| b.total_cmp(a));
            let rise = rises[1.min(rises.len() - 1)];
            if rise > 0.0 {
                rise * DAY_TO_DAY_MARGIN
            } else {
                rise / DAY_TO_DAY_MARGIN
            }
        };
        shift.clamp(-MAX_SHIFT, MAX_SHIFT)
    }

    /// How today's cycle compares with a previous day's so far: over today's known slots of
    /// the last hours, the least-squares ratio of their height above today's lowest slot to
    /// the previous day's height above its lowest (today's lowest is given: it is the same
    /// for every previous day). A weekend at 0.6 of the weekdays' peak
    /// falls less in the evening than they did; a hotter day rises more. 1 when today has
    /// not risen enough to tell; within [`AMPLITUDE_RANGE`]. Slots measured while a
    /// regression was suspected are not in `today`, so a regression does not scale its own
    /// baseline.
    fn amplitude_against(&self, day: &DayLevels, today_low: f32, now: f64) -> f64 {
        let Some(today_index) = self.today_index else {
            return 1.0;
        };
        let day_low = lowest(day);
        if !(today_low.is_finite() && day_low.is_finite()) {
            return 1.0;
        }
        let now_slot = if day_of(now) == today_index {
            day_and_slot(now).1
        } else {
            SLOTS
        };
        let (mut cross, mut square) = (0.0f64, 0.0f64);
        let first = now_slot.saturating_sub(AMPLITUDE_SLOTS);
        for (&today, &previous) in self.today[first..now_slot]
            .iter()
            .zip(&day[first..now_slot])
        {
            if today.is_finite() && previous.is_finite() {
                let height = f64::from(previous - day_low);
                cross += f64::from(today - today_low) * height;
                square += height * height;
            }
        }
        if square < AMPLITUDE_MIN_HEIGHT.powi(2) {
            return 1.0;
        }
        (cross / square).clamp(AMPLITUDE_RANGE.0, AMPLITUDE_RANGE.1)
    }

    pub fn heap_bytes(&self) -> usize {
        (self.days.len() + 2) * std::mem::size_of::<DayLevels>()
            + self.recent.capacity() * std::mem::size_of::<(f64, f32)>()
    }

    /// Whether some previous day is known (learned, stored or loaded).
    pub fn knows_days(&self) -> bool {
        !self.days.is_empty()
    }

    /// The previous days' levels, newest first (NaN where unknown), for storage.
    pub fn days(&self) -> Vec<Vec<Option<f32>>> {
        self.days
            .iter()
            .map(|d| d.iter().map(|l| l.is_finite().then_some(*l)).collect())
            .collect()
    }

    /// Previous days (before `today`), newest first, from (slot end, median) points such as
    /// a Prometheus range query gives: the same form as [`DailyShape::days`].
    pub fn days_from_points(points: &[(f64, f64)], today: i64) -> Vec<Vec<Option<f32>>> {
        let mut days: std::collections::BTreeMap<i64, Box<DayLevels>> = Default::default();
        for &(end, median) in points {
            if !(median > 0.0 && median.is_finite() && end.is_finite()) {
                continue;
            }
            let (day, slot) = day_and_slot(end);
            if day < today && day >= today - DAYS_KEPT as i64 {
                days.entry(day).or_insert_with(unknown_day)[slot] = median.ln() as f32;
            }
        }
        days.into_values()
            .rev()
            .map(|mut day| {
                bridge_gaps(&mut day, &unknown_day());
                day.iter().map(|l| l.is_finite().then_some(*l)).collect()
            })
            .collect()
    }

    /// Goes on from stored days (as [`DailyShape::days`] gave them).
    pub fn with_days(stored: &[Vec<Option<f32>>]) -> Self {
        let mut shape = Self::default();
        for stored_day in stored.iter().take(DAYS_KEPT) {
            if stored_day.len() != SLOTS {
                continue;
            }
            let mut day = unknown_day();
            for (slot, level) in day.iter_mut().zip(stored_day) {
                *slot = level.filter(|l| l.is_finite()).unwrap_or(f32::NAN);
            }
            shape.days.push_back(day);
        }
        shape
    }
}

/// Fills a finished day's unknown slots. Up to [`MAX_BRIDGED_SLOTS`] in a row between known
/// ones take the straight line between their neighbours, so an incident is not learned as part
/// of the day. Longer ones take what was measured while a regression was suspected: latency
/// that stayed up for hours and came back down by itself is the day's shape (the first day's
/// morning rise raises an alarm, having nothing to compare with); a one-off day is outvoted
/// once a few days are known (the second highest rise is used).
fn bridge_gaps(day: &mut DayLevels, tainted: &DayLevels) {
    let mut slot = 0;
    while slot < SLOTS {
        if day[slot].is_finite() {
            slot += 1;
            continue;
        }
        let gap_end = (slot..SLOTS).find(|s| day[*s].is_finite());
        if let (Some(before), Some(after)) = (slot.checked_sub(1), gap_end)
            && after - slot <= MAX_BRIDGED_SLOTS
        {
            let (a, b) = (day[before], day[after]);
            let span = (after - before) as f32;
            for (offset, level) in day[slot..after].iter_mut().enumerate() {
                *level = a + (b - a) * (offset + 1) as f32 / span;
            }
        }
        slot = gap_end.unwrap_or(SLOTS);
    }
    for (level, measured) in day.iter_mut().zip(tainted) {
        if !level.is_finite() {
            *level = *measured;
        }
    }
}

/// Median time, median level, robust spread and count of a span's measured windows.
fn span_summary(span: &[(f64, f32)]) -> Option<(f64, f64, f64, f64)> {
    let measured: Vec<(f64, f64)> = span
        .iter()
        .filter(|(_, l)| l.is_finite())
        .map(|(t, l)| (*t, f64::from(*l)))
        .collect();
    if measured.len() * 3 < span.len() * 2 {
        return None;
    }
    let mut times: Vec<f64> = measured.iter().map(|m| m.0).collect();
    let mut levels: Vec<f64> = measured.iter().map(|m| m.1).collect();
    let time = median(&mut times);
    let level = median(&mut levels);
    let mut deviations: Vec<f64> = levels.iter().map(|l| (l - level).abs()).collect();
    let spread = 1.4826 * median(&mut deviations);
    Some((time, level, spread, measured.len() as f64))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A day's lowest known level (infinite when none is known).
fn lowest(levels: &DayLevels) -> f32 {
    levels
        .iter()
        .copied()
        .filter(|l| l.is_finite())
        .fold(f32::INFINITY, f32::min)
}

/// A day's level at `at`'s time of day, interpolated between its slots' middles.
fn level_at(day: &DayLevels, at: f64) -> Option<f64> {
    let position = (at.rem_euclid(DAY_SECONDS)) / SLOT_SECONDS - 0.5;
    let below = position.floor();
    let fraction = position - below;
    let first = (below as i64).rem_euclid(SLOTS as i64) as usize;
    let second = (first + 1) % SLOTS;
    let (a, b) = (f64::from(day[first]), f64::from(day[second]));
    (a.is_finite() && b.is_finite()).then_some(a + (b - a) * fraction)
}

/// One previous day's level at `now`'s time of day minus its level over the baseline's
/// slots; None when that day does not know them.
fn day_rise(day: &DayLevels, now: f64, clock: &BaselineClock) -> Option<f64> {
    let at_now = level_at(day, now)?;
    let (mut weighted, mut known, mut unknown) = (0.0, 0.0, 0.0);
    for (slot, weight) in clock.slots.iter().enumerate() {
        let level = f64::from(day[slot]);
        if level.is_finite() {
            weighted += weight * level;
            known += weight;
        } else {
            unknown += weight;
        }
    }
    (known > 0.0 && unknown <= 0.05 * (known + unknown)).then(|| at_now - weighted / known)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 3600.0;

    /// A level rising from 1× at 06:00 to 3× at 14:00 and back by 22:00.
    fn daily_level(end: f64) -> f64 {
        let hour = end.rem_euclid(DAY_SECONDS) / HOUR;
        let bump = if (6.0..22.0).contains(&hour) {
            0.5 - 0.5 * ((hour - 6.0) / 16.0 * std::f64::consts::TAU).cos()
        } else {
            0.0
        };
        0.1 * (1.0 + 2.0 * bump)
    }

    fn feed(shape: &mut DailyShape, clock: &mut BaselineClock, from: f64, to: f64) {
        feed_scaled(shape, clock, from, to, 1.0);
    }

    /// As [`feed`], with the day's rise above the night `amplitude` times as high.
    fn feed_scaled(
        shape: &mut DailyShape,
        clock: &mut BaselineClock,
        from: f64,
        to: f64,
        amplitude: f64,
    ) {
        let mut end = from;
        while end < to {
            end += 60.0;
            let level = 0.1 * (daily_level(end) / 0.1).powf(amplitude);
            shape.observe(end, Some(level), 100.0, false);
            clock.scale(0.5f64.powf(1.0 / 60.0));
            clock.absorb(end - 600.0, 100.0);
        }
    }

    #[test]
    fn the_previous_day_predicts_the_afternoon_rise() {
        let (mut shape, mut clock) = (DailyShape::default(), BaselineClock::default());
        feed(&mut shape, &mut clock, 0.0, DAY_SECONDS + 12.0 * HOUR);
        let now = DAY_SECONDS + 12.0 * HOUR;
        let expected = shape.expected_shift(now, &clock);
        // The baseline sits about 1.5 h behind on a rising level: the shift is the rise since.
        let behind = (daily_level(now) / daily_level(now - 1.6 * HOUR)).ln();
        assert!(
            expected > 0.5 * behind && expected < 1.5 * behind,
            "{expected} vs {behind}"
        );
    }

    #[test]
    fn a_quieter_day_is_expected_to_fall_less_in_the_evening() {
        // Three weekdays, then a weekend day at 0.6 of their rise: by 19:00 the baseline
        // sits near the afternoon's level, and the weekdays fell further since.
        let (mut shape, mut clock) = (DailyShape::default(), BaselineClock::default());
        feed(&mut shape, &mut clock, 0.0, 3.0 * DAY_SECONDS);
        let now = 3.0 * DAY_SECONDS + 19.0 * HOUR;
        feed_scaled(&mut shape, &mut clock, 3.0 * DAY_SECONDS, now, 0.6);
        let weekday_fall = shape
            .days
            .iter()
            .filter_map(|day| day_rise(day, now, &clock))
            .fold(f64::NAN, f64::max);
        let expected = shape.expected_shift(now, &clock);
        assert!(weekday_fall < -0.1, "{weekday_fall}");
        assert!(
            expected > 0.75 * weekday_fall && expected < 0.45 * weekday_fall,
            "{expected} vs {weekday_fall}"
        );
    }

    #[test]
    fn the_first_day_follows_a_significant_rise_but_not_a_flat_level() {
        let (mut shape, mut clock) = (DailyShape::default(), BaselineClock::default());
        feed(&mut shape, &mut clock, 0.0, 11.0 * HOUR);
        assert!(shape.expected_shift(11.0 * HOUR, &clock) > 0.05);

        let (mut flat, mut clock) = (DailyShape::default(), BaselineClock::default());
        let mut rng = fastrand::Rng::with_seed(3);
        let mut end = 0.0;
        while end < 5.0 * HOUR {
            end += 60.0;
            flat.observe(
                end,
                Some(0.1 * (0.05 * (rng.f64() - 0.5)).exp()),
                100.0,
                false,
            );
            clock.absorb(end - 600.0, 100.0);
        }
        assert_eq!(flat.expected_shift(end, &clock), 0.0);
    }

    #[test]
    fn stored_days_come_back() {
        let (mut shape, mut clock) = (DailyShape::default(), BaselineClock::default());
        feed(&mut shape, &mut clock, 0.0, 2.0 * DAY_SECONDS + HOUR);
        let stored = shape.days();
        assert_eq!(stored.len(), 2);
        let restored = DailyShape::with_days(&stored);
        let now = 2.0 * DAY_SECONDS + 12.0 * HOUR;
        assert_eq!(
            restored.expected_shift(now, &clock),
            shape.expected_shift(now, &clock)
        );
        assert!(DailyShape::with_days(&[vec![None; 3]]).days().is_empty());
    }
}
