//! Child processes the harness starts: each in its own process group, its output logged, its
//! ready line awaited, and the whole group stopped on exit, on Ctrl-C and on panic.
//!
//! A backend may start helpers of its own (a Node sidecar); killing only the pid we spawned
//! would leave them running, holding ports. The group is the unit we start and stop. Every
//! live group is in a process-wide registry so that a signal handler or a panic hook can stop
//! what a dropped future never got to clean up; and every child dies with the harness even
//! when it is SIGKILLed and runs no cleanup at all (`contract::lifeline`; a backend's own
//! children die with it the same way).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contract::lifeline::die_with_parent;
use contract::ready::ReadyLine;
use rustix::process::{Pid, Signal};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::groups::{GroupGuard, signal_group};
pub use crate::groups::{group_alive, install_cleanup, kill_all, pid_alive};

/// How much of a child's stderr an error message quotes.
const STDERR_TAIL_BYTES: usize = 4096;
/// How long the rest of an exited child's stderr may take to reach its log: the pipe closes
/// with the process, unless a grandchild inherited it.
const STDERR_DRAIN: Duration = Duration::from_secs(1);
/// docs/design.md#shutdown: a backend shuts down cleanly, sidecar included, within 2 s of SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long a runtime outside the backend's group may take to exit after the backend did; past
/// that it counts as a straggler and is killed.
const RUNTIME_EXIT_GRACE: Duration = Duration::from_millis(200);
/// How often [`RunningProcess::stop`] looks whether that runtime is gone.
const RUNTIME_EXIT_POLL: Duration = Duration::from_millis(10);

/// What to run and where its logs go.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Names the process in messages and log files (`rust-only`, `mock-provider`).
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// `<label>.stdout.log` and `<label>.stderr.log` are written here.
    pub log_dir: PathBuf,
    pub ready_timeout: Duration,
}

#[derive(Debug, Error)]
pub enum StartError {
    #[error("could not start {label} ({program}): {source}; is it built? try `harness build`")]
    Spawn {
        label: String,
        program: String,
        source: std::io::Error,
    },
    #[error("cannot start {label}: {source}")]
    Runtime {
        label: String,
        source: contract::runtime::RuntimeError,
    },
    #[error("cannot write logs for {label} under {dir}: {source}")]
    Logs {
        label: String,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{label} printed no ready line within {timeout:?} (stdout log: {stdout_log}); last stderr:\n{stderr_tail}"
    )]
    NoReadyLine {
        label: String,
        timeout: Duration,
        stdout_log: PathBuf,
        stderr_tail: String,
    },
    #[error(
        "{label} exited ({status}) before printing its ready line; last stderr:\n{stderr_tail}"
    )]
    ExitedEarly {
        label: String,
        status: String,
        stderr_tail: String,
    },
}

/// How a process ended when asked to stop.
#[derive(Debug, Clone)]
pub struct StopReport {
    pub status: Option<ExitStatus>,
    /// It ignored SIGTERM for [`STOP_GRACE`] and was killed.
    pub forced: bool,
    /// Members of its group (a sidecar) outlived it and had to be killed.
    pub stragglers_killed: bool,
}

/// A started process whose ready line has been read.
#[derive(Debug)]
pub struct RunningProcess {
    pub label: String,
    pub ready: ReadyLine,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    child: Child,
    group: GroupGuard,
    stderr_tail: Arc<Mutex<Tail>>,
    /// The copy of its stderr into `stderr_log`, done once the pipe closes.
    stderr_copied: Option<tokio::task::JoinHandle<()>>,
}

impl RunningProcess {
    /// The process group id (the pid of the process we spawned).
    pub fn pgid(&self) -> i32 {
        self.group.pgid
    }

    /// Sends `signal` to the process we spawned only, not to its group.
    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = Pid::from_raw(self.group.pgid) {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }

    /// Waits up to `limit` for the process to exit on its own; its status, once its whole
    /// stderr is in `stderr_log`. `None` when it still runs (or could not be waited for).
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()?
            .ok()?;
        if let Some(copy) = self.stderr_copied.take() {
            let _ = tokio::time::timeout(STDERR_DRAIN, copy).await;
        }
        Some(status)
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr_log).unwrap_or_default()).into_owned()
    }

    /// The last bytes it wrote to stderr, for messages.
    pub fn stderr_tail(&self) -> String {
        lock(&self.stderr_tail).text()
    }

    /// Whether the process we spawned has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL to the group (and to a runtime that left it) at once, as a crash would end it;
    /// returns once the process we spawned is gone, so its port is free again.
    pub async fn kill(mut self) -> Option<ExitStatus> {
        signal_group(self.group.pgid, Signal::KILL);
        if let Some(pid) = self.ready.runtime_pid.filter(|p| pid_alive(*p))
            && let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw)
        {
            let _ = rustix::process::kill_process(p, Signal::KILL);
        }
        self.child.wait().await.ok()
    }

    /// SIGTERM to the group, [`STOP_GRACE`] to exit, then SIGKILL to whatever is left.
    pub async fn stop(mut self) -> StopReport {
        signal_group(self.group.pgid, Signal::TERM);
        let (status, forced) = match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(status) => (status.ok(), false),
            Err(_) => {
                signal_group(self.group.pgid, Signal::KILL);
                (self.child.wait().await.ok(), true)
            }
        };
        let mut stragglers_killed = group_alive(self.group.pgid);
        if stragglers_killed {
            signal_group(self.group.pgid, Signal::KILL);
        }
        // A runtime the process moved into a group of its own is not reached by the group
        // signal; it must be gone all the same.
        if let Some(pid) = self.ready.runtime_pid.filter(|p| pid_alive(*p)) {
            let grace = tokio::time::Instant::now() + RUNTIME_EXIT_GRACE;
            while pid_alive(pid) && tokio::time::Instant::now() < grace {
                tokio::time::sleep(RUNTIME_EXIT_POLL).await;
            }
            if pid_alive(pid) {
                stragglers_killed = true;
                if let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
                    let _ = rustix::process::kill_process(p, Signal::KILL);
                }
            }
        }
        // The guard's drop unregisters the group; it is already gone.
        StopReport {
            status,
            forced,
            stragglers_killed,
        }
    }
}

/// Sends SIGKILL to `pid` alone (one that is gone already is fine).
pub fn sigkill(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
    }
}

/// Starts `spec`, waits for its ready line, and returns it running.
pub async fn start(spec: &ProcessSpec) -> Result<RunningProcess, StartError> {
    let logs_err = |source| StartError::Logs {
        label: spec.label.clone(),
        dir: spec.log_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&spec.log_dir).map_err(logs_err)?;
    let stdout_log = spec.log_dir.join(format!("{}.stdout.log", spec.label));
    let stderr_log = spec.log_dir.join(format!("{}.stderr.log", spec.label));
    let stdout_file = tokio::fs::File::create(&stdout_log)
        .await
        .map_err(logs_err)?;
    let stderr_file = tokio::fs::File::create(&stderr_log)
        .await
        .map_err(logs_err)?;

    let mut command = Command::new(&spec.program);
    die_with_parent(command.as_std_mut());
    let mut child = command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| StartError::Spawn {
            label: spec.label.clone(),
            program: spec.program.display().to_string(),
            source,
        })?;
    let group = register_group(&child);
    let pgid = group.pgid;

    let stderr_tail = Arc::new(Mutex::new(Tail::default()));
    let (ready_tx, ready_rx) = oneshot::channel();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(copy_stdout(out, stdout_file, ready_tx));
    }
    let stderr_done = child
        .stderr
        .take()
        .map(|err| tokio::spawn(copy_stderr(err, stderr_file, stderr_tail.clone())));

    let waited = tokio::select! {
        biased;
        ready = ready_rx => ready.map_or(Waited::StdoutClosed, Waited::Ready),
        status = child.wait() => Waited::Exited(status.ok()),
        () = tokio::time::sleep(spec.ready_timeout) => Waited::Timeout,
    };
    let failure = match waited {
        Waited::Ready(ready) => {
            return Ok(RunningProcess {
                label: spec.label.clone(),
                ready,
                stdout_log,
                stderr_log,
                child,
                group,
                stderr_tail,
                stderr_copied: stderr_done,
            });
        }
        // stdout closed without a ready line: the process is exiting or has exited.
        Waited::StdoutClosed => {
            let status = tokio::time::timeout(STOP_GRACE, child.wait()).await;
            Waited::Exited(status.ok().and_then(Result::ok))
        }
        other => other,
    };
    signal_group(pgid, Signal::KILL);
    let _ = child.wait().await;
    if let Some(task) = stderr_done {
        let _ = tokio::time::timeout(STDERR_DRAIN, task).await;
    }
    let stderr_tail = lock(&stderr_tail).text();
    Err(match failure {
        Waited::Timeout | Waited::Ready(_) | Waited::StdoutClosed => StartError::NoReadyLine {
            label: spec.label.clone(),
            timeout: spec.ready_timeout,
            stdout_log,
            stderr_tail,
        },
        Waited::Exited(status) => StartError::ExitedEarly {
            label: spec.label.clone(),
            status: status.map_or_else(|| "status unknown".into(), |s| s.to_string()),
            stderr_tail,
        },
    })
}

enum Waited {
    Ready(ReadyLine),
    StdoutClosed,
    Exited(Option<ExitStatus>),
    Timeout,
}

async fn copy_stdout(
    out: tokio::process::ChildStdout,
    mut log: tokio::fs::File,
    ready_tx: oneshot::Sender<ReadyLine>,
) {
    let mut lines = BufReader::new(out).lines();
    let mut ready_tx = Some(ready_tx);
    while let Ok(Some(line)) = lines.next_line().await {
        let _ = log.write_all(line.as_bytes()).await;
        let _ = log.write_all(b"\n").await;
        if ready_tx.is_some()
            && let Some(ready) = ReadyLine::parse(&line)
            && let Some(tx) = ready_tx.take()
        {
            let _ = tx.send(ready);
        }
    }
    let _ = log.flush().await;
}

async fn copy_stderr(
    mut err: tokio::process::ChildStderr,
    mut log: tokio::fs::File,
    tail: Arc<Mutex<Tail>>,
) {
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = err.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let _ = log.write_all(&buf[..n]).await;
        lock(&tail).push(&buf[..n]);
    }
    let _ = log.flush().await;
}

/// The last [`STDERR_TAIL_BYTES`] of a stream.
#[derive(Debug, Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > STDERR_TAIL_BYTES {
            let cut = self.0.len() - STDERR_TAIL_BYTES;
            self.0.drain(..cut);
        }
    }

    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.0).trim_end().to_owned();
        if text.is_empty() {
            "(nothing)".into()
        } else {
            text
        }
    }
}

/// The last `max_bytes` of a file, for messages about a failed step.
pub fn file_tail(path: &Path, max_bytes: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut tail = Tail::default();
    tail.push(&bytes[bytes.len().saturating_sub(max_bytes)..]);
    tail.text()
}

/// The last `max_bytes` of `text`, moved forward to a character boundary and trimmed: the end of
/// a command's output, which is where it says what went wrong.
pub fn text_tail(text: &str, max_bytes: usize) -> String {
    let text = text.trim();
    let mut start = text.len().saturating_sub(max_bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

/// Registers the process group of a child just spawned with `process_group(0)` (its pgid is
/// its pid). A child already reaped has no pid; pgid 0 is never signalled.
fn register_group(child: &Child) -> GroupGuard {
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .unwrap_or(0);
    GroupGuard::register(pgid)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `sh -c <command>` in `cwd` to completion in its own process group (stopped with the
/// harness like every other child), stdout and stderr both written to `log` (created afresh).
pub async fn run_shell(command: &str, cwd: &Path, log: &Path) -> std::io::Result<ExitStatus> {
    let file = std::fs::File::create(log)?;
    let mut sh = Command::new("sh");
    die_with_parent(sh.as_std_mut());
    let mut child = sh
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let _group = register_group(&child);
    child.wait().await
}

/// A child started with piped stdin and stdout (a worker the harness talks to), in its own
/// process group, stderr logged; the group dies with this value.
#[derive(Debug)]
pub struct Worker {
    pub child: Child,
    _group: GroupGuard,
}

/// Starts a worker process; see [`Worker`].
pub fn spawn_worker(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[String],
    cwd: &Path,
    stderr_log: &Path,
) -> std::io::Result<Worker> {
    let stderr = std::fs::File::create(stderr_log)?;
    let mut command = Command::new(program);
    die_with_parent(command.as_std_mut());
    let child = command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let _group = register_group(&child);
    Ok(Worker { child, _group })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_tail_keeps_the_end_on_a_character_boundary() {
        assert_eq!(text_tail("  abcdef ", 3), "def");
        assert_eq!(text_tail("aé", 1), "");
        assert_eq!(text_tail("short\n", 100), "short");
    }
}
