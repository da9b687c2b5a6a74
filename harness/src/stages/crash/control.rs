//! `crash --target NAME=URL --control CMD`: a command the deployment's owner gives to play a
//! fault on the target's processes (`kill-runtime`, `hang-runtime`), which the harness cannot
//! reach from outside. The contract (docs/distributed.md#a-control-command): `sh -c CMD` with
//! `ARENA_FAULT`, `ARENA_TARGET`, `ARENA_TARGET_URL` and `ARENA_PHASE=inject` in its
//! environment; it performs the fault and exits 0 within [`CONTROL_LIMIT`]. The harness
//! observes the rest from outside. A non-zero exit, a timeout or a command that cannot start
//! makes the fault `not_measured`, with the tail of its stderr.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::results::Fault;
use rustix::process::{Pid, Signal};
use thiserror::Error;
use tokio::io::AsyncReadExt;

/// The contract's limit: a kill or a stop takes milliseconds, and a command that reaches into
/// a container or a cluster (`kubectl exec`, `ssh`) seconds; 30 s leaves room for a slow
/// control plane while the streams it faults (5 s, docs/crash.md) are long over by then.
pub const CONTROL_LIMIT: Duration = Duration::from_secs(30);
/// The bytes of stderr kept for the outcome's note: enough for the last few lines.
const STDERR_TAIL: usize = 400;
/// How long stderr is still read after the command exited: a child it left behind may hold
/// the pipe open, and its output is not worth waiting for.
const READ_AFTER_EXIT: Duration = Duration::from_secs(1);

/// The faults a control command plays: those on the target's running processes. The others
/// that need the target (the fault tools, `stall`) depend on flags it was started with.
pub fn plays(fault: Fault) -> bool {
    matches!(fault, Fault::KillRuntime | Fault::HangRuntime)
}

/// A `--control` command.
#[derive(Debug, Clone)]
pub struct Control {
    pub command: String,
    /// [`CONTROL_LIMIT`]; tests shorten it.
    pub limit: Duration,
}

/// Why the control command did not play its fault.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ControlError {
    #[error("the control command could not start: {0}")]
    Spawn(String),
    #[error(
        "the control command exited with {status} (it must exit 0 once the fault is done); its stderr ended: {stderr:?}"
    )]
    Failed { status: String, stderr: String },
    #[error(
        "the control command ran longer than {limit:?} and was killed (it must exit 0 once the fault is done); its stderr ended: {stderr:?}"
    )]
    TimedOut { limit: Duration, stderr: String },
}

/// Who the fault is for: the values of `ARENA_TARGET` and `ARENA_TARGET_URL`.
#[derive(Debug, Clone, Copy)]
pub struct Aim<'a> {
    pub name: &'a str,
    pub url: &'a str,
}

impl Control {
    pub fn new(command: String) -> Self {
        Self {
            command,
            limit: CONTROL_LIMIT,
        }
    }

    /// Runs the command for `fault` on `aim`; returns how long it took once it exited 0.
    pub async fn inject(&self, fault: Fault, aim: Aim<'_>) -> Result<Duration, ControlError> {
        let started = Instant::now();
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("ARENA_FAULT", fault.name())
            .env("ARENA_TARGET", aim.name)
            .env("ARENA_TARGET_URL", aim.url)
            .env("ARENA_PHASE", "inject")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A group of its own, so a timeout ends whatever the shell started too.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ControlError::Spawn(e.to_string()))?;
        // Read as it comes, so what a command wrote before it was killed is kept too.
        let written = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|mut s| {
            let written = written.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    lock(&written).extend_from_slice(&buf[..n]);
                }
            })
        });
        let waited = tokio::time::timeout(self.limit, child.wait()).await;
        if waited.is_err()
            && let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok())
            && let Some(pid) = Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
        if let Some(r) = reader {
            // Every writer is gone once the group is: the read ends at once, or is given up.
            let _ = tokio::time::timeout(READ_AFTER_EXIT, r).await;
        }
        let stderr = tail(&lock(&written));
        match waited {
            Ok(Ok(status)) if status.success() => Ok(started.elapsed()),
            Ok(status) => Err(ControlError::Failed {
                status: status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                stderr,
            }),
            Err(_) => {
                let _ = child.wait().await;
                Err(ControlError::TimedOut {
                    limit: self.limit,
                    stderr,
                })
            }
        }
    }
}

fn lock(m: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The last [`STDERR_TAIL`] bytes of what the command wrote to stderr.
fn tail(bytes: &[u8]) -> String {
    sut_kit::process::text_tail(&String::from_utf8_lossy(bytes), STDERR_TAIL)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AIM: Aim<'static> = Aim {
        name: "mine",
        url: "http://127.0.0.1:9",
    };

    #[tokio::test]
    async fn the_command_sees_the_contracts_environment_and_exit_0_is_success() {
        let check = "test \"$ARENA_FAULT\" = kill-runtime && test \"$ARENA_TARGET\" = mine \
                     && test \"$ARENA_TARGET_URL\" = http://127.0.0.1:9 \
                     && test \"$ARENA_PHASE\" = inject";
        let c = Control::new(check.into());
        assert!(c.inject(Fault::KillRuntime, AIM).await.is_ok());
        // The same check fails for another fault: the environment is what was asserted.
        let e = c.inject(Fault::HangRuntime, AIM).await.unwrap_err();
        assert!(matches!(e, ControlError::Failed { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_failing_command_reports_its_exit_and_the_tail_of_its_stderr() {
        let c = Control::new("echo first >&2; echo 'no such pod: arena-0' >&2; exit 3".into());
        let e = c.inject(Fault::KillRuntime, AIM).await.unwrap_err();
        let ControlError::Failed { status, stderr } = &e else {
            panic!("{e}");
        };
        assert!(status.contains('3'), "{status}");
        assert!(stderr.ends_with("no such pod: arena-0"), "{stderr}");
        assert!(e.to_string().contains("must exit 0"));
    }

    #[tokio::test]
    async fn a_command_over_the_limit_is_killed_and_its_stderr_kept() {
        let c = Control {
            command: "echo started >&2; sleep 30 & wait".into(),
            limit: Duration::from_millis(300),
        };
        let e = c.inject(Fault::HangRuntime, AIM).await.unwrap_err();
        let ControlError::TimedOut { stderr, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(stderr, "started", "what it wrote before the limit is kept");
    }

    #[test]
    fn the_tail_keeps_the_end_at_a_character_boundary() {
        let long = format!("{}é-end", "x".repeat(1000));
        let t = tail(long.as_bytes());
        assert!(t.ends_with("é-end") && t.len() <= STDERR_TAIL);
        assert_eq!(tail(b"short\n"), "short");
    }
}
