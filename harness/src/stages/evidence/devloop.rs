//! Development speed, timed: the edit-build-test loop of each architecture. The file a
//! developer edits to change how a chat is answered (the manifest's `chat_path`) is marked
//! edited, the manifest's build steps that an edit re-runs run in order, a fresh instance starts
//! and plays one conformance case: seconds from the edit to the verdict
//! (docs/report.md#development-speed).
//!
//! The edit is a new modification time, not a new line: cargo and the bundler decide what to
//! rebuild by it, so they do the same work as for a one-line change, and a run stopped half way
//! leaves no edit in the sources. A rebuild from unchanged sources makes the same bytes, which is
//! what the run's verification fingerprints (`verify::artifacts_fingerprint`), so the stages
//! after this one still find the build conformance verified.

use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use contract::results::{DevStep, DevelopmentSpeed, Outcome};

use conformance::cases::{self, Case};
use conformance::suite::{self, SuiteEnv};
use sut_kit::manifest::Backend;
use sut_kit::process;

/// The case played: the plainest answer, so the loop times the loop and not a scenario.
pub const CASE: &str = "text";
/// The profile the manifests' build steps make; another profile's run has nothing to rebuild.
pub const PROFILE: &str = "release";

/// Whether a build step is re-run after an edit: installs are not (an edit changes no
/// dependency), every other step is, as the manifest lists it.
pub fn rerun_after_edit(step: &str) -> bool {
    let words: Vec<&str> = step.split_whitespace().collect();
    !matches!(words.as_slice(), ["npm", "ci", ..] | ["npm", "install", ..])
}

/// Times one loop of `backend`.
pub async fn measure(
    backend: &Backend,
    env: &SuiteEnv<'_>,
    log_dir: &Path,
) -> Result<DevelopmentSpeed> {
    let root = env.start.root.clone();
    let Some(chat_path) = backend.manifest.chat_path.clone() else {
        bail!("its backend.toml names no chat_path");
    };
    if env.start.profile != PROFILE {
        bail!(
            "the manifests build {PROFILE} and this run starts {} builds",
            env.start.profile
        );
    }
    let case = cases::all_cases(&[CASE.to_owned()])
        .into_iter()
        .find(|c| c.name == CASE)
        .context("the conformance catalogue has no text case")?;
    run_loop(backend, env, log_dir, &root, &chat_path, &case).await
}

async fn run_loop(
    backend: &Backend,
    env: &SuiteEnv<'_>,
    log_dir: &Path,
    root: &Path,
    chat_path: &str,
    case: &Case,
) -> Result<DevelopmentSpeed> {
    std::fs::create_dir_all(log_dir)?;
    let edited = root.join(chat_path);
    let started = Instant::now();
    std::fs::File::options()
        .append(true)
        .open(&edited)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .with_context(|| format!("marking {chat_path} edited"))?;
    let mut speed = DevelopmentSpeed {
        edited: chat_path.to_owned(),
        case: CASE.to_owned(),
        ..DevelopmentSpeed::default()
    };
    for (i, step) in backend.manifest.build.iter().enumerate() {
        if !rerun_after_edit(step) {
            speed.skipped_steps.push(format!(
                "{step} (an install: an edit changes no dependency)"
            ));
            continue;
        }
        let log = log_dir.join(format!("step{}.log", i + 1));
        let step_started = Instant::now();
        let status = process::run_shell(step, root, &log).await?;
        speed.steps.push(DevStep {
            command: step.clone(),
            wall_s: step_started.elapsed().as_secs_f64(),
            ok: status.success(),
        });
        if !status.success() {
            speed.failure = Some(format!(
                "`{step}` failed ({status}); log: {}",
                log.display()
            ));
            speed.loop_s = started.elapsed().as_secs_f64();
            return Ok(speed);
        }
    }
    let instance_started = Instant::now();
    let results = suite::run_backend(backend, std::slice::from_ref(case), env).await;
    speed.start_and_case_s = instance_started.elapsed().as_secs_f64();
    speed.loop_s = started.elapsed().as_secs_f64();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Ok)
        .map(|r| {
            format!(
                "{}: {}",
                r.scenario,
                r.reason.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    speed.passed = failed.is_empty();
    if !failed.is_empty() {
        speed.failure = Some(failed.join("; "));
    }
    Ok(speed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_are_not_rerun_and_builds_are() {
        assert!(!rerun_after_edit(
            "npm ci --prefix backends/sidecar --no-audit"
        ));
        assert!(!rerun_after_edit("npm install --prefix web"));
        assert!(rerun_after_edit("npm run build --prefix backends/sidecar"));
        assert!(rerun_after_edit("cargo build --release -p backend-unix"));
        assert!(rerun_after_edit(
            "backends/napi/scripts/build-addon release"
        ));
    }
}
