//! Capacity per core, observed and predicted: the open-loop saturation divided by the system
//! under test's cores beside what its CPU per conversation at load allows one core (1 core-s /
//! CPU per conversation), their ratio, and which limit was hit (docs/bench.md#capacity).

use contract::results::{
    Capacity, CapacityLimit, CpuAtLoad, CpuSelfCheck, GeneratorCeiling, LoadMode, LoadPoint,
};

use super::load;

/// Observed at least this share of the CPU prediction: the core ran out. Below it the stream
/// stuttered while the core still had time to spare: an event loop's queue, not the CPU. The
/// open-loop grid doubles its rate, so an observed figure sits up to half below the true one:
/// the threshold lies under that (docs/bench.md#capacity).
pub const CPU_BOUND_SHARE: f64 = 0.4;
/// The CPU self-check's tolerance: N ± max(2 µs, 5%) (the proof).
pub const CPU_CHECK_ABS_US: f64 = 2.0;
pub const CPU_CHECK_REL: f64 = 0.05;

/// One target's capacity from its open-loop points and its CPU at load; `sut_cores` is the
/// number of CPUs the target was confined to.
pub fn capacity(
    points: &[LoadPoint],
    cpu: Option<&CpuAtLoad>,
    sut_cores: usize,
) -> Option<Capacity> {
    let cores = sut_cores.max(1) as f64;
    let open: Vec<&LoadPoint> = points.iter().filter(|p| p.mode == LoadMode::Open).collect();
    let predicted = cpu
        .map(|c| c.ms_per_conversation)
        .filter(|ms| *ms > 0.0)
        .map(|ms| 1_000.0 / ms / cores);
    if open.is_empty() && predicted.is_none() {
        return None;
    }
    // Generator-bound: no point showed the backend past its capacity while the generator kept
    // its schedule, so the highest healthy rate is a lower bound.
    let observed = load::saturation(points).map(|(rps, _)| rps / cores);
    // A backend with no healthy point at all (every point flagged) has no bound to give.
    let generator_bound = observed.is_some() && !open.iter().any(|p| load::ends_sweep(p));
    let ratio = observed.zip(predicted).map(|(o, p)| o / p);
    let limit = if generator_bound {
        Some(CapacityLimit::Generator)
    } else {
        ratio.map(|r| {
            if r >= CPU_BOUND_SHARE {
                CapacityLimit::Cpu
            } else {
                CapacityLimit::EventLoop
            }
        })
    };
    Some(Capacity {
        per_core_rps_observed: observed,
        per_core_rps_observed_ci95: None,
        per_core_rps_predicted: predicted,
        ratio,
        limit,
        generator_bound,
    })
}

/// The generator's ceiling: the highest open-loop rate at which `direct` kept its schedule
/// with no error; the relay's point at that rate beside it.
pub fn generator_ceiling(
    direct: &[LoadPoint],
    relay: Option<&[LoadPoint]>,
) -> Option<GeneratorCeiling> {
    let open = || direct.iter().filter(|p| p.mode == LoadMode::Open);
    let highest = open().map(|p| p.target).fold(f64::NAN, f64::max);
    let best = open()
        .filter(|p| !p.generator_behind && p.errors == 0)
        .max_by(|a, b| a.target.total_cmp(&b.target))?;
    let relay = relay.and_then(|r| {
        r.iter()
            .find(|p| p.mode == LoadMode::Open && p.target == best.target)
    });
    Some(GeneratorCeiling {
        ceiling_rps: best.achieved,
        ceiling_chunks_per_s: best.chunks_per_s,
        method: "the highest rate of the open-loop sweep at which direct (the client reading the \
                 mock) kept its schedule: mock lateness and client lag p99 under the limits, \
                 no error"
            .to_owned(),
        highest_rate_tried: highest,
        relay_within_capacity: relay.map(load::within_capacity),
        relay_chunks_per_s: relay.map(|p| p.chunks_per_s),
    })
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
    let observed = |c: Option<&Capacity>| c.and_then(|c| c.per_core_rps_observed);
    CpuSelfCheck {
        backend: backend.to_owned(),
        injected_us: injected,
        measured_us: measured,
        within_tolerance: (measured - injected).abs()
            <= CPU_CHECK_ABS_US.max(CPU_CHECK_REL * injected),
        capacity_observed_ratio: observed(ours.1).zip(observed(clean.1)).map(|(o, c)| o / c),
        capacity_predicted_ratio: Some(
            clean.0.ms_per_conversation / (clean.0.ms_per_conversation + burn_ms),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(target: f64, p99: f64) -> LoadPoint {
        LoadPoint {
            mode: LoadMode::Open,
            target,
            achieved: target,
            chunks_per_s: target * 20.0,
            conversations: 100,
            chunk_overhead_p50_us: Some(p99 / 2.0),
            chunk_overhead_p99_us: Some(p99),
            ttft_p99_us: None,
            errors: 0,
            lost_chunks: 0,
            reordered_chunks: 0,
            mock_lateness_p99_us: None,
            client_lag_p99_us: None,
            generator_behind: false,
            retries: 0,
        }
    }

    fn cpu(ms: f64) -> CpuAtLoad {
        CpuAtLoad {
            us_per_chunk: 0.0,
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
        }
    }

    #[test]
    fn healthy_at_every_rate_is_generator_bound() {
        let c = capacity(
            &[point(10.0, 100.0), point(50.0, 200.0)],
            Some(&cpu(5.0)),
            1,
        )
        .unwrap();
        assert!(c.generator_bound);
        assert_eq!(c.limit, Some(CapacityLimit::Generator));
        assert_eq!(c.per_core_rps_observed, Some(50.0));
        assert_eq!(c.per_core_rps_predicted, Some(200.0));
    }

    #[test]
    fn with_every_point_flagged_there_is_no_bound() {
        let mut p = point(10.0, 100.0);
        p.generator_behind = true;
        let c = capacity(&[p], Some(&cpu(5.0)), 1).unwrap();
        assert!(!c.generator_bound);
        assert_eq!(c.per_core_rps_observed, None);
        assert_eq!(c.limit, None);
    }

    #[test]
    fn a_backend_that_stutters_far_below_its_cpu_is_event_loop_bound() {
        let points = [point(10.0, 100.0), point(50.0, 20_000.0)];
        let c = capacity(&points, Some(&cpu(5.0)), 1).unwrap();
        assert!(!c.generator_bound);
        assert_eq!(c.limit, Some(CapacityLimit::EventLoop));
        let c = capacity(&points, Some(&cpu(50.0)), 1).unwrap();
        assert_eq!(c.limit, Some(CapacityLimit::Cpu), "10/s of 20/s predicted");
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
    }
}
