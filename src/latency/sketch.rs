//! A mergeable latency sketch with 1 % relative error: DDSketch's logarithmic bins
//! (Masson, Rim, Lee, VLDB 2019) over a dense, weighted store.
//!
//! Written here rather than taken from `sketches-ddsketch` because the detector needs what
//! that crate does not expose: the weight of every bin (rank tests walk two sketches bin by
//! bin), the weight above a bin (exceedance tests) and fractional weights (the baseline
//! decays). Values are clamped to [1 µs, 1 h], so a sketch has at most 1,102 bins (8.8 KiB)
//! whatever it is fed, and typically 100–300.

/// Relative accuracy of every quantile: the returned value is within 1 % of a true sample's.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Smallest and largest values told apart, in seconds.
pub const MIN_VALUE: f64 = 1e-6;
pub const MAX_VALUE: f64 = 3600.0;

/// γ = (1 + α) / (1 − α); bin `k` holds values in (γ^(k−1), γ^k].
fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

/// The bin of a value (clamped to the range the sketch tells apart).
pub fn key_of(value: f64) -> i32 {
    let value = if value.is_nan() {
        MIN_VALUE
    } else {
        value.clamp(MIN_VALUE, MAX_VALUE)
    };
    (value.ln() / gamma().ln()).ceil() as i32
}

/// The value a bin stands for: within [`RELATIVE_ACCURACY`] of every value in it.
pub fn value_of(key: i32) -> f64 {
    let gamma = gamma();
    2.0 * gamma.powi(key) / (gamma + 1.0)
}

/// A sketch's fields, for storage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SketchParts {
    pub offset: i32,
    pub bins: Vec<f64>,
    pub count: f64,
    pub sum: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySketch {
    /// Key of `bins[0]`.
    offset: i32,
    bins: Vec<f64>,
    count: f64,
    sum: f64,
}

impl LatencySketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// One observation, in seconds. Negative and non-finite values are ignored.
    pub fn add(&mut self, seconds: f64) {
        self.add_weighted(seconds, 1.0);
    }

    pub fn add_weighted(&mut self, seconds: f64, weight: f64) {
        if !(seconds.is_finite() && seconds >= 0.0 && weight.is_finite() && weight > 0.0) {
            return;
        }
        let key = key_of(seconds);
        *self.bin_mut(key) += weight;
        self.count += weight;
        self.sum += seconds.min(MAX_VALUE) * weight;
    }

    fn bin_mut(&mut self, key: i32) -> &mut f64 {
        if self.bins.is_empty() {
            self.offset = key;
            self.bins.push(0.0);
        } else if key < self.offset {
            let grow = (self.offset - key) as usize;
            self.bins.splice(0..0, std::iter::repeat_n(0.0, grow));
            self.offset = key;
        } else if key >= self.offset + self.bins.len() as i32 {
            self.bins.resize((key - self.offset) as usize + 1, 0.0);
        }
        &mut self.bins[(key - self.offset) as usize]
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        for (key, weight) in other.bins() {
            *self.bin_mut(key) += weight;
        }
        self.count += other.count;
        self.sum += other.sum;
    }

    /// Multiplies every weight by `factor` (exponential decay of a baseline).
    pub fn scale(&mut self, factor: f64) {
        self.bins.iter_mut().for_each(|w| *w *= factor);
        self.count *= factor;
        self.sum *= factor;
    }

    /// The same distribution with every value multiplied by e^`log_factor` (rounded to whole
    /// bins, so within the sketch's relative accuracy).
    pub fn shifted(&self, log_factor: f64) -> LatencySketch {
        let bins = (log_factor / gamma().ln()).round();
        if !bins.is_finite() || bins == 0.0 {
            return self.clone();
        }
        let bins = bins.clamp(-2000.0, 2000.0) as i32;
        LatencySketch {
            offset: self.offset + bins,
            bins: self.bins.clone(),
            count: self.count,
            sum: self.sum * (f64::from(bins) * gamma().ln()).exp(),
        }
    }

    pub fn clear(&mut self) {
        self.bins.clear();
        self.count = 0.0;
        self.sum = 0.0;
    }

    /// Total weight (the number of observations unless decayed).
    pub fn count(&self) -> f64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count <= 0.0
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// Non-empty bins in increasing key order.
    pub fn bins(&self) -> impl Iterator<Item = (i32, f64)> + '_ {
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(i, w)| (self.offset + i as i32, *w))
    }

    /// The bin holding the `q` quantile: the smallest bin whose cumulative weight reaches
    /// q × count.
    pub fn quantile_key(&self, q: f64) -> Option<i32> {
        if self.count <= 0.0 {
            return None;
        }
        // Weights are fractional once decayed: a tiny epsilon keeps q = 0 on the first bin.
        let rank = (q.clamp(0.0, 1.0) * self.count).max(self.count * 1e-12);
        let mut cumulative = 0.0;
        let mut last = None;
        for (key, weight) in self.bins() {
            cumulative += weight;
            last = Some(key);
            if cumulative >= rank * (1.0 - 1e-12) {
                return Some(key);
            }
        }
        last
    }

    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantile_key(q).map(value_of)
    }

    /// Weight in bins above `key`.
    pub fn weight_above(&self, key: i32) -> f64 {
        self.bins()
            .filter(|(k, _)| *k > key)
            .map(|(_, weight)| weight)
            .sum()
    }

    /// The sketch as stored in `data_dir`.
    pub fn to_parts(&self) -> SketchParts {
        SketchParts {
            offset: self.offset,
            bins: self.bins.clone(),
            count: self.count,
            sum: self.sum,
        }
    }

    /// A stored sketch, if it is one this code could have written: keys within the range
    /// told apart, finite non-negative weights adding up to the count.
    pub fn from_parts(parts: SketchParts) -> Option<Self> {
        let SketchParts {
            offset,
            bins,
            count,
            sum,
        } = parts;
        let (lowest, highest) = (key_of(MIN_VALUE), key_of(MAX_VALUE));
        let last = i64::from(offset) + bins.len() as i64 - 1;
        let in_range = bins.is_empty()
            || (i64::from(offset) >= i64::from(lowest) && last <= i64::from(highest));
        let weights_ok = bins.iter().all(|w| w.is_finite() && *w >= 0.0);
        let total: f64 = bins.iter().sum();
        let count_ok = count.is_finite() && (total - count).abs() <= 1e-6 * count.max(1.0);
        (in_range && weights_ok && count_ok && sum.is_finite() && sum >= 0.0).then_some(Self {
            offset,
            bins,
            count,
            sum,
        })
    }

    /// Heap bytes held (for the memory bound).
    pub fn heap_bytes(&self) -> usize {
        self.bins.capacity() * std::mem::size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_relative_accuracy() {
        let mut sketch = LatencySketch::new();
        let values: Vec<f64> = (1..=10_000).map(|i| i as f64 * 1e-4).collect();
        values.iter().for_each(|v| sketch.add(*v));
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999] {
            let exact = values[((q * values.len() as f64) as usize).min(values.len() - 1)];
            let estimate = sketch.quantile(q).unwrap();
            assert!(
                (estimate - exact).abs() <= exact * RELATIVE_ACCURACY * 1.01 + 1e-4,
                "q={q}: {estimate} vs {exact}"
            );
        }
    }

    #[test]
    fn merging_equals_adding_everything_to_one_sketch() {
        let (mut a, mut b, mut all) = (
            LatencySketch::new(),
            LatencySketch::new(),
            LatencySketch::new(),
        );
        for i in 0..500 {
            let v = 0.001 * (1.0 + (i % 37) as f64);
            if i % 3 == 0 {
                a.add(v)
            } else {
                b.add(v)
            }
            all.add(v);
        }
        let mut big = 0.0;
        for i in 0..20 {
            big += 0.5 * i as f64;
            b.add(big);
            all.add(big);
        }
        a.merge(&b);
        assert_eq!(a.bins().collect::<Vec<_>>(), all.bins().collect::<Vec<_>>());
        assert_eq!(a.count(), all.count());
    }

    #[test]
    fn absurd_values_are_clamped_or_ignored_and_the_size_stays_bounded() {
        let mut sketch = LatencySketch::new();
        for v in [
            f64::NAN,
            f64::INFINITY,
            -1.0,
            0.0,
            1e-12,
            1e12,
            7200.0,
            0.02,
        ] {
            sketch.add(v);
        }
        assert_eq!(sketch.count(), 5.0);
        assert!(sketch.heap_bytes() <= 1200 * 8);
        assert_eq!(sketch.quantile(1.0), Some(value_of(key_of(MAX_VALUE))));
    }

    #[test]
    fn stored_parts_come_back_equal_and_tampered_ones_are_refused() {
        let mut sketch = LatencySketch::new();
        (0..50).for_each(|i| sketch.add(0.01 + 0.001 * f64::from(i)));
        let parts = sketch.to_parts();
        assert_eq!(LatencySketch::from_parts(parts.clone()), Some(sketch));
        let mut wrong_count = parts.clone();
        wrong_count.count += 1.0;
        let mut negative = parts.clone();
        negative.bins[0] = -1.0;
        let mut out_of_range = parts;
        out_of_range.offset = i32::MAX - 2;
        for tampered in [wrong_count, negative, out_of_range] {
            assert_eq!(LatencySketch::from_parts(tampered), None);
        }
    }

    #[test]
    fn scaling_keeps_quantiles_and_weight_above_counts_the_tail() {
        let mut sketch = LatencySketch::new();
        // Each value 5 % above the last: one bin each.
        (0..100).for_each(|i| sketch.add(0.001 * 1.05f64.powi(i)));
        let p95 = sketch.quantile_key(0.95).unwrap();
        assert_eq!(sketch.weight_above(p95), 5.0);
        sketch.scale(0.5);
        assert_eq!(sketch.quantile_key(0.95), Some(p95));
        assert_eq!(sketch.count(), 50.0);
    }
}
