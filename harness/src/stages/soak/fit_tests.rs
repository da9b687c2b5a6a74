use super::*;

/// What the verdict sees of a ten-minute soak.
fn seen<'a>(
    requests: u64,
    errors: u64,
    rss: Option<&'a Slope>,
    fds: Option<&'a Slope>,
) -> Seen<'a> {
    Seen {
        requests,
        errors,
        rss,
        rss_parts: &[],
        fds,
        warmup_s: 150.0,
    }
}

/// `f(t)` sampled every second for `seconds`.
fn series(seconds: u32, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..seconds)
        .map(|s| {
            let t = f64::from(s);
            (t, f(t))
        })
        .collect()
}

/// A heap's sawtooth: climbs `amplitude` MB over `period` seconds, then drops back.
fn sawtooth(t: f64, period: f64, amplitude: f64) -> f64 {
    (t % period) / period * amplitude
}

#[test]
fn a_straight_line_gives_its_slope_per_hour_with_a_tight_interval() {
    // 0.01 MB a second is 36 MB an hour.
    let s = slope(&series(300, |t| 100.0 + 0.01 * t)).unwrap();
    assert!((s.per_h - 36.0).abs() < 1e-6, "{s:?}");
    assert!(s.ci95[0] <= s.per_h && s.per_h <= s.ci95[1]);
    assert!(s.ci95[1] - s.ci95[0] < 1e-6, "{s:?}");
    assert_eq!(s.n, 300);
}

#[test]
fn too_few_points_or_one_instant_have_no_slope() {
    assert!(slope(&[(0.0, 1.0), (1.0, 2.0)]).is_none());
    assert!(slope(&[(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]).is_none());
}

#[test]
fn a_flat_sawtooth_is_not_a_leak_and_its_interval_counts_the_autocorrelation() {
    // 7.5 minutes of a heap sawing 8 MB every 40 s, cut mid-tooth: the least-squares slope is
    // not zero, and neighbouring residuals move together, which widens the interval.
    let points = series(450, |t| 80.0 + sawtooth(t, 40.0, 8.0));
    let hac = slope(&points).unwrap();
    let naive = fit(&points, 0).unwrap();
    assert!(hac.ci95[1] - hac.ci95[0] > naive.ci95[1] - naive.ci95[0]);
    assert!(hac.ci95[0] < LEAK_FLOOR_MB_PER_H, "{hac:?}");
    assert!(verdict(&seen(900, 0, Some(&hac), None)).0);
}

#[test]
fn a_leak_under_a_sawtooth_fails() {
    // 60 MB/h under the same sawtooth.
    let points = series(450, |t| 80.0 + t * 60.0 / 3600.0 + sawtooth(t, 40.0, 8.0));
    let s = slope(&points).unwrap();
    assert!(s.ci95[0] > LEAK_FLOOR_MB_PER_H, "{s:?}");
    assert!(s.ci95[0] < 60.0 && 60.0 < s.ci95[1], "{s:?}");
    let (passed, why) = verdict(&seen(900, 0, Some(&s), None));
    assert!(!passed);
    assert!(why.contains("memory grew"), "{why}");
}

#[test]
fn one_allocator_step_in_a_flat_series_is_not_a_leak() {
    // A Rust server's resident set is flat to the page, then one arena grows by 300 KB.
    let points = series(450, |t| if t < 225.0 { 12.0 } else { 12.3 });
    let s = slope(&points).unwrap();
    assert!(s.per_h > 0.0 && s.ci95[0] > 0.0, "{s:?}");
    assert!(verdict(&seen(900, 0, Some(&s), None)).0, "{s:?}");
}

#[test]
fn iid_noise_around_a_level_passes() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let points: Vec<(f64, f64)> = (0..450)
        .map(|s| (f64::from(s), 50.0 + rng.random_range(-2.0..2.0)))
        .collect();
    let s = slope(&points).unwrap();
    assert!(s.ci95[0] < 0.0 && 0.0 < s.ci95[1], "{s:?}");
    assert!(verdict(&seen(900, 0, Some(&s), None)).0);
}

#[test]
fn errors_fail_a_flat_series_and_a_missing_fit_fails_too() {
    let flat = slope(&series(100, |_| 40.0)).unwrap();
    let (passed, why) = verdict(&seen(120, 3, Some(&flat), None));
    assert!(!passed);
    assert!(why.contains("3 of 120"), "{why}");
    let (passed, why) = verdict(&seen(120, 0, None, None));
    assert!(!passed);
    assert!(why.contains("too few samples"), "{why}");
}

#[test]
fn leaking_descriptors_fail_even_with_flat_memory() {
    let flat = slope(&series(300, |_| 40.0)).unwrap();
    // One descriptor every 10 s: 360 an hour.
    let fds = slope(&series(300, |t| 30.0 + (t / 10.0).floor())).unwrap();
    let (passed, why) = verdict(&seen(600, 0, Some(&flat), Some(&fds)));
    assert!(!passed);
    assert!(why.contains("descriptors"), "{why}");
}

#[test]
fn a_short_soak_judges_its_errors_but_not_its_slopes() {
    let leak = slope(&series(45, |t| 100.0 + t)).unwrap();
    let short = Seen {
        warmup_s: 15.0,
        ..seen(120, 0, Some(&leak), Some(&leak))
    };
    let (passed, why) = verdict(&short);
    assert!(passed, "{why}");
    assert!(why.contains("not judged"), "{why}");
    let (passed, why) = verdict(&Seen { errors: 2, ..short });
    assert!(!passed);
    assert!(why.contains("2 of 120"), "{why}");
    assert!(
        !verdict(&Seen {
            warmup_s: MIN_JUDGED_WARMUP_S,
            ..short
        })
        .0
    );
}

#[test]
fn growth_that_stops_inside_the_window_is_settling_and_lasting_growth_is_a_leak() {
    // The resident set still climbing 60 MB when the warm-up ended, levelling off two minutes
    // later, under a heap's sawtooth: the whole window's interval lies above the floor.
    let settling = series(450, |t| {
        200.0 + 60.0 * (t / 120.0).min(1.0) + sawtooth(t, 40.0, 8.0)
    });
    let s = slope(&settling).unwrap();
    assert!(s.ci95[0] > LEAK_FLOOR_MB_PER_H, "{s:?}");
    let parts = part_slopes(&settling).unwrap();
    assert_eq!(parts.len(), LASTING_PARTS);
    let (passed, why) = verdict(&Seen {
        rss_parts: &parts,
        ..seen(900, 0, Some(&s), None)
    });
    assert!(passed, "{why}");
    assert!(why.contains("still settling"), "{why}");

    // 60 MB/h all along under the same sawtooth: every part grows, and it fails.
    let leak = series(450, |t| 80.0 + t * 60.0 / 3600.0 + sawtooth(t, 40.0, 8.0));
    let s = slope(&leak).unwrap();
    let parts = part_slopes(&leak).unwrap();
    assert!(
        parts.iter().all(|p| p.per_h > LEAK_FLOOR_MB_PER_H),
        "{parts:?}"
    );
    let (passed, why) = verdict(&Seen {
        rss_parts: &parts,
        ..seen(900, 0, Some(&s), None)
    });
    assert!(!passed);
    assert!(why.contains("in every part"), "{why}");
}

#[test]
fn the_parts_cover_the_window_without_overlap() {
    let points = series(101, |t| t);
    let parts = part_slopes(&points).unwrap();
    assert_eq!(parts.iter().map(|p| p.n).sum::<usize>(), points.len());
    assert!(
        part_slopes(&points[..4]).is_none(),
        "two points a part fit nothing"
    );
}
