//! The browser suite: the chat page (`web/`, docs/chat-page.md) in the system's Chromium,
//! against one backend.
//!
//! The cases are JavaScript (`web/browser/`: playwright-core driving Chromium over the DevTools
//! protocol), since the page's client is the AI SDK's `useChat`. This side owns the processes
//! they run against, as every other part of the test stack does: it starts the backend from its
//! manifest, pointed at a mock provider the caller started, answers the driver's requests to
//! stop, kill or restart it on the same port (the bad-input cases: a backend that is down, one
//! that answers 429, one that cuts the stream), and collects the verdicts. The driver speaks
//! JSON lines on stdin/stdout; `web/browser/suite.mjs` documents them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;

use sut_kit::chromium::ChromiumError;
use sut_kit::manifest::Backend;
use sut_kit::orchestrate::{self, BackendInstance, InstanceOptions, StartSettings};
use sut_kit::process::{self, StartError};

/// The driver, relative to the repository root.
pub const DRIVER: &str = "web/browser/suite.mjs";
/// A guard against a wedged driver or browser, far above the minute or two one backend's suite
/// takes on a busy two-core machine; each case has its own, shorter guards.
const SUITE_HANG_GUARD: Duration = Duration::from_secs(900);

#[derive(Debug, Error)]
pub enum BrowserError {
    #[error(transparent)]
    Chromium(#[from] ChromiumError),
    #[error("web/ is not installed: run `npm ci --prefix web` (`scripts/setup` does)")]
    NotInstalled,
    #[error("cannot start the browser driver ({DRIVER}): {0}; is `node` on PATH?")]
    Driver(std::io::Error),
    #[error("cannot start the backend: {0}")]
    Start(#[from] StartError),
    #[error("the browser suite stopped: {error}; see {log}")]
    Fatal { error: String, log: PathBuf },
    #[error("the browser driver exited before it finished; see {log}")]
    DriverDied { log: PathBuf },
    #[error("the browser suite ran longer than {SUITE_HANG_GUARD:?}; see {log}")]
    Hung { log: PathBuf },
    #[error("talking to the browser driver failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What a backend's suite runs against.
#[derive(Debug, Clone)]
pub struct SuiteEnv {
    /// How to start backends; `provider_url` is the mock's.
    pub start: StartSettings,
    /// The mock provider's base URL (`http://127.0.0.1:PORT`), whose timeline the cases read.
    pub mock_url: String,
    pub chromium: PathBuf,
    /// Case names to play (`text`, `bad-input/backend-down`, ...); empty plays them all.
    pub cases: Vec<String>,
}

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseVerdict {
    pub name: String,
    pub passed: bool,
    pub reason: Option<String>,
    /// The page when the case ended.
    pub screenshot: Option<PathBuf>,
}

/// One backend's run of the suite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteReport {
    /// `Chromium 156.0.8078.114`, as the browser reported itself.
    pub browser_version: Option<String>,
    pub cases: Vec<CaseVerdict>,
    /// The page after a conversation with tool calls: the picture of this backend.
    pub conversation_screenshot: Option<PathBuf>,
}

/// What the driver writes on stdout.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum DriverLine {
    Browser {
        version: String,
    },
    Control {
        id: u64,
        action: Action,
        #[serde(rename = "rateLimit")]
        rate_limit: Option<String>,
    },
    Case {
        name: String,
        ok: bool,
        reason: Option<String>,
        screenshot: Option<String>,
        #[serde(default)]
        conversation: bool,
    },
    Done,
    Fatal {
        error: String,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    /// SIGTERM: the backend shuts down cleanly and is down.
    Stop,
    /// SIGKILL: the backend dies mid-stream, as in a crash.
    Kill,
    /// (Re)start it on the same port, with `--rate-limit` when given.
    Start,
}

/// The backend under test across restarts: always on the port the page was loaded from.
struct Subject<'a> {
    backend: &'a Backend,
    start: &'a StartSettings,
    log_dir: &'a Path,
    listen: String,
    running: Option<BackendInstance>,
    starts: u32,
}

impl Subject<'_> {
    async fn control(&mut self, action: Action, rate_limit: Option<String>) -> Result<(), String> {
        match (action, self.running.take()) {
            (Action::Kill, Some(instance)) => instance.kill().await,
            (Action::Stop | Action::Start, Some(instance)) => {
                instance.stop().await;
            }
            (_, None) => {}
        }
        if let Action::Start = action {
            self.starts += 1;
            let mut extra_args = vec!["--listen".to_owned(), self.listen.clone()];
            extra_args.extend(
                rate_limit
                    .into_iter()
                    .flat_map(|r| ["--rate-limit".to_owned(), r]),
            );
            let opts = InstanceOptions {
                extra_args,
                instance: Some(format!("start-{}", self.starts)),
            };
            let started = orchestrate::start_backend(self.backend, self.start, &opts, self.log_dir);
            self.running = Some(started.await.map_err(|e| e.to_string())?);
        }
        Ok(())
    }
}

/// Plays the suite on `backend`: screenshots go to `out_dir`, process logs to `log_dir`.
/// `progress` sees each verdict as it arrives.
pub async fn run_backend(
    backend: &Backend,
    env: &SuiteEnv,
    out_dir: &Path,
    log_dir: &Path,
    progress: &(dyn Fn(&CaseVerdict) + Sync),
) -> Result<SuiteReport, BrowserError> {
    let root = &env.start.root;
    if !sut_kit::node_package::is_installed(&root.join("web")) {
        return Err(BrowserError::NotInstalled);
    }
    std::fs::create_dir_all(out_dir)?;
    std::fs::create_dir_all(log_dir)?;
    let first =
        orchestrate::start_backend(backend, &env.start, &InstanceOptions::default(), log_dir)
            .await?;
    let url = first.url().to_owned();
    let mut subject = Subject {
        backend,
        start: &env.start,
        log_dir,
        listen: url.trim_start_matches("http://").to_owned(),
        running: Some(first),
        starts: 0,
    };
    let driver_log = log_dir.join("browser-driver.stderr.log");
    let played = async {
        let node = contract::runtime::resolve(root, contract::runtime::DEFAULT_RUNTIME)
            .map_err(|e| BrowserError::Driver(std::io::Error::other(e)))?;
        let mut worker =
            process::spawn_worker(&node.binary, &[DRIVER.to_owned()], root, &driver_log)
                .map_err(BrowserError::Driver)?;
        let (Some(mut stdin), Some(stdout)) =
            (worker.child.stdin.take(), worker.child.stdout.take())
        else {
            return Err(BrowserError::DriverDied {
                log: driver_log.clone(),
            });
        };
        let cases = (!env.cases.is_empty()).then_some(&env.cases);
        let run = json!({
            "type": "run",
            "backend": backend.name(),
            "url": url,
            "mockUrl": env.mock_url,
            "chromium": env.chromium,
            "outDir": out_dir,
            "cases": cases,
        });
        send(&mut stdin, &run).await?;
        let mut report = SuiteReport::default();
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            // Anything else on stdout (a library's notice) is not for us.
            let Ok(line) = serde_json::from_str::<DriverLine>(&line) else {
                continue;
            };
            match line {
                DriverLine::Browser { version } => report.browser_version = Some(version),
                DriverLine::Control {
                    id,
                    action,
                    rate_limit,
                } => {
                    let outcome = subject.control(action, rate_limit).await;
                    let answer = json!({
                        "type": "controlled",
                        "id": id,
                        "ok": outcome.is_ok(),
                        "error": outcome.err(),
                    });
                    send(&mut stdin, &answer).await?;
                }
                DriverLine::Case {
                    name,
                    ok,
                    reason,
                    screenshot,
                    conversation,
                } => {
                    let verdict = CaseVerdict {
                        name,
                        passed: ok,
                        reason,
                        screenshot: screenshot.map(|file| out_dir.join(file)),
                    };
                    if conversation && verdict.screenshot.is_some() {
                        report.conversation_screenshot = verdict.screenshot.clone();
                    }
                    progress(&verdict);
                    report.cases.push(verdict);
                }
                DriverLine::Done => return Ok(report),
                DriverLine::Fatal { error } => {
                    return Err(BrowserError::Fatal {
                        error,
                        log: driver_log.clone(),
                    });
                }
            }
        }
        Err(BrowserError::DriverDied {
            log: driver_log.clone(),
        })
    };
    let outcome = match tokio::time::timeout(SUITE_HANG_GUARD, played).await {
        Ok(outcome) => outcome,
        Err(_) => Err(BrowserError::Hung {
            log: driver_log.clone(),
        }),
    };
    if let Some(instance) = subject.running.take() {
        instance.stop().await;
    }
    outcome
}

async fn send(stdin: &mut ChildStdin, line: &serde_json::Value) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(line)?;
    bytes.push(b'\n');
    stdin.write_all(&bytes).await?;
    stdin.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lines_the_driver_writes_and_skips_the_others() {
        let line = r#"{"type":"control","id":3,"action":"start","rateLimit":"6/min"}"#;
        let control: DriverLine = serde_json::from_str(line).unwrap();
        assert!(matches!(
            control,
            DriverLine::Control { id: 3, action: Action::Start, rate_limit: Some(ref r) } if r == "6/min"
        ));
        let line = r#"{"type":"control","id":4,"action":"kill"}"#;
        let kill: DriverLine = serde_json::from_str(line).unwrap();
        assert!(matches!(
            kill,
            DriverLine::Control {
                action: Action::Kill,
                rate_limit: None,
                ..
            }
        ));
        let line =
            r#"{"type":"case","name":"stop","ok":false,"reason":"no","screenshot":"stop.png"}"#;
        let case: DriverLine = serde_json::from_str(line).unwrap();
        assert!(matches!(
            case,
            DriverLine::Case {
                ok: false,
                conversation: false,
                screenshot: Some(_),
                ..
            }
        ));
        assert!(matches!(
            serde_json::from_str(r#"{"type":"done"}"#).unwrap(),
            DriverLine::Done
        ));
        assert!(serde_json::from_str::<DriverLine>("Debugger listening on ws://").is_err());
        assert!(
            serde_json::from_str::<DriverLine>(r#"{"type":"control","id":1,"action":"reboot"}"#)
                .is_err()
        );
    }
}
