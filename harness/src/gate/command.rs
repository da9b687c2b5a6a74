//! `harness gate` as a command: two files, or the working tree against a revision chosen by
//! [`super::base::choose`]. Every way it cannot judge, a bad revision and a base that does not
//! build included, exits 2 with a message saying what to do; never a pass.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sut_kit::manifest;

use super::against::{self, CpuMode, Measure, Outcome, Sides, undecided_primaries};
use super::base::{self, Choice};
use super::decide::Decision;
use super::prepare::{self, PreparedTree, Side};
use super::sequential;
use crate::prereq;
use crate::run_dir::{LATEST, RunDir};

pub use super::summary::write_summary;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::against::{Sequence, Stop};
    use crate::gate::decide::Judgement;
    use crate::gate::metrics::Metric;

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

    #[test]
    fn a_secondary_decides_the_exit_code_when_confirmed_and_not_when_released_unconfirmed() {
        let first = vec![
            judged("unix", Metric::ChunkOverheadP50, Decision::Pass),
            judged("unix", Metric::ChunkOverheadP99, Decision::Regression),
        ];
        let with = |p99: Decision, stopped: Stop| {
            let mut o = outcome(first.clone(), CpuMode::Report);
            o.control = None;
            let mut second = o.first.clone();
            second.rounds = 16;
            second.stopped = stopped;
            second.judgements = vec![Judgement {
                change: Some(0.4),
                ci95: Some([-2.0, 3.0]),
                ..judged("unix", Metric::ChunkOverheadP99, p99)
            }];
            o.judgements = sequential::confirm(&o.first.judgements, &second.judgements);
            o.confirmation = Some(second);
            o
        };
        let confirmed = with(Decision::Regression, Stop::Judged);
        assert_eq!(exit_code(&confirmed), 1);
        let released = with(
            Decision::CouldNotJudge("wide".into()),
            Stop::SecondaryRounds,
        );
        assert_eq!(exit_code(&released), 0);
        let mut text = Vec::new();
        write_summary(&mut text, &released).unwrap();
        let text = String::from_utf8(text).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("could not judge unix chunk overhead p99 in 16 rounds"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains("it would need about"), "{line}");
        assert!(line.contains("a-secondary-metrics-confirmation"), "{line}");
        assert!(
            text.contains("stopped: every primary metric judged"),
            "{text}"
        );
    }
}
