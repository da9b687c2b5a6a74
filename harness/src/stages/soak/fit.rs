//! The growth slope of a series sampled over minutes, with an interval that survives the
//! series' autocorrelation, and the soak's verdict from it. Memory sampled every second is
//! nothing like independent draws: a garbage-collected heap saws up and down over seconds and
//! an allocator grows in steps, so the textbook least-squares interval would be far too narrow
//! and call every sawtooth a leak. The standard error here is Newey and West's (1987), which
//! counts the covariance of nearby residuals. Method and reasons: docs/soak.md#the-fit.

// The interval is asymptotic (Newey-West), so the normal quantile, not Student's t, is its
// reference.
use crate::stats::Z_95;

/// A slope with its 95% interval, in the series' units per hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    pub per_h: f64,
    pub ci95: [f64; 2],
    /// Points fitted.
    pub n: usize,
}

/// The least-squares slope of `points` (seconds, value) in value per hour, with a Newey-West
/// 95% interval; `None` with fewer than 3 points or no spread in time.
pub fn slope(points: &[(f64, f64)]) -> Option<Slope> {
    fit(points, newey_west_lags(points.len()))
}

/// [`slope`] counting `lags` lags of covariance (0: the textbook interval for independent
/// points).
fn fit(points: &[(f64, f64)], lags: usize) -> Option<Slope> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let hours: Vec<(f64, f64)> = points.iter().map(|&(t, y)| (t / 3600.0, y)).collect();
    let x_mean = hours.iter().map(|p| p.0).sum::<f64>() / nf;
    let y_mean = hours.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = hours.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let sxy: f64 = hours.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
    let b = sxy / sxx;
    let a = y_mean - b * x_mean;
    // The score of each point: its distance from the mean time times its residual.
    let u: Vec<f64> = hours
        .iter()
        .map(|&(x, y)| (x - x_mean) * (y - a - b * x))
        .collect();
    let mut s = u.iter().map(|v| v * v).sum::<f64>();
    for l in 1..=lags.min(n - 1) {
        // Bartlett weights keep the variance non-negative.
        let w = 1.0 - l as f64 / (lags as f64 + 1.0);
        let cov: f64 = (l..n).map(|i| u[i] * u[i - l]).sum();
        s += 2.0 * w * cov;
    }
    let se = (s.max(0.0)).sqrt() / sxx;
    Some(Slope {
        per_h: b,
        ci95: [b - Z_95 * se, b + Z_95 * se],
        n,
    })
}

/// How many lags of covariance the standard error counts: the square root of the points. The
/// textbook rule, 4 (n/100)^(2/9), counts 3 lags of a minute's series and 5 of ten minutes',
/// shorter than a garbage-collected heap's sawtooth (seconds to tens of seconds); the square
/// root is wider and so more cautious (docs/soak.md#the-fit).
fn newey_west_lags(n: usize) -> usize {
    (n as f64).sqrt().ceil() as usize
}

/// Growth a soak tolerates, in MB per hour: a slope whose whole interval lies above it is a
/// leak. Zero alone would fail a flat series with one allocator step of a few hundred KB in a
/// short window; 10 MB/h is less than 2 MB over a ten-minute soak, the size of such steps, and
/// 240 MB a day, which a deployment restarted daily would still notice (docs/soak.md#verdict).
pub const LEAK_FLOOR_MB_PER_H: f64 = 10.0;
/// The same for open file descriptors, per hour: a leaked connection per minute is 60 an hour.
pub const FD_LEAK_FLOOR_PER_H: f64 = 60.0;

/// The shortest warm-up after which the verdict judges slopes: a fact of what a soak record
/// means, so it lives with the record, where the report reads it too.
pub use contract::results::MIN_JUDGED_WARMUP_S;

/// Into how many equal parts of time the judged window is split to ask whether growth lasts.
/// Growth is a leak only if every part, fitted alone, grows faster than
/// [`LEAK_FLOOR_MB_PER_H`] as well as the whole window's interval lying above it. Measured
/// (docs/soak.md#why-growth-must-last): a JS backend's resident set follows V8's reserved
/// heap, which climbs about 55 MB and is handed back every 3.5-5 minutes while the heap in
/// use stays flat, so a window that starts after a hand-back and ends before the next fits a
/// steep slope with an interval above the floor. A leak grows in every part; with parts of
/// 2.5 minutes of a ten-minute soak, one of them holds a hand-back unless none happened.
pub const LASTING_PARTS: usize = 3;

/// The slopes of `points` cut into [`LASTING_PARTS`] equal spans of time; `None` when a part
/// has too few points to fit.
pub fn part_slopes(points: &[(f64, f64)]) -> Option<Vec<Slope>> {
    let (first, last) = (points.first()?.0, points.last()?.0);
    let span = (last - first) / LASTING_PARTS as f64;
    (0..LASTING_PARTS)
        .map(|k| {
            let (lo, hi) = (first + span * k as f64, first + span * (k + 1) as f64);
            let part: Vec<(f64, f64)> = points
                .iter()
                .copied()
                .filter(|&(t, _)| t >= lo && (t < hi || (k + 1 == LASTING_PARTS && t <= hi)))
                .collect();
            slope(&part)
        })
        .collect()
}

/// The figures the verdict reads.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub requests: u64,
    pub errors: u64,
    pub rss: Option<&'a Slope>,
    /// The resident set's slope in each of the [`LASTING_PARTS`] parts of the judged window
    /// (empty when they could not be fitted: the whole window's interval alone then decides).
    pub rss_parts: &'a [Slope],
    pub fds: Option<&'a Slope>,
    /// Seconds of warm-up left out of the fit.
    pub warmup_s: f64,
}

/// Whether a backend passed its soak, and why, in words from the figures.
pub fn verdict(seen: &Seen<'_>) -> (bool, String) {
    let Seen {
        requests,
        errors,
        rss,
        rss_parts,
        fds,
        warmup_s,
    } = *seen;
    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!(
            "{errors} of {requests} conversations did not complete"
        ));
    }
    if warmup_s < MIN_JUDGED_WARMUP_S {
        return if failures.is_empty() {
            (
                true,
                format!(
                    "every conversation completed; growth not judged: a warm-up of \
                     {warmup_s:.0} s is under the {MIN_JUDGED_WARMUP_S:.0} s a heap takes to \
                     find its level"
                ),
            )
        } else {
            (false, failures.join("; "))
        };
    }
    let parts = || {
        rss_parts
            .iter()
            .map(|p| format!("{:+.1}", p.per_h))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lasted = rss_parts.iter().all(|p| p.per_h > LEAK_FLOOR_MB_PER_H);
    let mut settling = None;
    match rss {
        Some(s) if s.ci95[0] > LEAK_FLOOR_MB_PER_H && lasted => failures.push(format!(
            "memory grew {:.1} MB/h [{:.1}, {:.1}], above {LEAK_FLOOR_MB_PER_H} MB/h, and in \
             every part of the window ({} MB/h)",
            s.per_h,
            s.ci95[0],
            s.ci95[1],
            parts()
        )),
        Some(s) if s.ci95[0] > LEAK_FLOOR_MB_PER_H => {
            settling = Some(format!(
                ": memory {:+.1} MB/h [{:+.1}, {:+.1}] but not in every part of the window \
                 ({} MB/h): still settling, not a lasting growth",
                s.per_h,
                s.ci95[0],
                s.ci95[1],
                parts()
            ));
        }
        Some(_) => {}
        None => failures.push("too few samples after warm-up to fit a slope".to_owned()),
    }
    if let Some(s) = fds.filter(|s| s.ci95[0] > FD_LEAK_FLOOR_PER_H) {
        failures.push(format!(
            "open descriptors grew {:.0}/h [{:.0}, {:.0}]",
            s.per_h, s.ci95[0], s.ci95[1]
        ));
    }
    if let (true, Some(settling)) = (failures.is_empty(), settling) {
        return (true, format!("every conversation completed{settling}"));
    }
    if failures.is_empty() {
        let growth = rss.map_or_else(String::new, |s| {
            format!(
                ": memory {:+.1} MB/h [{:+.1}, {:+.1}], not above {LEAK_FLOOR_MB_PER_H} MB/h",
                s.per_h, s.ci95[0], s.ci95[1]
            )
        });
        (true, format!("every conversation completed{growth}"))
    } else {
        (false, failures.join("; "))
    }
}

#[cfg(test)]
#[path = "fit_tests.rs"]
mod tests;
