//! Histogram buckets as latency sketches: a bucket's requests are spread evenly in log space
//! between its bounds (the sketch's bins are log-spaced, so every bin of the bucket gets the
//! same weight). Quantiles then interpolate inside a bucket, as `histogram_quantile` does,
//! instead of jumping from bucket to bucket, so a 30 % shift reads as a ratio near 1.3 and
//! not as 1.0 or 2.5.
//!
//! Two sketches compared by the detector must have the same resolution: a baseline made of
//! buckets (from Prometheus) is compared with windows [`requantize`]d to the same bounds.

use super::sketch::{LatencySketch, key_of, value_of};

/// The first bucket `(0, le]` is spread over `[le / 4, le]` (its geometric middle is le / 2),
/// the `+Inf` bucket over `(last, 2.25 × last]` (middle 1.5 × last).
fn span(lower: f64, upper: f64) -> (f64, f64) {
    if upper.is_infinite() {
        (lower, lower * 2.25)
    } else if lower <= 0.0 {
        (upper / 4.0, upper)
    } else {
        (lower, upper)
    }
}

/// Adds `weight` requests that fell between `lower` (excluded) and `upper` (included).
pub fn add_bucket(sketch: &mut LatencySketch, lower: f64, upper: f64, weight: f64) {
    if !(weight.is_finite() && weight > 0.0) || upper <= lower {
        return;
    }
    let (low, high) = span(lower, upper);
    if !(low.is_finite() && high.is_finite() && high > 0.0) {
        return;
    }
    // Bins strictly above the lower bound's bin, up to the upper bound's: each bucket owns
    // its bins, so neighbouring buckets never share one.
    let (first, last) = (key_of(low) + 1, key_of(high));
    if last < first {
        sketch.add_weighted(high, weight);
        return;
    }
    let share = weight / f64::from(last - first + 1);
    for key in first..=last {
        sketch.add_weighted(value_of(key), share);
    }
}

/// A sketch from cumulative bucket counts `(le, count)` sorted by `le` (`+Inf` last or
/// missing). Counts that go down (Prometheus' `increase` extrapolates each bucket on its own)
/// are treated as flat.
pub fn from_cumulative(buckets: &[(f64, f64)]) -> LatencySketch {
    let mut sketch = LatencySketch::new();
    let (mut lower, mut below) = (0.0, 0.0);
    for &(upper, cumulative) in buckets {
        let cumulative = if cumulative.is_finite() {
            cumulative.max(below)
        } else {
            below
        };
        add_bucket(&mut sketch, lower, upper, cumulative - below);
        (lower, below) = (upper, cumulative);
    }
    sketch
}

/// The same requests at the resolution of `bounds` (finite upper bounds, increasing; an
/// implicit `+Inf` bucket after them).
pub fn requantize(sketch: &LatencySketch, bounds: &[f64]) -> LatencySketch {
    let mut counts = vec![0.0; bounds.len() + 1];
    for (key, weight) in sketch.bins() {
        let value = value_of(key);
        let bucket = bounds.partition_point(|le| *le < value);
        counts[bucket] += weight;
    }
    let mut out = LatencySketch::new();
    let mut lower = 0.0;
    for (bucket, weight) in counts.into_iter().enumerate() {
        let upper = bounds.get(bucket).copied().unwrap_or(f64::INFINITY);
        add_bucket(&mut out, lower, upper, weight);
        lower = upper;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_BOUNDS: [f64; 11] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];

    fn lognormal(median: f64, sigma: f64, n: usize, seed: u64) -> LatencySketch {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut sketch = LatencySketch::new();
        for _ in 0..n {
            let z = (-2.0 * rng.f64().max(1e-12).ln()).sqrt()
                * (std::f64::consts::TAU * rng.f64()).cos();
            sketch.add(median * (sigma * z).exp());
        }
        sketch
    }

    #[test]
    fn a_bucket_keeps_its_count_and_its_quantiles_stay_inside_it() {
        let sketch = from_cumulative(&[(0.1, 100.0), (0.2, 140.0), (f64::INFINITY, 145.0)]);
        assert!((sketch.count() - 145.0).abs() < 1e-9);
        let median = sketch.quantile(0.5).unwrap();
        assert!(median > 0.025 && median <= 0.1 * 1.01, "{median}");
        let p80 = sketch.quantile(0.8).unwrap();
        assert!(p80 > 0.1 && p80 <= 0.2 * 1.01, "{p80}");
        assert!(sketch.quantile(1.0).unwrap() <= 0.45 * 1.01);
    }

    #[test]
    fn requantizing_twice_changes_nothing_and_keeps_the_count() {
        let exact = lognormal(0.04, 0.3, 5000, 1);
        let once = requantize(&exact, &DEFAULT_BOUNDS);
        let twice = requantize(&once, &DEFAULT_BOUNDS);
        assert!((once.count() - 5000.0).abs() < 1e-6);
        for q in [0.5, 0.95, 0.99] {
            let (a, b) = (once.quantile(q).unwrap(), twice.quantile(q).unwrap());
            assert!((a / b - 1.0).abs() < 0.021, "q={q}: {a} vs {b}");
        }
    }

    #[test]
    fn a_thirty_percent_shift_reads_as_a_shift_not_as_a_bucket_jump() {
        let before = requantize(&lognormal(0.04, 0.3, 20_000, 2), &DEFAULT_BOUNDS);
        let after = requantize(&lognormal(0.052, 0.3, 20_000, 3), &DEFAULT_BOUNDS);
        let median = after.quantile(0.5).unwrap() / before.quantile(0.5).unwrap();
        let p95 = after.quantile(0.95).unwrap() / before.quantile(0.95).unwrap();
        // Coarse buckets flatten the effect but keep it continuous and on the right side.
        assert!((1.1..1.6).contains(&median), "median ratio {median}");
        assert!((1.05..1.6).contains(&p95), "p95 ratio {p95}");
    }

    #[test]
    fn nonsense_buckets_add_nothing() {
        let sketch = from_cumulative(&[(0.1, f64::NAN), (0.05, 10.0), (0.2, 5.0)]);
        assert!(sketch.count() <= 10.0 + 1e-9);
        let mut empty = LatencySketch::new();
        add_bucket(&mut empty, 0.2, 0.1, 5.0);
        add_bucket(&mut empty, 0.1, 0.2, f64::NAN);
        assert!(empty.is_empty());
    }
}
