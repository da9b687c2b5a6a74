//! The method's proofs (`harness bench --proofs`, docs/bench.md#proofs): read from one run's
//! results, each a requirement of the issue beside what the run measured, and whether it held.
//! The run is the bench's own (a backend with a CPU burn injected, its clean instance, its A/A
//! twin, the relay's capacity searched), so the proofs hold for the figures it publishes.

use contract::results::{LoadMode, LoadPoint, Proof, Results, aa_twin, clean_reference};

use super::target::{DIRECT, RELAY};

pub mod pooled;
pub mod study;

/// `direct` must carry this many chunks/s with its client lag p99 under [`CLIENT_LAG_P99_US`]:
/// the generator proof (a real model streams 10-100 chunks/s, so 10,000 chunks/s is
/// hundreds of conversations).
pub const DIRECT_CHUNKS_PER_S: f64 = 10_000.0;
pub const CLIENT_LAG_P99_US: f64 = 1_000.0;
/// The zero-work relay saturates within this share of `direct`'s ceiling (the 10%).
pub const RELAY_SHARE: f64 = 0.9;
/// The burn moves capacity per core as predicted within this share (the 15%).
pub const CAPACITY_TOLERANCE: f64 = 0.15;
/// CPU with no traffic that still reads as zero: a tenth of a millisecond per second, below
/// one chunk's CPU each second (rust-only's is ~70-100 µs; docs/bench.md#cpu-at-load).
pub const IDLE_ZERO_MS_PER_S: f64 = 0.1;
/// The burn `--proofs` injects when `--inject-cpu-us` names none, and the backend it goes into
/// when `--backends` names none: the backend with no runtime of its own, whose CPU at load is
/// the smallest, so the burn is most of what it reads.
pub const DEFAULT_BURN_US: u64 = 100;
pub const DEFAULT_BACKEND: &str = "rust-only";

fn proof(name: &str, requirement: &str, measured: String, holds: Option<bool>) -> Proof {
    Proof {
        name: name.to_owned(),
        requirement: requirement.to_owned(),
        measured,
        holds,
    }
}

/// Every proof for `backend` (the one run with `--inject-cpu-us`).
pub fn evaluate(results: &Results, backend: &str) -> Vec<Proof> {
    vec![
        direct_ceiling(results),
        relay_near_direct(results),
        cpu_burn_read(results, backend),
        cpu_burn_capacity(results, backend),
        idle_zero(results, backend),
        aa_overlap(results, backend),
    ]
}

fn direct_ceiling(results: &Results) -> Proof {
    const NAME: &str = "direct-ceiling";
    let req = "direct holds >= 10,000 chunks/s, client lag and mock lateness p99 < 1 ms";
    let kept: Vec<&LoadPoint> = results.backends.get(DIRECT).map_or(Vec::new(), |d| {
        d.load
            .iter()
            .filter(|p| p.mode == LoadMode::Open && !p.generator_behind && p.errors == 0)
            .collect()
    });
    let punctual = |p: &LoadPoint| {
        [p.client_lag_p99_us, p.mock_lateness_p99_us]
            .iter()
            .all(|v| v.is_some_and(|v| v < CLIENT_LAG_P99_US))
    };
    let worst = |p: &LoadPoint| {
        p.client_lag_p99_us
            .unwrap_or(f64::INFINITY)
            .max(p.mock_lateness_p99_us.unwrap_or(f64::INFINITY))
    };
    // The issue asks for 10,000 chunks/s on time, not for the highest rate tried to be on
    // time: of the rates at or past 10,000 chunks/s, the most punctual; below it, the fastest.
    let fast = kept
        .iter()
        .filter(|p| p.chunks_per_s >= DIRECT_CHUNKS_PER_S)
        .min_by(|a, b| worst(a).total_cmp(&worst(b)));
    let Some(p) = fast.or_else(|| {
        kept.iter()
            .max_by(|a, b| a.chunks_per_s.total_cmp(&b.chunks_per_s))
    }) else {
        return proof(
            NAME,
            req,
            "direct kept up at no rate".to_owned(),
            Some(false),
        );
    };
    let mut measured = format!(
        "{:.0} chunks/s at {:.0} conv/s offered; client lag p99 {}, mock lateness p99 {}",
        p.chunks_per_s,
        p.target,
        us(p.client_lag_p99_us),
        us(p.mock_lateness_p99_us)
    );
    if fast.is_none() {
        let highest = results
            .bench
            .as_ref()
            .and_then(|b| b.generator.as_ref())
            .map_or(f64::NAN, |g| g.highest_rate_tried);
        measured.push_str(&format!("; highest rate tried {highest:.0} conv/s"));
    }
    proof(NAME, req, measured, Some(fast.is_some_and(|p| punctual(p))))
}

/// The relay proof, on the relay's bracket against `direct`'s ceiling as offered, in
/// conversations/s: holds when its highest healthy rate reaches [`RELAY_SHARE`] of the ceiling,
/// fails when its lowest failing rate is at or under that (its capacity lies below it), and is
/// undecided while the bracket straddles it. The relay's search starts at that share of the
/// ceiling, so its first rate decides (docs/bench.md#proofs). A failing relay's row names what
/// it hit there.
fn relay_near_direct(results: &Results) -> Proof {
    const NAME: &str = "relay-near-direct";
    let req = "the zero-work relay saturates within 10% of direct";
    let bench = results.bench.as_ref();
    let ceiling = bench.and_then(|b| b.generator.as_ref());
    let relay = results.backends.get(RELAY);
    let (Some(g), Some(relay)) = (ceiling, relay) else {
        return proof(
            NAME,
            req,
            "direct or the relay not measured".to_owned(),
            None,
        );
    };
    let cores = bench
        .and_then(|b| b.confinement.as_ref())
        .map_or(1, |c| c.sut_cpus.len().max(1)) as f64;
    let capacity = relay.capacity.as_ref();
    let healthy = capacity.and_then(
        |c| match (c.generator_bound, c.per_core_rps_observed_ci95) {
            (true, _) => c.per_core_rps_observed.map(|o| o * cores),
            (false, ci) => ci.map(|[lo, _]| lo * cores),
        },
    );
    let failing = capacity
        .filter(|c| !c.generator_bound)
        .and_then(|c| c.per_core_rps_observed_ci95)
        .map(|[_, hi]| hi * cores)
        .or_else(|| {
            // No healthy rate at all: the lowest rate it failed at.
            relay
                .load
                .iter()
                .filter(|p| p.mode == LoadMode::Open && !p.generator_behind)
                .map(|p| p.target)
                .min_by(f64::total_cmp)
                .filter(|_| healthy.is_none())
        });
    // The relay's rates are offered rates, and its search starts at 90% of the rate `direct`
    // was offered at its ceiling: the floor is read the same way. The achieved ceiling reads a
    // few conversations/s off the offered one, which put a relay healthy at exactly 90% under it.
    let offered = results
        .backends
        .get(DIRECT)
        .and_then(|d| super::capacity::highest_kept(&d.load))
        .map_or(g.ceiling_rps, |p| p.target);
    let floor = RELAY_SHARE * offered;
    let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.0}"));
    let mut measured = format!(
        "relay healthy at {} conv/s, failing at {}; direct's ceiling {offered:.0} conv/s offered \
         ({:.0} achieved, {:.0} chunks/s), 90% of it {floor:.0}",
        rate(healthy),
        rate(failing),
        g.ceiling_rps,
        g.ceiling_chunks_per_s
    );
    let holds = if healthy.is_some_and(|h| h >= floor) {
        Some(true)
    } else if failing.is_some_and(|f| f <= floor) {
        Some(false)
    } else {
        None
    };
    if holds == Some(false)
        && let Some(p) = relay
            .load
            .iter()
            .find(|p| p.mode == LoadMode::Open && Some(p.target) == failing)
    {
        measured.push_str(&format!(
            "; there: p99 chunk overhead {}, {:.0}% of the offered rate achieved, {} errors, \
             client lag p99 {}",
            us(p.chunk_overhead_p99_us),
            100.0 * p.achieved / p.target.max(f64::EPSILON),
            p.errors,
            us(p.client_lag_p99_us)
        ));
        let direct = results.backends.get(DIRECT).and_then(|d| {
            d.load
                .iter()
                .find(|d| d.mode == LoadMode::Open && d.target == p.target)
        });
        measured.push_str(&generator_cost(p, direct));
    }
    if holds != Some(true) {
        measured.push_str(&relay_core(capacity, cores));
    }
    proof(NAME, req, measured, holds)
}

/// What the load generator (the client and the mock, on their core) paid per chunk beside the
/// relay and beside `direct` at the same rate: through the relay the chunks wake the client's
/// core from the other CPU (docs/bench.md#the-relay-on-one-core).
fn generator_cost(relay: &LoadPoint, direct: Option<&LoadPoint>) -> String {
    let cost = |p: Option<&LoadPoint>| {
        let Some(cpu) = p.and_then(|p| p.generator_us_per_chunk) else {
            return "not read".to_owned();
        };
        let mut read = format!("{cpu:.1} µs");
        if let Some(ipis) = p.and_then(|p| p.client_ipis_per_chunk) {
            read.push_str(&format!(", {ipis:.2} IPIs"));
        }
        if let Some(sleeps) = p.and_then(|p| p.client_sleeps_per_chunk) {
            read.push_str(&format!(", {sleeps:.2} client sleeps"));
        }
        read
    };
    format!(
        "; the generator's cost per chunk there {} beside the relay, {} beside direct",
        cost(Some(relay)),
        cost(direct)
    )
}

/// Whether the relay's own core ran out: its CPU per conversation near its capacity, the share
/// of its cores that took at that rate, and the capacity that CPU allows. A relay on one core
/// that needs a whole core below `direct`'s ceiling is held back by its own CPU, not by the
/// generator (docs/bench.md#the-relay-on-one-core).
fn relay_core(capacity: Option<&contract::results::Capacity>, cores: f64) -> String {
    let Some(c) = capacity else {
        return String::new();
    };
    match (
        c.predicted_at_rps,
        c.predicted_ms_per_conversation,
        c.per_core_rps_predicted,
    ) {
        (Some(rate), Some(ms), Some(predicted)) => format!(
            "; its CPU {ms:.3} ms per conversation at {rate:.0}/s, {:.0}% of its {cores:.0} \
             core(s): its CPU allows {:.0} conv/s",
            100.0 * rate * ms / 1_000.0 / cores,
            predicted * cores
        ),
        _ => "; its CPU not metered".to_owned(),
    }
}

fn cpu_burn_read(results: &Results, backend: &str) -> Proof {
    const NAME: &str = "cpu-burn-read";
    let req = "an injected burn of N µs/chunk reads N ± max(2 µs, 5%)";
    let check = results
        .bench
        .as_ref()
        .and_then(|b| b.cpu_self_check.iter().find(|c| c.backend == backend));
    match check {
        None => proof(
            NAME,
            req,
            format!("{backend}: no CPU at load for it or its clean instance"),
            None,
        ),
        Some(c) => proof(
            NAME,
            req,
            format!(
                "injected {:.0} µs/chunk, read {:+.1}{} (from the short conversations alone {}, \
                 the long alone {}); the client slept {} times per chunk beside it, {} beside \
                 the clean instance",
                c.injected_us,
                c.measured_us,
                super::table::se_note(c.measured_us, c.measured_se_us),
                c.short_read_us
                    .map_or("-".to_owned(), |v| format!("{v:+.1}")),
                c.long_read_us
                    .map_or("-".to_owned(), |v| format!("{v:+.1}")),
                sleeps(results, backend),
                sleeps(results, &clean_reference(backend)),
            ),
            Some(c.within_tolerance),
        ),
    }
}

/// The burnt instance's observed capacity per core against the one its own CPU predicts (1
/// core-second / its CPU per conversation metered at the highest rate its search found
/// healthy): the burn, read back as CPU by `cpu-burn-read`, moves capacity as that CPU says.
/// The clean instance's ratio is shown beside it, not judged: its capacity is often the
/// generator's (docs/bench.md#proofs).
fn cpu_burn_capacity(results: &Results, backend: &str) -> Proof {
    const NAME: &str = "cpu-burn-capacity";
    let req = "the burnt instance's capacity per core is what its CPU per conversation near \
               capacity predicts (within 15%)";
    let ours = results
        .backends
        .get(backend)
        .and_then(|b| b.capacity.as_ref());
    let check = results
        .bench
        .as_ref()
        .and_then(|b| b.cpu_self_check.iter().find(|c| c.backend == backend));
    let beside = match check.and_then(|c| c.capacity_observed_ratio.zip(c.capacity_predicted_ratio))
    {
        Some((r, pr)) => format!("; injected / clean {r:.2}, the clean CPU predicts {pr:.2}"),
        None => "; injected / clean not readable (the clean instance generator-bound)".to_owned(),
    };
    let Some(c) = ours else {
        return proof(NAME, req, "no capacity".to_owned(), None);
    };
    let bracket = c
        .per_core_rps_observed_ci95
        .map_or(String::new(), |[lo, hi]| format!(" [{lo:.0}, {hi:.0}]"));
    let source = match (c.predicted_at_rps, c.predicted_ms_per_conversation) {
        (Some(rate), Some(ms)) => format!(" ({ms:.2} ms per conversation at {rate:.0}/s)"),
        _ => String::new(),
    };
    match (
        c.per_core_rps_observed,
        c.per_core_rps_predicted,
        c.generator_bound,
    ) {
        (Some(o), _, true) => proof(
            NAME,
            req,
            format!(
                "still healthy at {o:.0} conv/s per core: generator-bound, no capacity to read"
            ),
            None,
        ),
        (Some(o), Some(p), false) => proof(
            NAME,
            req,
            format!(
                "observed {o:.0}{bracket} conv/s per core, predicted {p:.0}{source}: {:.2}{beside}",
                o / p
            ),
            Some((o / p - 1.0).abs() <= CAPACITY_TOLERANCE),
        ),
        _ => proof(
            NAME,
            req,
            "no observed or predicted capacity".to_owned(),
            None,
        ),
    }
}

fn idle_zero(results: &Results, backend: &str) -> Proof {
    const NAME: &str = "idle-zero";
    let req = "an idle window reads ≈ 0 CPU (≤ 0.1 ms/s)";
    let clean = clean_reference(backend);
    let idle = [clean.as_str(), backend].into_iter().find_map(|n| {
        let cpu = results.backends.get(n)?.cpu_at_load.as_ref()?;
        Some((n, cpu.idle_ms_per_s))
    });
    match idle {
        None => proof(NAME, req, format!("{backend}: no CPU at load"), None),
        Some((n, ms)) => proof(
            NAME,
            req,
            format!("{n}: {ms:.3} ms/s"),
            Some(ms <= IDLE_ZERO_MS_PER_S),
        ),
    }
}

fn aa_overlap(results: &Results, backend: &str) -> Proof {
    const NAME: &str = "aa-overlap";
    let req = "two instances of one backend: capacity intervals overlap (their difference's \
               interval holds 0)";
    let interval = |n: &str| {
        let c = results.backends.get(n)?.capacity.as_ref()?;
        Some((
            c.per_core_rps_observed_ci95,
            c.generator_bound,
            c.per_core_rps_observed,
        ))
    };
    let twin = aa_twin(backend);
    match (interval(backend), interval(&twin)) {
        (Some((Some([a0, a1]), _, _)), Some((Some([b0, b1]), _, _))) => proof(
            NAME,
            req,
            // They overlap exactly when the interval of the difference, [a0 - b1, a1 - b0],
            // contains 0: the "overlap and contain no difference" is one test.
            format!(
                "{backend} [{a0:.0}, {a1:.0}], {twin} [{b0:.0}, {b1:.0}] conv/s per core, searched \
                 together; difference [{:+.0}, {:+.0}]",
                a0 - b1,
                a1 - b0
            ),
            Some(a0 <= b1 && b0 <= a1),
        ),
        (Some((_, ga, a)), Some((_, gb, b))) => proof(
            NAME,
            req,
            format!(
                "no interval to compare: {backend} {}, {twin} {}",
                bound(a, ga),
                bound(b, gb)
            ),
            None,
        ),
        _ => proof(
            NAME,
            req,
            format!("{backend} or {twin} has no capacity"),
            None,
        ),
    }
}

/// The load client's sleeps per chunk during `name`'s CPU at load: a burn that spreads the
/// target's writes apart makes each find the client asleep (docs/bench.md#the-burn-read).
fn sleeps(results: &Results, name: &str) -> String {
    results
        .backends
        .get(name)
        .and_then(|b| b.cpu_at_load.as_ref())
        .and_then(|c| c.client_sleeps_per_chunk)
        .map_or("-".to_owned(), |v| format!("{v:.2}"))
}

fn bound(v: Option<f64>, generator_bound: bool) -> String {
    match (v, generator_bound) {
        (Some(v), true) => format!(">= {v:.0} (generator-bound)"),
        (Some(v), false) => format!("{v:.0}"),
        (None, _) => "none".to_owned(),
    }
}

fn us(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{:.2} ms", v / 1_000.0))
}

/// The proofs as a table for the terminal.
pub fn write(out: &mut impl std::io::Write, proofs: &[Proof]) -> std::io::Result<()> {
    writeln!(out, "proofs:")?;
    for p in proofs {
        let verdict = match p.holds {
            Some(true) => "holds",
            Some(false) => "FAILS",
            None => "undecided",
        };
        writeln!(
            out,
            "  {:<18} {:<9} {}: {}",
            p.name, verdict, p.requirement, p.measured
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
