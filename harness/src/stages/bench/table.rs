//! The bench stage's terminal table: one row per target, the figures a reader compares first,
//! every overhead with its interval, then the floor, the self-check and the machine's noise.

use std::io::{self, Write};

use contract::results::{LatencyStats, Results};

fn us(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn with_ci(v: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (v, ci) {
        (Some(v), Some([lo, hi])) => format!("{v:+.0} [{lo:+.0}, {hi:+.0}]"),
        (Some(v), None) => format!("{v:+.0}"),
        _ => "-".to_owned(),
    }
}

fn hop(s: &Option<LatencyStats>) -> Option<&LatencyStats> {
    s.as_ref()
}

/// Writes the table for `targets` (in the order given).
pub fn write(out: &mut impl Write, results: &Results, targets: &[String]) -> io::Result<()> {
    let header = [
        "target",
        "chunk p50/p99 µs",
        "chunk overhead p50 µs [95% CI] vs direct",
        "IPC overhead p50 µs [95% CI] (vs)",
        "x floor",
        "TTFT p50 ms",
        "tool turn p50 µs",
        "sat. conv/s",
        "CPU ms/1k chunks",
        "RSS idle/peak MiB",
    ];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    for name in targets {
        let Some(b) = results.backends.get(name) else {
            continue;
        };
        let transit = hop(&b.latency.chunk_transit);
        let mib =
            |v: Option<u64>| v.map_or("-".to_owned(), |b| format!("{:.0}", b as f64 / 1_048_576.0));
        rows.push(vec![
            name.clone(),
            transit.map_or("-".to_owned(), |t| {
                format!("{:.0}/{:.0}", t.p50_us, t.p99_us)
            }),
            with_ci(
                transit.and_then(|t| t.overhead_p50_us),
                transit.and_then(|t| t.overhead_p50_ci95_us),
            ),
            transit
                .and_then(|t| t.ipc_reference.as_ref())
                .map_or("-".to_owned(), |r| {
                    format!(
                        "{} ({r})",
                        with_ci(
                            transit.and_then(|t| t.ipc_overhead_p50_us),
                            transit.and_then(|t| t.ipc_overhead_p50_ci95_us)
                        )
                    )
                }),
            transit
                .and_then(|t| t.ipc_floor_multiple)
                .map_or("-".to_owned(), |m| format!("{m:.1}")),
            hop(&b.latency.ttft).map_or("-".to_owned(), |t| format!("{:.1}", t.p50_us / 1_000.0)),
            us(hop(&b.latency.tool_turnaround).map(|t| t.p50_us)),
            b.saturation_rps
                .map_or("-".to_owned(), |r| format!("{r:.0}")),
            b.cpu
                .as_ref()
                .map_or("-".to_owned(), |c| format!("{:.1}", c.ms_per_1000_chunks)),
            b.memory.as_ref().map_or("-".to_owned(), |m| {
                format!("{}/{}", mib(m.rss_idle_bytes), mib(m.rss_peak_bytes))
            }),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    if let Some(c) = &results.calibration {
        let rtt = |r: Option<contract::results::P50P99>| {
            r.map_or("not measured".to_owned(), |r| {
                format!("p50 {:.1} / p99 {:.1} µs", r.p50, r.p99)
            })
        };
        writeln!(
            out,
            "\nfloor: unix-socket round trip {}; loopback TCP round trip {}; napi call {}",
            rtt(c.uds_rtt_us),
            rtt(c.tcp_rtt_us),
            c.napi_call_ns
                .map_or("not measured".to_owned(), |ns| format!("{ns:.1} ns"))
        )?;
    }
    write_at_load(out, results, targets)?;
    if let Some(bench) = &results.bench {
        for check in &bench.self_check {
            writeln!(
                out,
                "self-check {}: injected {:.0} µs, measured {:+.1} µs [{:+.1}, {:+.1}]: {}",
                check.backend,
                check.injected_us,
                check.measured_us,
                check.ci95_us[0],
                check.ci95_us[1],
                if check.within_tolerance {
                    "within tolerance"
                } else {
                    "OUT OF TOLERANCE"
                }
            )?;
        }
        let n = &bench.noise;
        writeln!(
            out,
            "noise: mock lateness {}; direct round-median spread x{}; load average {} -> {}; {} rounds, wall {:.0} s (load part {})",
            n.mock_lateness_us.map_or("-".to_owned(), |l| format!(
                "p50 {:.0} / p99 {:.0} µs",
                l.p50, l.p99
            )),
            n.direct_round_spread
                .map_or("-".to_owned(), |s| format!("{s:.2}")),
            n.load_avg_start
                .map_or("-".to_owned(), |l| format!("{l:.1}")),
            n.load_avg_end.map_or("-".to_owned(), |l| format!("{l:.1}")),
            bench.settings.rounds,
            bench.wall_s,
            bench
                .load_wall_s
                .map_or("not run".to_owned(), |s| format!("{s:.0} s")),
        )?;
    }
    Ok(())
}

/// CPU at load and capacity per target, the generator's ceiling, the confinement and the CPU
/// self-check (docs/bench.md#cpu-at-load).
fn write_at_load(out: &mut impl Write, results: &Results, targets: &[String]) -> io::Result<()> {
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for name in targets {
        let Some(b) = results.backends.get(name) else {
            continue;
        };
        if let Some(c) = &b.cpu_at_load {
            writeln!(
                out,
                "CPU at load {name} ({:?}, {} conv/s): {:.1}{} µs/chunk, {:.3} ms/conversation \
                 ({:.3} beyond its chunks); windows ms/conv [{}], long [{}]; idle {:.2} ms/s; \
                 the client slept {} times per chunk",
                c.method,
                c.rate_rps,
                c.us_per_chunk,
                c.us_per_chunk_se
                    .map_or(String::new(), |se| format!(" (SE {se:.1})")),
                c.ms_per_conversation,
                c.ms_per_conversation_fixed,
                list(&c.window_ms_per_conversation),
                list(&c.long_window_ms_per_conversation),
                c.idle_ms_per_s,
                c.client_sleeps_per_chunk
                    .map_or("-".to_owned(), |v| format!("{v:.2}")),
            )?;
        }
        if let Some(c) = &b.capacity {
            let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
            writeln!(
                out,
                "capacity {name}: {}{}{} conv/s per core observed, {} predicted{}, ratio {}, \
                 limit {}",
                if c.generator_bound { ">= " } else { "" },
                f(c.per_core_rps_observed),
                c.per_core_rps_observed_ci95
                    .map_or(String::new(), |[lo, hi]| format!(" [{lo:.1}, {hi:.1}]")),
                f(c.per_core_rps_predicted),
                c.predicted_at_rps
                    .zip(c.predicted_ms_per_conversation)
                    .map_or(String::new(), |(r, ms)| format!(
                        " (from {ms:.2} ms per conversation at {r:.0}/s)"
                    )),
                c.ratio.map_or("-".to_owned(), |r| format!("{r:.2}")),
                c.limit.map_or("-".to_owned(), |l| format!("{l:?}")),
            )?;
        }
    }
    let Some(bench) = &results.bench else {
        return Ok(());
    };
    if let Some(g) = &bench.generator {
        writeln!(
            out,
            "generator ceiling: {:.1} conv/s ({:.0} chunks/s; highest rate tried {:.0}); the \
             relay's capacity: {}",
            g.ceiling_rps,
            g.ceiling_chunks_per_s,
            g.highest_rate_tried,
            relay_share(g)
        )?;
    }
    if let Some(c) = &bench.confinement {
        writeln!(
            out,
            "confinement: targets on CPUs {:?} at nice {}, client on {:?} at nice {}, session \
             autogroup at nice {}, mock on {:?} at real-time {:?}; {}; CPU read by {:?}",
            c.sut_cpus,
            c.sut_nice,
            c.client_cpus,
            c.client_nice,
            c.session_nice
                .map_or("- (none)".to_owned(), |n| n.to_string()),
            c.mock_cpu,
            c.mock_rt_priority,
            c.pinning,
            c.cpu_method,
        )?;
    }
    for check in &bench.cpu_self_check {
        writeln!(
            out,
            "CPU self-check {}: injected {:.0} µs/chunk, measured {:+.1}{}: {}; capacity ratio \
             observed {} predicted {}",
            check.backend,
            check.injected_us,
            check.measured_us,
            se_note(check.measured_us, check.measured_se_us),
            if check.within_tolerance {
                "within tolerance"
            } else {
                "OUT OF TOLERANCE"
            },
            check
                .capacity_observed_ratio
                .map_or("-".to_owned(), |r| format!("{r:.2}")),
            check
                .capacity_predicted_ratio
                .map_or("-".to_owned(), |r| format!("{r:.2}")),
        )?;
    }
    Ok(())
}

/// A read's standard error and its 95% interval (± `Z_95` SE), or nothing where the run had too
/// few windows for one (docs/bench.md#the-burn-read).
pub fn se_note(value: f64, se: Option<f64>) -> String {
    se.map_or(String::new(), |se| {
        format!(
            " (SE {se:.1}, 95% [{:+.1}, {:+.1}])",
            value - crate::stats::Z_95 * se,
            value + crate::stats::Z_95 * se
        )
    })
}

/// The relay's capacity against the generator's ceiling, as a share of it: a relay that carries
/// 90% of it is within what `relay-near-direct` allows, not "past capacity" because the ceiling
/// itself was more than it carried (docs/bench.md#generator-ceiling).
fn relay_share(g: &contract::results::GeneratorCeiling) -> String {
    match g.relay_chunks_per_s {
        Some(c) if g.ceiling_chunks_per_s > 0.0 => format!(
            "{c:.0} chunks/s, {:.0}% of the ceiling",
            100.0 * c / g.ceiling_chunks_per_s
        ),
        Some(c) => format!("{c:.0} chunks/s"),
        None => "not measured".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::GeneratorCeiling;

    #[test]
    fn the_relay_is_quoted_as_its_share_of_the_ceiling() {
        let mut g = GeneratorCeiling {
            ceiling_rps: 1_000.0,
            ceiling_chunks_per_s: 20_000.0,
            method: String::new(),
            highest_rate_tried: 1_500.0,
            relay_within_capacity: Some(false),
            relay_chunks_per_s: Some(18_000.0),
            one_hop_ceiling_rps: None,
        };
        assert_eq!(relay_share(&g), "18000 chunks/s, 90% of the ceiling");
        g.relay_chunks_per_s = None;
        assert_eq!(relay_share(&g), "not measured");
    }
}
