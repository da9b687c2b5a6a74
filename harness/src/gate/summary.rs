//! What `gate --against` prints under its verdict table (docs/gate.md#the-sequential-test): the
//! design, each sequence and why it stopped, where its rounds' time went, the diagnostics beside
//! the verdict, the control, and for what it could not judge, about how many rounds it would
//! need.

use super::against::{CpuMode, Outcome, Sequence, Stop};
use super::decide::{Decision, Judgement};
use super::metrics::Metric;
use super::sequential;

/// The lines printed under the verdict table: the design, each sequence and why it stopped, the
/// control, and for each metric not judged that decides or was being confirmed, how many rounds
/// it would need.
pub fn write_summary(out: &mut impl std::io::Write, outcome: &Outcome) -> std::io::Result<()> {
    writeln!(
        out,
        "gate --against: {:.0} s; each look's interval at {:.2}% confidence (Wilcoxon signed-rank \
         on paired rounds, Hodges-Lehmann estimate; at most {} looks a sequence, error rates {:.1}% each way over all looks); a \
         regression stands only when a second sequence of fresh rounds confirms it",
        outcome.seconds,
        (1.0 - sequential::per_look_alpha()) * 100.0,
        sequential::MAX_LOOKS,
        sequential::ALPHA / 2.0 * 100.0
    )?;
    match outcome.cpu {
        CpuMode::Off => {}
        mode => writeln!(
            out,
            "CPU at load: each round drives every pair (head and base) together at {:.0} \
             conversations/s of {} chunks for {:.1} s, then reads each side's CPU over {:.1} s, \
             until its metrics are judged (thresholds {} per chunk, {} capacity per core); {}",
            crate::stages::bench::cpu_load::CHUNKS_PER_S
                / f64::from(crate::stages::bench::cpu_load::SHORT_CHUNKS),
            crate::stages::bench::cpu_load::SHORT_CHUNKS,
            super::cpu::warmup().as_secs_f64(),
            super::cpu::window().as_secs_f64(),
            Metric::CpuPerChunk.show_rounded(super::decide::CPU_THRESHOLD_US),
            Metric::CapacityPerCore.show_rounded(super::decide::CAPACITY_THRESHOLD),
            if mode == CpuMode::Judge {
                "a confirmed regression there is a regression (exit 1)"
            } else {
                "reported only: the exit code is the latency's (--cpu report)"
            }
        )?,
    }
    write_sequence(out, "first sequence", &outcome.first)?;
    if let Some(second) = &outcome.confirmation {
        write_sequence(out, "confirmation", second)?;
        let ids = |s: &Sequence| -> Vec<String> {
            s.judgements
                .iter()
                .filter(|j| j.decision == Decision::Regression)
                .map(|j| format!("{} {}", j.backend, j.metric.name()))
                .collect()
        };
        writeln!(
            out,
            "confirmation: the first sequence found {}; the second found {}",
            ids(&outcome.first).join(", "),
            match ids(second) {
                v if v.is_empty() => "no regression".to_owned(),
                v => v.join(", "),
            }
        )?;
    }
    if let Some(c) = &outcome.control {
        writeln!(
            out,
            "control: {c} (unchanged, the head tree's build on both sides){}",
            if outcome.control_moved() {
                ": it read as a REGRESSION, so the machine moved more than the design allows; \
                 nothing is concluded (exit 2): rerun on a quieter machine"
            } else {
                ""
            }
        )?;
    }
    write_unjudged(out, outcome)
}

/// For each primary metric not judged, and each secondary one whose regression was not
/// confirmed, why, and about how many rounds it would need.
fn write_unjudged(out: &mut impl std::io::Write, outcome: &Outcome) -> std::io::Result<()> {
    let flagged = |j: &Judgement| {
        outcome.first.judgements.iter().any(|f| {
            f.backend == j.backend && f.metric == j.metric && f.decision == Decision::Regression
        })
    };
    for j in outcome.judgements.iter().filter(|j| {
        matches!(j.decision, Decision::CouldNotJudge(_)) && (j.metric.is_primary() || flagged(j))
    }) {
        // The rounds behind the figure: the confirmation's when it measured this metric.
        let (rounds, released) = match &outcome.confirmation {
            Some(s) if flagged(j) => (s.rounds, s.stopped == Stop::SecondaryRounds),
            _ => (outcome.first.rounds, false),
        };
        let what = format!("{} {}", j.backend, j.metric.name());
        let passed_again = j
            .ci95
            .is_some_and(|[_, hi]| hi < super::decide::threshold(j.metric));
        if passed_again {
            writeln!(
                out,
                "could not judge {what}: the two sequences disagree (the first found a \
                 regression, the second a pass); rerun"
            )?;
            continue;
        }
        let why = if released && !j.metric.is_primary() {
            format!(
                "a secondary metric's confirmation stops once every primary metric is judged \
                 and it has had the first sequence's {} rounds \
                 (docs/gate.md#a-secondary-metrics-confirmation)",
                outcome.first.rounds
            )
        } else {
            format!(
                "this design measures at most {} a sequence; raise --time-limit-s if that is \
                 fewer",
                sequential::max_rounds()
            )
        };
        let secondary = if j.metric.is_primary() {
            ""
        } else {
            "; a secondary metric: unjudged, it leaves the exit code alone"
        };
        match sequential::rounds_needed(j, rounds) {
            Some(n) => writeln!(
                out,
                "could not judge {what} in {rounds} rounds: it would need about {n} rounds \
                 ({why}){secondary}"
            )?,
            None => writeln!(
                out,
                "could not judge {what} in {rounds} rounds: its estimate sits on the threshold, \
                 so no number of rounds would settle it{secondary}"
            )?,
        }
    }
    Ok(())
}

fn write_sequence(out: &mut impl std::io::Write, what: &str, s: &Sequence) -> std::io::Result<()> {
    writeln!(
        out,
        "{what}: {} rounds in {} look(s); stopped: {}",
        s.rounds,
        s.looks,
        match s.stopped {
            Stop::Judged => "every metric it waited for judged",
            Stop::SecondaryRounds =>
                "every primary metric judged, and the secondary ones still open had as many \
                 rounds as the first sequence (docs/gate.md#a-secondary-metrics-confirmation)",
            Stop::LastLook => "the design's last look",
            Stop::Budget => "the next look would not fit in --time-limit-s",
        }
    )?;
    let t = &s.times;
    let total = t.total().as_secs_f64().max(f64::EPSILON);
    let part = |d: std::time::Duration| {
        format!(
            "{:.0} s ({:.0}%)",
            d.as_secs_f64(),
            d.as_secs_f64() / total * 100.0
        )
    };
    writeln!(
        out,
        "{what}: its rounds took {:.0} s: starting instances {}, warm-up {}, measured \
         passes {}, CPU at load {}, stopping {}",
        total,
        part(t.start),
        part(t.warm),
        part(t.measured),
        part(t.cpu),
        part(t.stop)
    )?;
    if let Some(p50) = s.direct_p50_us {
        writeln!(
            out,
            "{what}: the direct path's chunk transit p50 (the unit of the latency figures): \
             {p50:.0} µs, the median over the rounds"
        )?;
    }
    for (name, median, ci) in &s.sign_test {
        let pct = |v: f64| format!("{:+.1}%", v * 100.0);
        writeln!(
            out,
            "{what}: {name} chunk overhead p50 by the sign test (a diagnostic; the verdict is \
             the signed-rank interval's): median {}, interval {}",
            median.map_or_else(|| "-".to_owned(), pct),
            ci.map_or_else(
                || "none yet".to_owned(),
                |[lo, hi]| format!("[{}, {}]", pct(lo), pct(hi))
            )
        )?;
    }
    for (name, diffs) in &s.differences {
        let shown: Vec<String> = diffs.iter().map(|d| format!("{:+.0}", d * 100.0)).collect();
        writeln!(
            out,
            "{what}: {name} chunk overhead p50, head − base by round (%): {}",
            shown.join(" ")
        )?;
    }
    for (name, statistic, sp) in &s.spreads {
        writeln!(
            out,
            "{what}: {name} chunk overhead, {}, spread of the paired differences: {:.3} \
             between rounds, {:.3} from sampling within a round ({:.0}% of the rounds' variance)",
            statistic.label(),
            sp.between_rounds,
            sp.within_round,
            sp.within_share() * 100.0
        )?;
    }
    Ok(())
}
