//! `harness gate` as a command: two files, or the working tree against a revision chosen by
//! [`super::base::choose`]. Every way it cannot judge, a bad revision and a base that does not
//! build included, exits 2 with a message saying what to do; never a pass.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use conformance::manifest::{self, Backend};

use super::against::{self, Measure, PreparedBase};
use super::base::{self, Choice};
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
    // Manifests build release binaries, so both builds are measured in release.
    let missing: Vec<String> = judged
        .iter()
        .chain(&control)
        .flat_map(|b| b.missing_artifacts(root, "release"))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the working tree is not built in release ({}): run `harness build` first",
            missing.join(", ")
        );
    }
    let run = match RunDir::open(&root.join("reports"), LATEST) {
        Ok(run) => run,
        Err(_) => RunDir::create(&root.join("reports"), root, "release")?,
    };
    let log_dir = run.logs("gate");
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
    against::write_summary(&mut out, &outcome)?;
    writeln!(
        out,
        "gate: {:.0} s in all (logs: {})",
        started.elapsed().as_secs_f64(),
        run.relative(&log_dir)
    )?;
    Ok(ExitCode::from(against::exit_code(&outcome)))
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
