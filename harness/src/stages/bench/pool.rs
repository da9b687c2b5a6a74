//! The sidecar pool as an axis of the bench (`harness bench --pool 1,2,4`, docs/pool.md): the
//! notes' open question 4 asks whether several Node sidecars help and guesses "1 sidecar per 100
//! concurrent users". The bench already measures any target by its load method (confined to the
//! system under test's CPUs, CPU at load, closed-loop points, the saturation search); this module
//! only adds a target per pool size to the backends that take `--sidecars`, waits for every
//! sidecar of it to be up, and reads the rows of `bench.pool` back from the targets' figures.

use std::path::Path;
use std::time::{Duration, Instant};

use contract::results::stages::pool_target;
use contract::results::{LoadMode, PoolClosedPoint, PoolRow, PoolStudy, Results};
use sut_kit::manifest::Backend;
use sut_kit::orchestrate::StartSettings;

use super::load::SATURATION_P99_LIMIT_US;
use super::options::Options;
use super::plan::Plan;
use super::target::Target;

/// The notes' rule of thumb (open question 4): concurrent users one sidecar serves.
pub const NOTES_STREAMS_PER_SIDECAR: u32 = 100;
/// The largest pool the study takes: the backends refuse more than 64 sidecars
/// (backends/sidecar-host/src/args.rs), and each idle sidecar holds about 57 MiB.
pub const MAX_POOL: u32 = 64;
/// How often the process tree is read while a pool's sidecars start.
const POOL_POLL: Duration = Duration::from_millis(100);
/// After the last sidecar process appears, time for it to listen: a sidecar's own ready line
/// comes within about 0.4 s of its spawn on Node 26 (docs/runtimes.md).
const POOL_SETTLE: Duration = Duration::from_millis(500);

/// Parses `--pool 1,2,4`'s items: a pool size from 1 to [`MAX_POOL`].
pub fn parse_size(value: &str) -> Result<u32, String> {
    let n: u32 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number of sidecars"))?;
    if !(1..=MAX_POOL).contains(&n) {
        return Err(format!("a pool holds 1 to {MAX_POOL} sidecars, not {n}"));
    }
    Ok(n)
}

/// The extra arguments of a backend's pool target.
pub fn args(sidecars: u32) -> Vec<String> {
    vec!["--sidecars".to_owned(), sidecars.to_string()]
}

/// A pool's ready line comes once its first sidecar serves; the others may still be starting,
/// and streams sent then would all go to the first. Waits (up to `limit`) until `pids` reads the
/// server and `sidecars` more, then [`POOL_SETTLE`]; false when they never all appeared.
pub async fn wait_for_sidecars(
    pids: impl Fn() -> Vec<u32>,
    sidecars: u32,
    limit: Duration,
) -> bool {
    let want = usize::try_from(sidecars)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let deadline = Instant::now() + limit;
    while pids().len() < want {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POOL_POLL).await;
    }
    tokio::time::sleep(POOL_SETTLE).await;
    true
}

/// What the study needs of the bench run beside the results.
#[derive(Debug, Clone)]
pub struct StudyInput<'a> {
    /// The pool sizes asked for, in order, 1 among them or not.
    pub sizes: &'a [u32],
    /// The backends that took `--sidecars` and were measured.
    pub backends: &'a [String],
    /// The bench's stutter limit (p99 chunk overhead), µs.
    pub overhead_limit_us: f64,
    /// Scripted TTFT + (chunks − 1) gaps, ms.
    pub conversation_ms: f64,
    pub sut_cpus: Vec<u32>,
}

/// `bench.pool` from the figures the bench recorded under each pool target; a figure the bench
/// did not record stays absent.
pub fn study(results: &Results, input: &StudyInput<'_>) -> PoolStudy {
    let mut sizes: Vec<u32> = input.sizes.to_vec();
    if !sizes.contains(&1) {
        // The backend itself is always measured: its one-sidecar row is the baseline.
        sizes.insert(0, 1);
    }
    let cores = input.sut_cpus.len().max(1) as f64;
    let mut rows = Vec::new();
    for backend in input.backends {
        let one = results.backends.get(backend).and_then(|b| b.saturation_rps);
        for &sidecars in &sizes {
            let target = pool_target(backend, sidecars);
            let Some(entry) = results.backends.get(&target) else {
                continue;
            };
            let capacity = entry.saturation_rps;
            let streams = capacity.map(|rps| rps * input.conversation_ms / 1_000.0);
            rows.push(PoolRow {
                backend: backend.clone(),
                sidecars,
                target: target.clone(),
                capacity_rps: capacity,
                capacity_rps_ci95: entry
                    .capacity
                    .as_ref()
                    .and_then(|c| c.per_core_rps_observed_ci95)
                    .map(|[lo, hi]| [lo * cores, hi * cores]),
                generator_bound: entry.capacity.as_ref().map(|c| c.generator_bound),
                streams_held: streams,
                streams_held_per_sidecar: streams.map(|s| s / f64::from(sidecars)),
                capacity_vs_one: capacity.zip(one).map(|(c, o)| c / o),
                closed: entry
                    .load
                    .iter()
                    .filter(|p| p.mode == LoadMode::Closed)
                    .map(|p| PoolClosedPoint {
                        in_flight: p.target.round() as u32,
                        chunk_overhead_p99_us: p.chunk_overhead_p99_us,
                        errors: p.errors,
                        lost_chunks: p.lost_chunks,
                    })
                    .collect(),
                cpu_ms_per_conversation: entry.cpu_at_load.as_ref().map(|c| c.ms_per_conversation),
                peak_rss_mib: entry
                    .memory
                    .as_ref()
                    .and_then(|m| m.rss_peak_bytes)
                    .map(|b| b as f64 / (1024.0 * 1024.0)),
            });
        }
    }
    PoolStudy {
        sizes,
        overhead_limit_us: input.overhead_limit_us,
        conversation_ms: input.conversation_ms,
        notes_streams_per_sidecar: NOTES_STREAMS_PER_SIDECAR,
        sut_cpus: input.sut_cpus.clone(),
        rows,
    }
}

/// `bench.pool` from the pool targets' figures: the backends with a `+poolN` target.
pub(crate) fn bench_study(
    results: &Results,
    opts: &Options,
    measured: &[Backend],
    plan: &Plan,
) -> PoolStudy {
    let names = results
        .bench
        .as_ref()
        .map(|b| b.settings.targets.clone())
        .unwrap_or_default();
    let pooled: Vec<String> = measured
        .iter()
        .map(|b| b.name().to_owned())
        .filter(|b| {
            opts.pool
                .iter()
                .any(|&n| n > 1 && names.contains(&pool_target(b, n)))
        })
        .collect();
    let r = &plan.rounds;
    let input = StudyInput {
        sizes: &opts.pool,
        backends: &pooled,
        overhead_limit_us: SATURATION_P99_LIMIT_US,
        conversation_ms: (r.ttft_ms + u64::from(r.chunks.saturating_sub(1)) * r.gap_ms) as f64,
        sut_cpus: results
            .bench
            .as_ref()
            .and_then(|b| b.confinement.as_ref())
            .map(|c| c.sut_cpus.clone())
            .unwrap_or_default(),
    };
    study(results, &input)
}

/// The backend with each pool size of `--pool` above one, as bench targets, once all its
/// sidecars are up; none for a backend that takes no `--sidecars`.
pub(crate) async fn targets(
    backend: &Backend,
    launch: &StartSettings,
    log_dir: &Path,
    opts: &Options,
) -> anyhow::Result<Vec<Target>> {
    let name = backend.name();
    if !crate::stages::crash::takes_flag(backend, launch, "--sidecars").await {
        eprintln!("bench: {name} takes no --sidecars flag: no pool to measure");
        return Ok(Vec::new());
    }
    let mut pooled = Vec::new();
    for &n in opts.pool.iter().filter(|&&n| n > 1) {
        let label = pool_target(name, n);
        let t = Target::backend(backend, launch, log_dir, &label, args(n)).await?;
        if !wait_for_sidecars(|| t.pids(), n, opts.ctx.ready_timeout).await {
            eprintln!("bench: {label}: not all {n} sidecars appeared; measured as it is");
        }
        pooled.push(t);
    }
    Ok(pooled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::bench::test_points;
    use contract::results::{Capacity, LoadPoint};

    fn results_with(capacities: &[(&str, Option<f64>)]) -> Results {
        let mut r = test_points::results("debug");
        for &(name, rps) in capacities {
            let e = r.backend_mut(name);
            e.saturation_rps = rps;
            e.capacity = rps.map(|rps| Capacity {
                per_core_rps_observed: Some(rps),
                per_core_rps_observed_ci95: Some([rps * 0.8, rps * 1.2]),
                per_core_rps_predicted: None,
                predicted_at_rps: None,
                predicted_ms_per_conversation: None,
                ratio: None,
                limit: None,
                generator_bound: false,
            });
            e.load.push(LoadPoint {
                mode: LoadMode::Closed,
                target: 100.0,
                achieved: 0.0,
                chunks_per_s: 0.0,
                chunk_overhead_p50_us: Some(1.0),
                chunk_overhead_p99_us: Some(5_000.0),
                ..test_points::open(100.0)
            });
        }
        r
    }

    fn input<'a>(sizes: &'a [u32], backends: &'a [String]) -> StudyInput<'a> {
        StudyInput {
            sizes,
            backends,
            overhead_limit_us: 10_000.0,
            conversation_ms: 210.0,
            sut_cpus: vec![1],
        }
    }

    #[test]
    fn rows_read_each_pool_targets_figures_against_the_one_sidecar_row() {
        let r = results_with(&[
            ("unix", Some(100.0)),
            ("unix+pool2", Some(150.0)),
            ("unix+pool4", None),
        ]);
        let backends = ["unix".to_owned()];
        let s = study(&r, &input(&[2, 4], &backends));
        assert_eq!(s.sizes, vec![1, 2, 4]);
        let by = |n: u32| s.rows.iter().find(|r| r.sidecars == n).unwrap();
        assert_eq!(by(1).target, "unix");
        assert_eq!(by(1).streams_held, Some(21.0));
        assert_eq!(by(2).capacity_vs_one, Some(1.5));
        assert_eq!(by(2).streams_held_per_sidecar, Some(150.0 * 0.21 / 2.0));
        assert_eq!(by(2).capacity_rps_ci95, Some([120.0, 180.0]));
        assert_eq!(by(2).closed[0].in_flight, 100);
        // A pool size with no capacity found has none, not zero.
        assert_eq!(by(4).capacity_rps, None);
        assert_eq!(by(4).streams_held, None);
        assert_eq!(by(4).capacity_vs_one, None);
    }

    #[test]
    fn a_pool_size_the_bench_did_not_measure_has_no_row() {
        let r = results_with(&[("http", Some(80.0))]);
        let backends = ["http".to_owned()];
        let s = study(&r, &input(&[1, 2], &backends));
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.notes_streams_per_sidecar, NOTES_STREAMS_PER_SIDECAR);
    }

    #[test]
    fn pool_sizes_outside_what_a_backend_takes_are_refused() {
        assert_eq!(parse_size("4"), Ok(4));
        assert!(parse_size("0").is_err());
        assert!(parse_size("65").is_err());
        assert!(parse_size("two").is_err());
    }

    #[tokio::test]
    async fn waiting_for_sidecars_that_never_come_gives_up_at_the_limit() {
        assert!(!wait_for_sidecars(|| vec![1], 2, Duration::from_millis(150)).await);
        assert!(wait_for_sidecars(|| vec![1, 2, 3], 2, Duration::from_millis(150)).await);
    }
}
