//! Capacity per core, observed and predicted: the saturation search's figure divided by the
//! system under test's cores beside what its CPU per conversation at load allows one core (1 core-s /
//! CPU per conversation), their ratio, and which limit was hit (docs/bench.md#capacity).

use contract::results::{
    Capacity, CapacityLimit, CpuAtLoad, CpuSelfCheck, GeneratorCeiling, LoadMode, LoadPoint,
};

use super::search;

/// Observed at least this share of the CPU prediction: the core ran out. Below it the stream
/// stuttered while the core still had time to spare: an event loop's queue, not the CPU. A
/// queue's p99 reaches the stutter limit before its server is fully busy, and the quick search
/// brackets the capacity within 25%: the threshold lies under both (docs/bench.md#capacity).
pub const CPU_BOUND_SHARE: f64 = 0.5;
/// The CPU self-check's tolerance: N ± max(2 µs, 5%) (the proof).
pub const CPU_CHECK_ABS_US: f64 = 2.0;
pub const CPU_CHECK_REL: f64 = 0.05;
/// A search starts at this share of the capacity the CPU predicts: a backend stutters a little
/// before its core is full, so the first step usually lands just under it
/// (docs/bench.md#saturation-by-search).
pub const START_SHARE: f64 = 0.8;

/// Where a target's search starts: [`START_SHARE`] of what its CPU at load allows its cores.
pub fn start_rps(cpu: &CpuAtLoad, sut_cores: usize) -> Option<f64> {
    (cpu.ms_per_conversation > 0.0)
        .then(|| START_SHARE * 1_000.0 / cpu.ms_per_conversation * sut_cores.max(1) as f64)
}

/// The CPU per conversation the search metered at its highest healthy rate: the rate nearest
/// the capacity that the target still carried, where the chunks share the core's wake-ups as
/// they do at capacity (at the CPU at load's 20/s each chunk wakes an idle core, and a
/// prediction from there read 1.47× low; docs/bench.md#capacity). Returns (rate, ms).
pub fn cpu_near_capacity(found: &search::Outcome, points: &[LoadPoint]) -> Option<(f64, f64)> {
    let healthy = found.healthy?;
    let p = points
        .iter()
        .find(|p| p.mode == LoadMode::Open && p.target == healthy && !p.generator_behind)?;
    Some((healthy, p.cpu_ms_per_conversation.filter(|ms| *ms > 0.0)?))
}

/// The load client's start lag that says it, not the target, gave out at a failing rate: over
/// 1 ms (the generator proof's bound) and over twice `direct`'s at the same rate
/// (docs/bench.md#the-relay-on-one-core).
pub const CLIENT_LAG_GAVE_OUT_US: f64 = 1_000.0;
pub const CLIENT_LAG_GAVE_OUT_FACTOR: f64 = 2.0;

/// Whether the load client gave out where the target's stream stuttered: at its lowest failing
/// rate the client's start lag p99 beside the target passed [`CLIENT_LAG_GAVE_OUT_US`] and
/// [`CLIENT_LAG_GAVE_OUT_FACTOR`] times `direct`'s at that rate. The client reads the same
/// chunks either way; beside a target one hop away they wake its core from the other CPU.
pub fn client_gave_out(
    found: &search::Outcome,
    points: &[LoadPoint],
    direct: &[LoadPoint],
) -> bool {
    let Some(failing) = found.failing else {
        return false;
    };
    let lag = |points: &[LoadPoint]| {
        points
            .iter()
            .find(|p| p.mode == LoadMode::Open && p.target == failing)
            .and_then(|p| p.client_lag_p99_us)
    };
    match (lag(points), lag(direct)) {
        (Some(ours), Some(theirs)) => {
            ours > CLIENT_LAG_GAVE_OUT_US && ours > CLIENT_LAG_GAVE_OUT_FACTOR * theirs
        }
        _ => false,
    }
}

/// The ceiling for a target one process hop away, from the zero-work relay's capacity: its
/// highest healthy and lowest failing rates when what gave out there was the load client
/// ([`CapacityLimit::Client`]), not the relay's own core.
pub fn one_hop_ceiling(
    relay: Option<&Capacity>,
    found: Option<&search::Outcome>,
) -> Option<(f64, f64)> {
    relay
        .filter(|c| c.limit == Some(CapacityLimit::Client))
        .and(found)
        .and_then(|f| f.healthy.zip(f.failing))
}

/// A backend's search read against the one-hop ceiling: a failure at or past the rate where
/// the zero-work relay failed with its core to spare is the generator's as much as the
/// backend's, so it is not counted; the backend is then generator-bound, its highest healthy
/// rate a lower bound (docs/bench.md#the-relay-on-one-core).
pub fn within_one_hop_ceiling(found: &search::Outcome, relay_failing: f64) -> search::Outcome {
    let mut out = found.clone();
    if out.failing.is_some_and(|f| f >= relay_failing) {
        out.failing = None;
        out.generator_limit = Some(
            out.generator_limit
                .map_or(relay_failing, |g| g.min(relay_failing)),
        );
    }
    out
}

/// One target's capacity from its saturation search and its CPU: `near` is the CPU per
/// conversation metered near the capacity ([`cpu_near_capacity`]), the prediction's source
/// where there is one, else the CPU at load's; `sut_cores` is the number of CPUs the target
/// was confined to; `client` whether the load client gave out where it failed
/// ([`client_gave_out`]).
pub fn capacity(
    found: Option<&search::Outcome>,
    cpu: Option<&CpuAtLoad>,
    near: Option<(f64, f64)>,
    sut_cores: usize,
    client: bool,
) -> Option<Capacity> {
    let cores = sut_cores.max(1) as f64;
    let source = near.or_else(|| {
        cpu.map(|c| (c.rate_rps, c.ms_per_conversation))
            .filter(|(_, ms)| *ms > 0.0)
    });
    let predicted = source.map(|(_, ms)| 1_000.0 / ms);
    if found.is_none() && predicted.is_none() {
        return None;
    }
    let measured = found.and_then(search::Outcome::capacity);
    let observed = measured.map(|(rps, _)| rps / cores);
    let generator_bound = found.is_some_and(search::Outcome::generator_bound);
    let ratio = observed.zip(predicted).map(|(o, p)| o / p);
    let limit = if generator_bound {
        Some(CapacityLimit::Generator)
    } else {
        ratio.map(|r| {
            if r >= CPU_BOUND_SHARE {
                CapacityLimit::Cpu
            } else if client {
                CapacityLimit::Client
            } else {
                CapacityLimit::EventLoop
            }
        })
    };
    Some(Capacity {
        per_core_rps_observed: observed,
        per_core_rps_observed_ci95: measured
            .and_then(|(_, ci)| ci)
            .map(|[lo, hi]| [lo / cores, hi / cores]),
        per_core_rps_predicted: predicted,
        predicted_at_rps: source.map(|(rate, _)| rate),
        predicted_ms_per_conversation: source.map(|(_, ms)| ms),
        ratio,
        limit,
        generator_bound,
    })
}

/// `direct`'s open point at the highest rate it kept up at (its schedule and the offered rate,
/// no error): the generator's ceiling, as offered (`target`) and as achieved. The searches
/// start from it, the relay proof holds the relay to it.
pub fn highest_kept(direct: &[LoadPoint]) -> Option<&LoadPoint> {
    direct
        .iter()
        .filter(|p| p.mode == LoadMode::Open && !p.generator_behind && p.errors == 0)
        .max_by(|a, b| a.target.total_cmp(&b.target))
}

/// The generator's ceiling: the highest rate at which `direct` (the reference run beside every
/// repeat of every search) kept its schedule and the offered rate with no error; the relay's
/// search beside it.
pub fn generator_ceiling(
    direct: &[LoadPoint],
    relay: Option<&search::Outcome>,
    one_hop: Option<(f64, f64)>,
    chunks: u32,
    searched_upward: bool,
) -> Option<GeneratorCeiling> {
    let highest = direct
        .iter()
        .filter(|p| p.mode == LoadMode::Open)
        .map(|p| p.target)
        .fold(f64::NAN, f64::max);
    let best = highest_kept(direct)?;
    let relay_capacity = relay.and_then(search::Outcome::capacity).map(|(c, _)| c);
    Some(GeneratorCeiling {
        ceiling_rps: best.achieved,
        ceiling_chunks_per_s: best.chunks_per_s,
        method: format!(
            "the highest rate of the saturation searches at which direct (the client reading \
             the mock, run beside every repeat) kept its schedule and the offered rate: mock \
             lateness and client start lag p99 under their limits, no error{}",
            if searched_upward {
                "; direct then searched on its own upward from there until it fell behind"
            } else {
                " (not searched past the searches' top rate: a lower bound when equal to it)"
            }
        ),
        highest_rate_tried: highest,
        relay_within_capacity: relay_capacity.map(|c| c >= best.target),
        relay_chunks_per_s: relay_capacity.map(|c| c * f64::from(chunks)),
        one_hop_ceiling_rps: one_hop.map(|(healthy, _)| healthy),
    })
}

/// The standard error of the burn's read from its paired drives: the k-th drive of the burnt
/// instance and of its clean twin ran side by side (A B B A), so a drift of the machine over
/// the minutes between pairs leaves their difference; the instances' own errors in quadrature
/// would count it twice over.
fn paired_drives_error(ours: &CpuAtLoad, clean: &CpuAtLoad) -> Option<f64> {
    let (a, b) = (&ours.drive_us_per_chunk, &clean.drive_us_per_chunk);
    (a.len() == b.len() && a.len() >= super::cpu_load::MIN_DRIVES_FOR_ERROR).then_some(())?;
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    crate::stats::standard_error(&differences)
}

/// A backend run with `--inject-cpu-us` against its clean instance.
pub fn cpu_self_check(
    backend: &str,
    injected_us: u64,
    ours: (&CpuAtLoad, Option<&Capacity>),
    clean: (&CpuAtLoad, Option<&Capacity>),
) -> CpuSelfCheck {
    let injected = injected_us as f64;
    let measured = ours.0.us_per_chunk - clean.0.us_per_chunk;
    let burn_ms = injected * f64::from(clean.0.short_chunks) / 1_000.0;
    // A generator-bound figure is the generator's lower bound, not the backend's: no ratio.
    let observed = |c: Option<&Capacity>| {
        c.filter(|c| !c.generator_bound)
            .and_then(|c| c.per_core_rps_observed)
    };
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let long = |c: &CpuAtLoad| mean(&c.long_window_ms_per_conversation);
    CpuSelfCheck {
        backend: backend.to_owned(),
        injected_us: injected,
        measured_us: measured,
        measured_se_us: paired_drives_error(ours.0, clean.0).or_else(|| {
            ours.0
                .us_per_chunk_se
                .zip(clean.0.us_per_chunk_se)
                .map(|(o, c)| o.hypot(c))
        }),
        within_tolerance: (measured - injected).abs()
            <= CPU_CHECK_ABS_US.max(CPU_CHECK_REL * injected),
        short_read_us: Some(
            (ours.0.ms_per_conversation - clean.0.ms_per_conversation) * 1_000.0
                / f64::from(clean.0.short_chunks.max(1)),
        ),
        long_read_us: long(ours.0)
            .zip(long(clean.0))
            .map(|(o, c)| (o - c) * 1_000.0 / f64::from(clean.0.long_chunks.max(1))),
        capacity_observed_ratio: observed(ours.1).zip(observed(clean.1)).map(|(o, c)| o / c),
        capacity_predicted_ratio: Some(
            clean.0.ms_per_conversation / (clean.0.ms_per_conversation + burn_ms),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::bench::test_points;

    fn cpu(ms: f64) -> CpuAtLoad {
        CpuAtLoad {
            us_per_chunk: 0.0,
            us_per_chunk_se: None,
            ms_per_conversation: ms,
            ms_per_conversation_fixed: ms,
            rate_rps: 20.0,
            long_rate_rps: 2.0,
            short_chunks: 20,
            long_chunks: 200,
            method: contract::results::CpuMethod::CgroupV1,
            idle_ms_per_s: 0.0,
            window_ms_per_conversation: vec![],
            long_window_ms_per_conversation: vec![],
            drive_us_per_chunk: vec![],
            client_sleeps_per_chunk: None,
        }
    }

    fn found(healthy: Option<f64>, failing: Option<f64>) -> search::Outcome {
        search::Outcome {
            healthy,
            failing,
            ..search::Outcome::default()
        }
    }

    fn lag(rate: f64, lag_us: f64) -> LoadPoint {
        LoadPoint {
            client_lag_p99_us: Some(lag_us),
            ..test_points::open(rate)
        }
    }

    #[test]
    fn the_client_gave_out_when_its_lag_rose_beside_the_target_only() {
        let relay = found(Some(800.0), Some(900.0));
        let direct = [lag(800.0, 500.0), lag(900.0, 700.0)];
        // 18 ms beside the relay at 900/s against 0.7 ms beside direct: the client's.
        assert!(client_gave_out(&relay, &[lag(900.0, 18_000.0)], &direct));
        // Over 1 ms but under twice direct's: not told apart.
        assert!(!client_gave_out(&relay, &[lag(900.0, 1_300.0)], &direct));
        // Under 1 ms: the target's own stutter.
        assert!(!client_gave_out(
            &relay,
            &[lag(900.0, 900.0)],
            &[lag(900.0, 100.0)]
        ));
        // No failing rate, or direct not run there: nothing to say.
        assert!(!client_gave_out(&found(Some(800.0), None), &[], &direct));
        assert!(!client_gave_out(&relay, &[lag(900.0, 18_000.0)], &[]));
        // The label: a core under half busy where the client gave out.
        let c = capacity(Some(&relay), Some(&cpu(0.45)), None, 1, true).unwrap();
        assert_eq!(c.limit, Some(CapacityLimit::Client));
        let c = capacity(Some(&relay), Some(&cpu(0.45)), None, 1, false).unwrap();
        assert_eq!(c.limit, Some(CapacityLimit::EventLoop));
        // A core that ran out is the CPU's, whatever the client did.
        let c = capacity(Some(&relay), Some(&cpu(1.2)), None, 1, true).unwrap();
        assert_eq!(c.limit, Some(CapacityLimit::Cpu));
    }

    #[test]
    fn a_failure_past_the_one_hop_ceiling_is_the_generators() {
        let relay_found = found(Some(800.0), Some(900.0));
        let mut relay = capacity(Some(&relay_found), Some(&cpu(0.45)), None, 1, true).unwrap();
        assert_eq!(
            one_hop_ceiling(Some(&relay), Some(&relay_found)),
            Some((800.0, 900.0))
        );
        // A backend failing at 950/s, past where the relay failed: generator-bound at 800.
        let past = within_one_hop_ceiling(&found(Some(800.0), Some(950.0)), 900.0);
        assert!(past.generator_bound());
        assert_eq!(past.capacity(), Some((800.0, None)));
        let c = capacity(Some(&past), Some(&cpu(0.5)), None, 1, false).unwrap();
        assert_eq!(c.limit, Some(CapacityLimit::Generator));
        // Failing below it: its own capacity, untouched.
        let below = within_one_hop_ceiling(&found(Some(300.0), Some(340.0)), 900.0);
        assert_eq!(
            below.capacity(),
            Some(((300.0f64 * 340.0).sqrt(), Some([300.0, 340.0])))
        );
        // A relay whose own core ran out sets no ceiling for the others.
        relay.limit = Some(CapacityLimit::Cpu);
        assert_eq!(one_hop_ceiling(Some(&relay), Some(&relay_found)), None);
    }

    #[test]
    fn healthy_at_every_rate_is_generator_bound() {
        let c = capacity(
            Some(&found(Some(50.0), None)),
            Some(&cpu(5.0)),
            None,
            1,
            false,
        )
        .unwrap();
        assert!(c.generator_bound);
        assert_eq!(c.limit, Some(CapacityLimit::Generator));
        assert_eq!(c.per_core_rps_observed, Some(50.0));
        assert_eq!(c.per_core_rps_observed_ci95, None);
        assert_eq!(c.per_core_rps_predicted, Some(200.0));
    }

    #[test]
    fn failing_at_the_lowest_rate_gives_no_figure() {
        let c = capacity(
            Some(&found(None, Some(2.0))),
            Some(&cpu(5.0)),
            None,
            1,
            false,
        )
        .unwrap();
        assert!(!c.generator_bound);
        assert_eq!(c.per_core_rps_observed, None);
        assert_eq!(c.limit, None);
    }

    #[test]
    fn a_backend_that_stutters_far_below_its_cpu_is_event_loop_bound() {
        let f = found(Some(40.0), Some(50.0));
        let c = capacity(Some(&f), Some(&cpu(5.0)), None, 2, false).unwrap();
        assert!(!c.generator_bound);
        assert_eq!(c.limit, Some(CapacityLimit::EventLoop));
        assert_eq!(c.per_core_rps_observed_ci95, Some([20.0, 25.0]), "per core");
        let c = capacity(Some(&f), Some(&cpu(20.0)), None, 1, false).unwrap();
        assert_eq!(
            c.limit,
            Some(CapacityLimit::Cpu),
            "44.7/s of 50/s predicted"
        );
    }

    fn open(rate: f64, cpu_ms: Option<f64>, behind: bool) -> LoadPoint {
        LoadPoint {
            cpu_ms_per_conversation: cpu_ms,
            generator_behind: behind,
            ..test_points::open(rate)
        }
    }

    #[test]
    fn the_prediction_comes_from_the_cpu_at_the_highest_healthy_rate() {
        // 5 ms per conversation at 20/s (an idle core woken per chunk), 2.5 ms at 300/s and
        // 2.4 ms at 450/s, where it failed.
        let f = found(Some(300.0), Some(450.0));
        let points = [
            open(200.0, Some(2.8), false),
            open(300.0, Some(2.5), false),
            open(450.0, Some(2.4), false),
        ];
        let near = cpu_near_capacity(&f, &points);
        assert_eq!(near, Some((300.0, 2.5)));
        let c = capacity(Some(&f), Some(&cpu(5.0)), near, 1, false).unwrap();
        assert_eq!(c.per_core_rps_predicted, Some(400.0));
        assert_eq!(c.predicted_at_rps, Some(300.0));
        assert_eq!(c.predicted_ms_per_conversation, Some(2.5));
        // Not metered there: the CPU at load's own rate, said so.
        let bare = [open(300.0, None, false)];
        let c = capacity(
            Some(&f),
            Some(&cpu(5.0)),
            cpu_near_capacity(&f, &bare),
            1,
            false,
        )
        .unwrap();
        assert_eq!(c.per_core_rps_predicted, Some(200.0));
        assert_eq!(c.predicted_at_rps, Some(20.0));
        // A run the generator fell behind on is not the target's.
        let behind = [open(300.0, Some(2.5), true)];
        assert_eq!(cpu_near_capacity(&f, &behind), None);
    }

    #[test]
    fn the_cpu_check_reads_the_burn_within_its_tolerance() {
        let mut ours = cpu(2.0);
        ours.us_per_chunk = 104.0;
        let mut clean = cpu(1.0);
        clean.us_per_chunk = 3.0;
        let check = cpu_self_check("x", 100, (&ours, None), (&clean, None));
        assert!(check.within_tolerance, "{check:?}");
        ours.us_per_chunk = 110.0;
        assert!(!cpu_self_check("x", 100, (&ours, None), (&clean, None)).within_tolerance);
        // 1 ms + 20 chunks of 100 µs: a third of the capacity.
        let ratio = check.capacity_predicted_ratio.unwrap();
        assert!((ratio - 1.0 / 3.0).abs() < 1e-9);
        // Each length alone: 1 ms more over 20 chunks; the long windows 20 ms over 200.
        assert!((check.short_read_us.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(check.long_read_us, None, "no long windows");
        ours.long_window_ms_per_conversation = vec![31.0, 33.0];
        clean.long_window_ms_per_conversation = vec![12.0];
        let check = cpu_self_check("x", 100, (&ours, None), (&clean, None));
        assert!((check.long_read_us.unwrap() - 100.0).abs() < 1e-9);
        // The read's standard error: the two instances' errors added in quadrature, absent
        // where either instance had too few windows for one.
        assert_eq!(check.measured_se_us, None);
        ours.us_per_chunk_se = Some(3.0);
        assert_eq!(
            cpu_self_check("x", 100, (&ours, None), (&clean, None)).measured_se_us,
            None
        );
        clean.us_per_chunk_se = Some(4.0);
        let se = cpu_self_check("x", 100, (&ours, None), (&clean, None)).measured_se_us;
        assert!((se.unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn paired_drives_state_the_burns_error_without_the_drift_they_share() {
        // The machine drifts by tens of µs between pairs; each pair's burn reads 100 ± 2.
        let drift = [0.0, 30.0, -20.0, 45.0];
        let mut ours = cpu(2.0);
        let mut clean = cpu(1.0);
        ours.drive_us_per_chunk = drift
            .iter()
            .zip([102.0, 98.0, 102.0, 98.0])
            .map(|(d, b)| 80.0 + d + b)
            .collect();
        clean.drive_us_per_chunk = drift.iter().map(|d| 80.0 + d).collect();
        (ours.us_per_chunk_se, clean.us_per_chunk_se) = (Some(15.0), Some(15.0));
        let se = cpu_self_check("x", 100, (&ours, None), (&clean, None)).measured_se_us;
        // Four differences alternating ±2: an SD of 2.31, over √4.
        assert!(
            (se.unwrap() - (16.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-9,
            "{se:?}"
        );
        // Too few pairs, or unequal drives: the instances' errors in quadrature.
        ours.drive_us_per_chunk
            .truncate(super::super::cpu_load::MIN_DRIVES_FOR_ERROR - 1);
        clean
            .drive_us_per_chunk
            .truncate(super::super::cpu_load::MIN_DRIVES_FOR_ERROR - 1);
        let se = cpu_self_check("x", 100, (&ours, None), (&clean, None)).measured_se_us;
        assert!((se.unwrap() - 15.0 * 2f64.sqrt()).abs() < 1e-9);
        clean.drive_us_per_chunk.push(80.0);
        ours.drive_us_per_chunk.clear();
        let se = cpu_self_check("x", 100, (&ours, None), (&clean, None)).measured_se_us;
        assert!((se.unwrap() - 15.0 * 2f64.sqrt()).abs() < 1e-9);
    }
}
