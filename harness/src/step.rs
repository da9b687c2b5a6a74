//! One build step, run the one way: through the shell from a folder, its output into a log of its
//! own, timed; a failed step is an error that names the command, its exit status, its time and
//! its log, and quotes the log's last lines. `harness build`, the build study, the gate's two
//! trees and the mock provider's build all run their steps here, so a failure reads the same
//! whichever of them met it.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Instant;

use sut_kit::process;
use thiserror::Error;

/// How much of a failed step's log an error quotes: enough for a compiler's error and its
/// context, short enough to read in a terminal.
pub const LOG_TAIL_BYTES: usize = 3000;

/// A step that ran, whatever its status.
#[derive(Debug, Clone, Copy)]
pub struct StepRun {
    pub status: ExitStatus,
    pub wall_s: f64,
}

#[derive(Debug, Error)]
pub enum StepError {
    #[error("could not run `{command}` (log {log}): {source}")]
    Spawn {
        command: String,
        log: PathBuf,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}) after {wall_s:.1}s; log {log}:\n{tail}")]
    Failed {
        command: String,
        status: String,
        wall_s: f64,
        log: PathBuf,
        tail: String,
    },
}

/// Runs `command` with `sh -c` in `cwd`, its output into `log` (its folder created), and times
/// it. A step that ran and failed is not an error here: the caller may record it first; an
/// error is a step that could not be started.
pub async fn run(command: &str, cwd: &Path, log: &Path) -> std::io::Result<StepRun> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let started = Instant::now();
    let status = process::run_shell(command, cwd, log).await?;
    Ok(StepRun {
        status,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// [`failed`] unless the step succeeded.
pub fn check(command: &str, log: &Path, ran: StepRun) -> Result<StepRun, StepError> {
    if ran.status.success() {
        Ok(ran)
    } else {
        Err(failed(command, log, ran))
    }
}

/// The error of a step that ran and failed, quoting its log's tail.
pub fn failed(command: &str, log: &Path, ran: StepRun) -> StepError {
    StepError::Failed {
        command: command.to_owned(),
        status: ran.status.to_string(),
        wall_s: ran.wall_s,
        log: log.to_owned(),
        tail: process::file_tail(log, LOG_TAIL_BYTES),
    }
}

/// [`run`], and a step that failed is an error.
pub async fn run_ok(command: &str, cwd: &Path, log: &Path) -> Result<StepRun, StepError> {
    let ran = run(command, cwd, log)
        .await
        .map_err(|source| StepError::Spawn {
            command: command.to_owned(),
            log: log.to_owned(),
            source,
        })?;
    check(command, log, ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_step_logs_its_output_and_a_failed_one_quotes_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/one.log");
        let ran = run_ok("echo built", dir.path(), &log).await.unwrap();
        assert!(ran.status.success() && ran.wall_s >= 0.0);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "built\n");
        let err = run_ok("echo broken >&2; exit 4", dir.path(), &log)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`echo broken >&2; exit 4` failed"), "{err}");
        assert!(err.contains("broken"), "{err}");
    }
}
