//! The two detectors vigia is measured against, fed the same windows.

use crate::latency::sketch::LatencySketch;
use crate::latency::stats::mann_whitney_greater;
use std::collections::VecDeque;

/// The alert most teams write: 5-minute p99 above a fixed threshold for 5 minutes
/// (`for: 5m`). The threshold is the p99 of the first `learn_windows`, plus 20 % headroom.
pub struct StaticP99 {
    learn_windows: u32,
    seen: u32,
    learned: LatencySketch,
    recent: VecDeque<LatencySketch>,
    threshold: Option<f64>,
    above_for: u32,
    firing: bool,
}

impl StaticP99 {
    pub fn new(learn_windows: u32) -> Self {
        Self {
            learn_windows,
            seen: 0,
            learned: LatencySketch::new(),
            recent: VecDeque::new(),
            threshold: None,
            above_for: 0,
            firing: false,
        }
    }

    /// Returns true when the alert starts firing at this window.
    pub fn close_window(&mut self, window: &LatencySketch) -> bool {
        self.seen += 1;
        self.recent.push_back(window.clone());
        if self.recent.len() > 5 {
            self.recent.pop_front();
        }
        if self.seen <= self.learn_windows {
            self.learned.merge(window);
            if self.seen == self.learn_windows {
                self.threshold = self.learned.quantile(0.99).map(|p99| p99 * 1.2);
            }
            return false;
        }
        let Some(threshold) = self.threshold else {
            return false;
        };
        let mut merged = LatencySketch::new();
        self.recent.iter().for_each(|w| merged.merge(w));
        let above = merged.quantile(0.99).is_some_and(|p99| p99 > threshold);
        self.above_for = if above { self.above_for + 1 } else { 0 };
        let fire = self.above_for >= 5;
        let started = fire && !self.firing;
        self.firing = fire;
        started
    }
}

/// Kayenta's judge run continuously with its defaults: the per-minute p95 of the last 10
/// minutes against the 60 before them, one-sided Mann-Whitney at 98 % confidence, an
/// increase of any size counting.
pub struct KayentaStyle {
    values: VecDeque<f64>,
    firing: bool,
}

const KAYENTA_RECENT: usize = 10;
const KAYENTA_BASELINE: usize = 60;
const KAYENTA_CONFIDENCE: f64 = 0.98;

impl KayentaStyle {
    pub fn new() -> Self {
        Self {
            values: VecDeque::new(),
            firing: false,
        }
    }

    pub fn close_window(&mut self, window: &LatencySketch) -> bool {
        let Some(p95) = window.quantile(0.95) else {
            return false;
        };
        self.values.push_back(p95);
        if self.values.len() > KAYENTA_RECENT + KAYENTA_BASELINE {
            self.values.pop_front();
        }
        if self.values.len() < KAYENTA_RECENT + KAYENTA_BASELINE {
            return false;
        }
        let (baseline, recent): (Vec<f64>, Vec<f64>) = {
            let all: Vec<f64> = self.values.iter().copied().collect();
            let (b, r) = all.split_at(KAYENTA_BASELINE);
            (b.to_vec(), r.to_vec())
        };
        let fire =
            mann_whitney_greater(&recent, &baseline).is_some_and(|p| p < 1.0 - KAYENTA_CONFIDENCE);
        let started = fire && !self.firing;
        self.firing = fire;
        started
    }
}

impl Default for KayentaStyle {
    fn default() -> Self {
        Self::new()
    }
}
