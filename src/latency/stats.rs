//! The statistics the detector and the evaluation baselines use: Mann-Whitney U (on sketches
//! and on plain samples), the Hodges-Lehmann shift estimate, a Bernoulli log-likelihood ratio
//! and the normal tail.

use super::sketch::{LatencySketch, value_of};

/// Mann-Whitney U of `recent` against `baseline`, as the probability that a recent
/// observation exceeds a baseline one (ties count half), with its z-score under "no change".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankComparison {
    pub auc: f64,
    pub z: f64,
}

/// Walks both sketches' bins once. Values in one bin are ties (1 % apart at most).
pub fn rank_compare(recent: &LatencySketch, baseline: &LatencySketch) -> Option<RankComparison> {
    let (n, m) = (recent.count(), baseline.count());
    if n <= 0.0 || m <= 0.0 {
        return None;
    }
    let mut base = baseline.bins().peekable();
    let mut below = 0.0;
    let mut wins = 0.0;
    for (key, weight) in recent.bins() {
        while let Some(&(k, w)) = base.peek() {
            if k >= key {
                break;
            }
            below += w;
            base.next();
        }
        let equal = match base.peek() {
            Some(&(k, w)) if k == key => w,
            _ => 0.0,
        };
        wins += weight * (below + 0.5 * equal);
    }
    let auc = wins / (n * m);
    let variance = (n + m + 1.0) / (12.0 * n * m);
    Some(RankComparison {
        auc,
        z: (auc - 0.5) / variance.sqrt(),
    })
}

/// Hodges-Lehmann estimate of the shift between `recent` and `baseline` on a log scale, as a
/// ratio: the weighted median of recent/baseline over every pair of observations. Robust to
/// outliers, and the natural effect size next to a rank test (Kayenta reports the same).
pub fn hodges_lehmann_ratio(recent: &LatencySketch, baseline: &LatencySketch) -> Option<f64> {
    let recent_bins: Vec<(i32, f64)> = recent.bins().collect();
    let base_bins: Vec<(i32, f64)> = baseline.bins().collect();
    let (r_lo, r_hi) = (recent_bins.first()?.0, recent_bins.last()?.0);
    let (b_lo, b_hi) = (base_bins.first()?.0, base_bins.last()?.0);
    // Key differences are integers in a bounded range: accumulate weights per difference.
    let low = r_lo - b_hi;
    let mut by_difference = vec![0.0; (r_hi - b_lo - low) as usize + 1];
    for &(rk, rw) in &recent_bins {
        for &(bk, bw) in &base_bins {
            by_difference[(rk - bk - low) as usize] += rw * bw;
        }
    }
    let half = by_difference.iter().sum::<f64>() / 2.0;
    let mut cumulative = 0.0;
    for (i, weight) in by_difference.iter().enumerate() {
        cumulative += weight;
        if cumulative >= half {
            let difference = low + i as i32;
            // γ^d, computed from the representative values to stay exact for d = 0.
            return Some(value_of(difference) / value_of(0));
        }
    }
    None
}

/// Log-likelihood ratio of seeing `hits` of `n` trials above a threshold when the true
/// fraction is `p1` rather than `p0`.
pub fn bernoulli_llr(hits: f64, n: f64, p0: f64, p1: f64) -> f64 {
    hits * (p1 / p0).ln() + (n - hits) * ((1.0 - p1) / (1.0 - p0)).ln()
}

/// P(Z > z) for a standard normal Z (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
pub fn normal_sf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

/// One-sided Mann-Whitney test on plain samples (`recent` larger than `baseline`), normal
/// approximation with the tie correction: the p-value.
pub fn mann_whitney_greater(recent: &[f64], baseline: &[f64]) -> Option<f64> {
    let (n, m) = (recent.len() as f64, baseline.len() as f64);
    if recent.is_empty() || baseline.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = recent
        .iter()
        .map(|v| (*v, true))
        .chain(baseline.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        let group = (j - i + 1) as f64;
        ties += group * group * group - group;
        rank_sum += mid_rank * all[i..=j].iter().filter(|(_, r)| *r).count() as f64;
        i = j + 1;
    }
    let u = rank_sum - n * (n + 1.0) / 2.0;
    let total = n + m;
    let variance = n * m / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)));
    if variance <= 0.0 {
        return Some(0.5);
    }
    Some(normal_sf((u - n * m / 2.0) / variance.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(values: impl IntoIterator<Item = f64>) -> LatencySketch {
        let mut sketch = LatencySketch::new();
        values.into_iter().for_each(|v| sketch.add(v));
        sketch
    }

    #[test]
    fn identical_distributions_compare_even() {
        let a = sketch((1..=200).map(|i| i as f64 / 1000.0));
        let rank = rank_compare(&a, &a).unwrap();
        assert!((rank.auc - 0.5).abs() < 1e-9 && rank.z.abs() < 1e-6);
        let ratio = hodges_lehmann_ratio(&a, &a).unwrap();
        assert!((ratio - 1.0).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn a_shifted_distribution_is_ranked_higher_and_its_ratio_estimated() {
        let base = sketch((1..=500).map(|i| 0.01 + i as f64 / 10_000.0));
        let slower = sketch((1..=500).map(|i| 1.3 * (0.01 + i as f64 / 10_000.0)));
        let rank = rank_compare(&slower, &base).unwrap();
        assert!(rank.auc > 0.6 && rank.z > 5.0, "{rank:?}");
        let ratio = hodges_lehmann_ratio(&slower, &base).unwrap();
        assert!((ratio - 1.3).abs() < 0.03, "{ratio}");
    }

    #[test]
    fn normal_tail_matches_known_values() {
        for (z, p) in [(0.0, 0.5), (1.6449, 0.05), (2.3263, 0.01), (-1.96, 0.975)] {
            assert!((normal_sf(z) - p).abs() < 1e-4, "{z}: {}", normal_sf(z));
        }
    }

    #[test]
    fn mann_whitney_on_samples_separates_shifted_from_equal() {
        let base: Vec<f64> = (0..60).map(|i| 10.0 + (i % 10) as f64).collect();
        let same = mann_whitney_greater(&base, &base).unwrap();
        assert!((same - 0.5).abs() < 0.01, "{same}");
        let higher: Vec<f64> = base.iter().map(|v| v + 5.0).collect();
        assert!(mann_whitney_greater(&higher, &base).unwrap() < 1e-6);
    }

    #[test]
    fn bernoulli_llr_favours_the_fraction_seen() {
        assert!(bernoulli_llr(10.0, 100.0, 0.05, 0.10) > 0.0);
        assert!(bernoulli_llr(5.0, 100.0, 0.05, 0.10) < 0.0);
    }
}
