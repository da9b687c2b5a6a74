//! The Wilcoxon signed-rank interval for the centre of paired differences, and its estimate,
//! the Hodges-Lehmann median of the Walsh averages (docs/gate.md#the-sequential-test). It
//! assumes the rounds independent and each difference symmetric about the centre; under A/A
//! that holds by exchangeability (base and head are the same code and every order in a round is
//! drawn afresh, so head − base and base − head are equally likely), and under a change that
//! shifts every round alike it holds about the shifted centre. Where it holds it needs about two
//! thirds of the rounds the sign test needs for the same width under near-normal noise
//! (asymptotic relative efficiency 0.955 against 0.637). The interval is exact for every `n`: the
//! signed-rank statistic's null distribution is counted, not approximated.

/// P(T ≤ t) for t = 0..=n(n+1)/2, T the signed-rank statistic of `n` differences under the
/// null (each rank's sign a fair coin): the number of subsets of {1..n} summing to t, / 2ⁿ.
pub fn null_cdf(n: usize) -> Vec<f64> {
    let top = n * (n + 1) / 2;
    // Probabilities, halved at each rank so that nothing overflows at large n.
    let mut p = vec![0.0f64; top + 1];
    p[0] = 1.0;
    let mut reach = 0;
    for rank in 1..=n {
        reach += rank;
        for t in (0..=reach).rev() {
            let with = if t >= rank { p[t - rank] } else { 0.0 };
            p[t] = 0.5 * (p[t] + with);
        }
    }
    let mut sum = 0.0;
    p.iter()
        .map(|q| {
            sum += q;
            sum
        })
        .collect()
}

/// The Walsh average (1-based, in ascending order) at which the interval's lower end sits:
/// the largest `k` with P(T ≤ k − 1) ≤ alpha / 2, so that `[w(k), w(M+1−k)]` covers the centre
/// with confidence at least `1 − alpha` (M = n(n+1)/2). `None` when even the full range of the
/// averages is not enough (too few differences: fewer than 9 at this design's 99.375%).
pub fn rank(n: usize, alpha: f64) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let cdf = null_cdf(n);
    let half = alpha / 2.0;
    // cdf[k − 1] ≤ alpha / 2, k at most M / 2 + 1 (the two ends must not cross).
    let best = cdf
        .iter()
        .take(cdf.len().div_ceil(2))
        .take_while(|c| **c <= half)
        .count();
    (best > 0).then_some(best)
}

/// Every pairwise mean `(d_i + d_j) / 2`, i ≤ j, sorted.
fn walsh_averages(values: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len() * (values.len() + 1) / 2);
    for (i, a) in values.iter().enumerate() {
        for b in &values[i..] {
            out.push((a + b) / 2.0);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// The Hodges-Lehmann estimate of the centre: the median of the Walsh averages.
pub fn estimate(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let w = walsh_averages(values);
    let m = w.len();
    Some(if m % 2 == 1 {
        w[m / 2]
    } else {
        (w[m / 2 - 1] + w[m / 2]) / 2.0
    })
}

/// The signed-rank interval for the centre of `values` at confidence `1 − alpha`.
pub fn interval(values: &[f64], alpha: f64) -> Option<[f64; 2]> {
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let k = rank(values.len(), alpha)?;
    let w = walsh_averages(values);
    Some([w[k - 1], w[w.len() - k]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// P(T ≤ t) by listing all 2ⁿ sign patterns.
    fn brute_cdf(n: usize, t: usize) -> f64 {
        let mut hits = 0u64;
        for signs in 0u64..(1 << n) {
            let sum: usize = (1..=n).filter(|r| signs >> (r - 1) & 1 == 1).sum();
            if sum <= t {
                hits += 1;
            }
        }
        hits as f64 / (1u64 << n) as f64
    }

    #[test]
    fn the_null_distribution_is_the_count_of_sign_patterns() {
        for n in 1..=12 {
            let cdf = null_cdf(n);
            assert_eq!(cdf.len(), n * (n + 1) / 2 + 1);
            assert!((cdf.last().unwrap() - 1.0).abs() < 1e-12);
            for (t, c) in cdf.iter().enumerate() {
                assert!((c - brute_cdf(n, t)).abs() < 1e-12, "n {n} t {t}");
            }
        }
    }

    #[test]
    fn critical_values_match_the_published_table() {
        // Two-sided 5%: the largest T with P(T ≤ T) ≤ 0.025 is 8 (n 10), 52 (n 20), 137 (n 30);
        // the interval's rank is one above it.
        assert_eq!(rank(10, 0.05), Some(9));
        assert_eq!(rank(20, 0.05), Some(53));
        assert_eq!(rank(30, 0.05), Some(138));
        // Two-sided 1%: 3 (n 10), 37 (n 20).
        assert_eq!(rank(10, 0.01), Some(4));
        assert_eq!(rank(20, 0.01), Some(38));
    }

    #[test]
    fn the_designs_first_look_has_an_interval_and_fewer_rounds_do_not() {
        let a = super::super::sequential::per_look_alpha();
        // 2 × 0.5⁸ > 0.00625 ≥ 2 × 0.5⁹.
        assert_eq!(rank(8, a), None);
        assert_eq!(rank(9, a), Some(1));
        // 10 rounds: P(T ≤ 2) = 3/1024 ≤ 0.003125 < P(T ≤ 3) = 5/1024.
        assert_eq!(rank(10, a), Some(3));
        assert_eq!(rank(0, a), None);
    }

    #[test]
    fn the_estimate_is_the_centre_of_a_symmetric_sample_and_shifts_with_it() {
        let d = [-3.0, -1.0, 0.0, 1.0, 3.0];
        assert_eq!(estimate(&d), Some(0.0));
        let shifted: Vec<f64> = d.iter().map(|v| v + 0.4).collect();
        assert!((estimate(&shifted).unwrap() - 0.4).abs() < 1e-12);
        let [lo, hi] = interval(&shifted, 0.1).unwrap();
        let [lo0, hi0] = interval(&d, 0.1).unwrap();
        assert!((lo - lo0 - 0.4).abs() < 1e-12 && (hi - hi0 - 0.4).abs() < 1e-12);
        assert_eq!(estimate(&[]), None);
        assert_eq!(interval(&[1.0, f64::NAN, 2.0], 0.5), None);
    }

    /// A draw from a symmetric law about 0: normal, heavy-tailed (Laplace) or flat.
    fn noise(rng: &mut StdRng, law: usize) -> f64 {
        let u: f64 = rng.random_range(-0.5..0.5);
        match law {
            0 => {
                let (a, b): (f64, f64) = (rng.random(), rng.random());
                (-2.0 * (1.0 - a).ln()).sqrt() * (std::f64::consts::TAU * b).cos()
            }
            1 => -u.signum() * (1.0 - 2.0 * u.abs()).ln(),
            _ => 2.0 * u,
        }
    }

    #[test]
    fn the_interval_covers_the_centre_as_often_as_it_says_under_symmetric_noise() {
        // 10,000 samples of 15 per law at 90%: the exact coverage is 1 − 2 P(T ≤ k − 1) ≥ 0.9,
        // and 10,000 draws put it within ±1.2 points at four standard errors.
        let mut rng = StdRng::seed_from_u64(22);
        let alpha = 0.1;
        let k = rank(15, alpha).unwrap();
        let exact = 1.0 - 2.0 * null_cdf(15)[k - 1];
        assert!(exact >= 1.0 - alpha);
        for law in 0..3 {
            let trials = 10_000;
            let covered = (0..trials)
                .filter(|_| {
                    let d: Vec<f64> = (0..15).map(|_| 2.5 + noise(&mut rng, law)).collect();
                    let [lo, hi] = interval(&d, alpha).unwrap();
                    lo <= 2.5 && 2.5 <= hi
                })
                .count();
            let rate = covered as f64 / trials as f64;
            assert!((rate - exact).abs() < 0.012, "law {law}: {rate} vs {exact}");
        }
    }

    #[test]
    fn under_normal_noise_it_is_narrower_than_the_sign_test() {
        let mut rng = StdRng::seed_from_u64(7);
        let alpha = super::super::sequential::per_look_alpha();
        let (mut ours, mut sign) = (0.0, 0.0);
        for _ in 0..300 {
            let d: Vec<f64> = (0..34).map(|_| noise(&mut rng, 0)).collect();
            let [lo, hi] = interval(&d, alpha).unwrap();
            let [slo, shi] = super::super::sequential::median_interval(&d, alpha).unwrap();
            ours += hi - lo;
            sign += shi - slo;
        }
        // Efficiency 0.955 against 0.637: widths in about √(0.637 / 0.955) ≈ 0.82.
        let ratio = ours / sign;
        assert!((0.7..0.92).contains(&ratio), "{ratio}");
    }
}
