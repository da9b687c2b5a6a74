//! `harness gate` as a command: two files, or the working tree against a revision chosen by
//! [`super::base::choose`]. Every way it cannot judge, a bad revision and a base that does not
//! build included, exits 2 with a message saying what to do; never a pass.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sut_kit::manifest;

use super::against::{self, CpuMode, Measure, Outcome, Sequence, Sides, Stop, undecided_primaries};
use super::base::{self, Choice};
use super::decide::Decision;
use super::metrics::Metric;
use super::prepare::{self, PreparedTree, Side};
use super::sequential;
use crate::prereq;
use crate::run_dir::{LATEST, RunDir};

/// What the command was asked (`harness gate --help` describes each).
#[derive(Debug, Clone)]
pub struct Request {
    pub baseline: PathBuf,
    pub current: PathBuf,
    pub against: Option<String>,
    pub backends: Vec<String>,
    pub inject_delay_us: Vec<(String, u64)>,
    /// `NAME=N`: the head side's NAME burns N µs of CPU per text chunk.
    pub inject_cpu_us: Vec<(String, u64)>,
    /// Whether the rounds measure the CPU at load, and whether its verdict counts.
    pub cpu: CpuMode,
    /// With `against`: from the command's start, the base's build included.
    pub time_limit: Duration,
    /// The shared context: the root, the ready timeout and the seed; both sides run release
    /// builds, whatever its profile says.
    pub ctx: crate::stages::Context,
}

/// Runs the command; an error is printed by `main` and exits 2.
pub async fn run(args: &Request) -> Result<ExitCode> {
    let started = Instant::now();
    let root = args.ctx.root.as_path();
    let Some(rev) = &args.against else {
        return Ok(files(root, args));
    };
    let all = manifest::discover(&root.join("backends"))?;
    let choice = match base::choose(root, rev, &all, &args.backends) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("harness gate: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (commit, judged, control) = match choice {
        Choice::Files(why) => {
            eprintln!(
                "gate: {why}; judging {} against {} instead (docs/gate.md#which-revision)",
                args.current.display(),
                args.baseline.display()
            );
            return Ok(files(root, args));
        }
        Choice::Unchanged { commit } => {
            eprintln!(
                "gate: nothing the backends run differs between {} and the working tree \
                 (docs/gate.md#which-revision): nothing to judge",
                base::short(&commit)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Choice::Against {
            commit,
            why,
            judged,
            control,
        } => {
            eprintln!(
                "gate: {why}; judging {} against it{}",
                judged.join(", "),
                control
                    .as_ref()
                    .map_or(String::new(), |c| format!(", with {c} as the control"))
            );
            (commit, judged, control)
        }
    };
    let known: Vec<String> = all.iter().map(|b| b.name().to_owned()).collect();
    if let Some(unknown) = judged.iter().find(|n| !known.contains(n)) {
        eprintln!(
            "harness gate: `{unknown}` is not a backend of the working tree (it has {}); pass \
             --backends with those",
            known.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let run = match RunDir::open(&root.join("reports"), LATEST) {
        Ok(run) => run,
        Err(_) => RunDir::create(&root.join("reports"), root, "release")?,
    };
    let log_dir = run.logs("gate");
    // Both sides are checked out in fresh worktrees of the same shape and built there by the
    // same recipe, so that they differ in nothing but the revision
    // (docs/gate.md#two-trees-alike).
    let measured: Vec<String> = judged.iter().chain(&control).cloned().collect();
    let build_started = Instant::now();
    let prepared = match prepare::snapshot(root) {
        Ok(head) => {
            let trees = Trees {
                content: &head,
                head: &head,
                base: &commit,
            };
            prepare_sides(root, trees, &measured, &judged, &log_dir).await
        }
        Err(e) => Err(e.context("cannot take the working tree's content")),
    };
    let (head, base) = match prepared {
        Ok(sides) => sides,
        Err(e) => {
            eprintln!("harness gate: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    eprintln!(
        "gate: built both sides ({} and the base's {}) in {:.0} s",
        measured.join(", "),
        judged.join(", "),
        build_started.elapsed().as_secs_f64()
    );
    prereq::prepare(root)?;
    let deadline = started + args.time_limit;
    if Instant::now() >= deadline {
        eprintln!(
            "harness gate: building the two sides took the whole --time-limit-s ({} s): nothing \
             was measured; rerun or raise the limit",
            args.time_limit.as_secs(),
        );
        return Ok(ExitCode::from(2));
    }
    let mut ctx = args.ctx.clone();
    ctx.profile = "release".into();
    let opts = Measure {
        ctx,
        judged,
        control,
        inject_delay_us: args.inject_delay_us.clone(),
        inject_cpu_us: args.inject_cpu_us.clone(),
        cpu: args.cpu,
        deadline,
    };
    let sides = Sides {
        base: &base,
        head: &head,
    };
    let outcome = against::measure(&opts, sides, &log_dir)
        .await
        .context("measuring base and head")?;
    drop((head, base));
    let mut out = std::io::stdout().lock();
    super::write_report_at(
        &mut out,
        &outcome.judgements,
        &sequential::confidence_label(),
    )?;
    write_summary(&mut out, &outcome)?;
    writeln!(
        out,
        "gate: {:.0} s in all (logs: {})",
        started.elapsed().as_secs_f64(),
        run.relative(&log_dir)
    )?;
    Ok(ExitCode::from(exit_code(&outcome)))
}

/// The commits the two trees check out, and the working tree's content as a commit
/// ([`prepare::snapshot`]), which decides what each tree's build can reuse.
#[derive(Debug, Clone, Copy)]
pub struct Trees<'a> {
    pub content: &'a str,
    pub head: &'a str,
    pub base: &'a str,
}

/// The head tree (with `measured` built) and the base tree (with `judged` built), each a fresh
/// worktree built by its manifests' steps (docs/gate.md#two-trees-alike). The head is built
/// first: its build is the working tree's, already done by `compare`, and the base's cargo
/// output is seeded from it (docs/gate.md#what-the-builds-cost).
pub async fn prepare_sides(
    root: &Path,
    trees: Trees<'_>,
    measured: &[String],
    judged: &[String],
    log_dir: &Path,
) -> Result<(PreparedTree, PreparedTree)> {
    let timed = Instant::now();
    let head = PreparedTree::build(
        root,
        trees.head,
        trees.content,
        Side::Head,
        measured,
        log_dir,
    )
    .await?;
    eprintln!(
        "gate: the head tree built in {:.0} s",
        timed.elapsed().as_secs_f64()
    );
    let timed = Instant::now();
    let base =
        PreparedTree::build(root, trees.base, trees.content, Side::Base, judged, log_dir).await?;
    eprintln!(
        "gate: the base tree built in {:.0} s",
        timed.elapsed().as_secs_f64()
    );
    Ok((head, base))
}

/// Two files: the baseline and the current run.
fn files(root: &Path, args: &Request) -> ExitCode {
    let at = |p: &Path| {
        if p.is_absolute() {
            p.to_owned()
        } else {
            root.join(p)
        }
    };
    match super::judge_files(&at(&args.baseline), &at(&args.current)) {
        Ok(judgements) => {
            let mut out = std::io::stdout().lock();
            if super::write_report(&mut out, &judgements).is_err() {
                return ExitCode::from(2);
            }
            super::exit_code(&judgements)
        }
        Err(e) => {
            eprintln!("harness gate: {e}");
            ExitCode::from(2)
        }
    }
}

/// The exit code of an `--against` outcome: 1 when a judged backend regressed on any metric;
/// 2 when the control regressed (the machine moved more than the design allows: nothing can
/// be concluded) or a primary metric could not be judged; else 0.
pub fn exit_code(outcome: &Outcome) -> u8 {
    if outcome.control_moved() {
        2
    } else if outcome
        .judgements
        .iter()
        .any(|j| j.decision == Decision::Regression && outcome.cpu.counts(j.metric))
    {
        1
    } else if undecided_primaries(&outcome.judgements) > 0 {
        2
    } else {
        0
    }
}

/// The lines printed under the verdict table: the design, each sequence and why it stopped, the
/// control, and for each primary metric not judged, how many rounds it would need.
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
    for j in outcome
        .judgements
        .iter()
        .filter(|j| j.metric.is_primary() && matches!(j.decision, Decision::CouldNotJudge(_)))
    {
        // The rounds behind the figure: the confirmation's when it measured this metric.
        let rounds = match &outcome.confirmation {
            Some(s)
                if outcome.first.judgements.iter().any(|f| {
                    f.backend == j.backend
                        && f.metric == j.metric
                        && f.decision == Decision::Regression
                }) =>
            {
                s.rounds
            }
            _ => outcome.first.rounds,
        };
        let passed_again = j
            .ci95
            .is_some_and(|[_, hi]| hi < super::decide::threshold(j.metric));
        if passed_again {
            writeln!(
                out,
                "could not judge {} {}: the two sequences disagree (the first found a \
                 regression, the second a pass); rerun",
                j.backend,
                j.metric.name()
            )?;
            continue;
        }
        match sequential::rounds_needed(j, rounds) {
            Some(n) => writeln!(
                out,
                "could not judge {} {} in {rounds} rounds: it would need about {n} rounds \
                 (this design measures at most {} a sequence; raise --time-limit-s if that is \
                 fewer)",
                j.backend,
                j.metric.name(),
                sequential::max_rounds()
            )?,
            None => writeln!(
                out,
                "could not judge {} {} in {rounds} rounds: its estimate sits on the threshold, so \
                 no number of rounds would settle it",
                j.backend,
                j.metric.name(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::decide::Judgement;

    fn judged(backend: &str, metric: Metric, decision: Decision) -> Judgement {
        Judgement {
            backend: backend.into(),
            metric,
            baseline: Some(1.0),
            current: Some(2.0),
            change: Some(1.0),
            ci95: Some([0.5, 1.5]),
            decision,
        }
    }

    fn outcome(judgements: Vec<Judgement>, cpu: CpuMode) -> Outcome {
        let first = Sequence {
            judgements: judgements.clone(),
            rounds: 10,
            looks: 1,
            stopped: Stop::Judged,
            times: Default::default(),
            spreads: Vec::new(),
            sign_test: Vec::new(),
            differences: Vec::new(),
            direct_p50_us: None,
        };
        Outcome {
            judgements,
            control: Some("rust-only".into()),
            first,
            confirmation: None,
            seconds: 1.0,
            cpu,
        }
    }

    #[test]
    fn a_cpu_regression_decides_the_exit_code_only_when_judged() {
        let verdicts = vec![
            judged("unix", Metric::ChunkOverheadP50, Decision::Pass),
            judged("unix", Metric::CpuPerChunk, Decision::Regression),
            judged("rust-only", Metric::ChunkOverheadP50, Decision::Pass),
        ];
        assert_eq!(exit_code(&outcome(verdicts.clone(), CpuMode::Judge)), 1);
        assert_eq!(exit_code(&outcome(verdicts, CpuMode::Report)), 0);
        // The control's CPU reading a regression says the machine moved only when it counts.
        let control = vec![
            judged("unix", Metric::ChunkOverheadP50, Decision::Pass),
            judged("rust-only", Metric::ChunkOverheadP50, Decision::Pass),
            judged("rust-only", Metric::CapacityPerCore, Decision::Regression),
        ];
        assert!(outcome(control.clone(), CpuMode::Judge).control_moved());
        assert_eq!(exit_code(&outcome(control.clone(), CpuMode::Judge)), 2);
        assert!(!outcome(control.clone(), CpuMode::Report).control_moved());
        assert_eq!(exit_code(&outcome(control, CpuMode::Report)), 0);
    }
}
