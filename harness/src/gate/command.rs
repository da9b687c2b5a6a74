//! `harness gate` as a command: two files, or the working tree against a revision chosen by
//! [`super::base::choose`]. Every way it cannot judge, a bad revision and a base that does not
//! build included, exits 2 with a message saying what to do; never a pass.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use conformance::manifest::{self, Backend};

use super::against::{self, Measure, Outcome, Stop, undecided_primaries};
use super::base::{self, Choice};
use super::decide::{Decision, Judgement};
use super::prepare::{self, PreparedBase};
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
    /// With `against`: from the command's start, the base's build included.
    pub time_limit: Duration,
    pub seed: u64,
    pub ready_timeout: Duration,
}

/// Runs the command; an error is printed by `main` and exits 2.
pub async fn run(root: &Path, args: &Request) -> Result<ExitCode> {
    let started = Instant::now();
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
    let judged: Vec<Backend> = manifest::select(all.clone(), &judged)?;
    let control: Option<Backend> = control
        .map(|c| manifest::select(all, &[c]))
        .transpose()?
        .and_then(|mut v| v.pop());
    prereq::prepare(root)?;
    let run = match RunDir::open(&root.join("reports"), LATEST) {
        Ok(run) => run,
        Err(_) => RunDir::create(&root.join("reports"), root, "release")?,
    };
    let log_dir = run.logs("gate");
    // Both sides are built by the same recipe, each manifest step as its own command
    // (docs/gate.md#one-build-recipe); where the working tree is already built so, this costs
    // the steps' no-op checks.
    let measured: Vec<Backend> = judged.iter().chain(&control).cloned().collect();
    if let Err(e) = prepare::build_steps(root, &measured, "head", &log_dir).await {
        eprintln!("harness gate: the working tree does not build: {e:#}");
        return Ok(ExitCode::from(2));
    }
    let names: Vec<String> = judged.iter().map(|b| b.name().to_owned()).collect();
    let build_started = Instant::now();
    let prepared = PreparedBase::build(root, &commit, &names, &log_dir).await?;
    eprintln!(
        "gate: built the base's {} in {:.0} s",
        names.join(", "),
        build_started.elapsed().as_secs_f64()
    );
    let deadline = started + args.time_limit;
    if Instant::now() >= deadline {
        eprintln!(
            "harness gate: building the base took the whole --time-limit-s ({} s): nothing was \
             measured; rerun (the base's build is kept in {}) or raise the limit",
            args.time_limit.as_secs(),
            against::BASE_TARGET_DIR
        );
        return Ok(ExitCode::from(2));
    }
    let opts = Measure {
        root: root.to_owned(),
        judged,
        control,
        inject_delay_us: args.inject_delay_us.clone(),
        deadline,
        ready_timeout: args.ready_timeout,
        seed: args.seed,
    };
    let outcome = against::measure(&opts, &prepared, "release", &log_dir)
        .await
        .context("measuring base and head")?;
    drop(prepared);
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
    let control = outcome.control.as_deref();
    let regressed = |j: &&Judgement| j.decision == Decision::Regression;
    if outcome
        .judgements
        .iter()
        .filter(regressed)
        .any(|j| Some(j.backend.as_str()) == control)
    {
        2
    } else if outcome.judgements.iter().any(|j| regressed(&j)) {
        1
    } else if undecided_primaries(&outcome.judgements) > 0 {
        2
    } else {
        0
    }
}

/// The lines printed under the verdict table: the design, why the rounds stopped, the control,
/// and for each primary metric not judged, how many rounds it would need.
pub fn write_summary(out: &mut impl std::io::Write, outcome: &Outcome) -> std::io::Result<()> {
    writeln!(
        out,
        "gate --against: {} rounds in {} look(s), {:.0} s; each look's interval at {:.2}% \
         confidence (sign test on paired rounds; at most {} looks, error rates {:.1}% each way \
         over all looks)",
        outcome.rounds,
        outcome.looks,
        outcome.seconds,
        (1.0 - sequential::per_look_alpha()) * 100.0,
        sequential::MAX_LOOKS,
        sequential::ALPHA / 2.0 * 100.0
    )?;
    match outcome.stopped {
        Stop::Judged => writeln!(out, "stopped: every primary metric judged")?,
        Stop::LastLook => writeln!(out, "stopped: the design's last look")?,
        Stop::Budget => writeln!(
            out,
            "stopped: the next look would not fit in --time-limit-s"
        )?,
    }
    if let Some(c) = &outcome.control {
        let moved = outcome
            .judgements
            .iter()
            .any(|j| &j.backend == c && j.decision == Decision::Regression);
        writeln!(
            out,
            "control: {c} (unchanged, the working tree's build on both sides){}",
            if moved {
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
        match sequential::rounds_needed(j, outcome.rounds) {
            Some(n) => writeln!(
                out,
                "could not judge {} {} in {} rounds: it would need about {n} rounds \
                 (this design measures at most {}; raise --time-limit-s if that is fewer)",
                j.backend,
                j.metric.name(),
                outcome.rounds,
                sequential::max_rounds()
            )?,
            None => writeln!(
                out,
                "could not judge {} {} in {} rounds: its estimate sits on the threshold, so no \
                 number of rounds would settle it",
                j.backend,
                j.metric.name(),
                outcome.rounds
            )?,
        }
    }
    Ok(())
}
