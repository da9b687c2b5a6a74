//! The independent oracle: the AI SDK's own `readUIMessageStream`, in Node, reading the same
//! bytes the Rust checker read ([`Oracle`]); and the AI SDK's own answer to a request, the
//! reference the parity suite compares backends with ([`reference_run`]). Both Node scripts are
//! started here and nowhere else.
//!
//! One Node process serves the whole run: starting Node and loading the SDK takes about 0.15 s
//! (`time node --input-type=module -e "await import('./read-ui-stream.mjs')"` in sut-kit/node,
//! two-core machine at load 3), which over some 30 cases per backend would rival the 7 s a
//! backend's whole suite takes. `sut-kit/node/read-ui-stream.mjs` takes JSON lines
//! `{"id","sse"}` on stdin and answers JSON lines
//! `{"id","ok","message","errors","chunkTypes","done"}` on stdout. Answers are matched to
//! requests by id, so any number of cases can ask at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, oneshot};

use contract::runtime;

use crate::process::{self, Worker};

/// The oracle script, relative to the repository root.
pub const SCRIPT: &str = "sut-kit/node/read-ui-stream.mjs";
/// The reference run (`streamText` itself), relative to the repository root.
pub const REFERENCE_SCRIPT: &str = "sut-kit/node/reference-chat.mjs";
/// A guard against a wedged Node process, not a time limit on reading a stream.
const ANSWER_TIMEOUT: Duration = crate::guards::HANG_GUARD;

/// The AI SDK's reading of one stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OracleReading {
    pub id: String,
    /// The SDK read the stream without throwing.
    pub ok: bool,
    /// The final UIMessage (`{id, role, parts, ...}`), when one was built.
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub chunk_types: Vec<String>,
    #[serde(default)]
    pub done: bool,
}

impl OracleReading {
    pub fn parts(&self) -> Vec<Value> {
        crate::message::parts_of(self.message.as_ref())
    }
}

type Pending = Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<OracleReading>>>>;

/// A running oracle; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Oracle {
    stdin: Mutex<tokio::process::ChildStdin>,
    pending: Pending,
    next_id: AtomicU64,
    /// Where the Node process's stderr goes: what to read when it died.
    stderr_log: PathBuf,
    _worker: Worker,
}

impl Oracle {
    /// Starts the Node process. Fails with what to run when the package is not installed.
    pub fn start(root: &Path, log_dir: &Path) -> Result<Self> {
        require_installed(root, SCRIPT)?;
        std::fs::create_dir_all(log_dir)?;
        let stderr_log = log_dir.join("oracle.stderr.log");
        let node = runtime::resolve(root, runtime::DEFAULT_RUNTIME)?;
        let mut worker =
            process::spawn_worker(&node.binary, &[SCRIPT.to_owned()], root, &stderr_log)
                .with_context(|| {
                    format!("cannot start the Node oracle ({})", node.binary.display())
                })?;
        let stdin = worker.child.stdin.take().context("oracle stdin")?;
        let stdout = worker.child.stdout.take().context("oracle stdout")?;
        let pending: Pending = Arc::default();
        tokio::spawn(route_answers(stdout, pending.clone()));
        Ok(Self {
            stdin: Mutex::new(stdin),
            pending,
            next_id: AtomicU64::new(1),
            stderr_log,
            _worker: worker,
        })
    }

    /// Has the AI SDK read `raw` (the body of one answer).
    pub async fn read(&self, raw: &[u8]) -> Result<OracleReading> {
        let id = format!("r{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        let mut line = serde_json::to_vec(&serde_json::json!({
            "id": id,
            "sse": String::from_utf8_lossy(raw),
        }))?;
        line.push(b'\n');
        let written = {
            let mut stdin = self.stdin.lock().await;
            match stdin.write_all(&line).await {
                Ok(()) => stdin.flush().await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = written {
            lock(&self.pending).remove(&id);
            return Err(e).context(self.gone());
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(reading)) => Ok(reading),
            Ok(Err(_)) => bail!(self.gone()),
            Err(_) => {
                lock(&self.pending).remove(&id);
                bail!("the Node oracle gave no answer within {ANSWER_TIMEOUT:?}")
            }
        }
    }

    /// The error for a case whose oracle died, with where to read why.
    fn gone(&self) -> String {
        format!("the Node oracle exited; see {}", self.stderr_log.display())
    }
}

/// Fails with what to run when `script` or the AI SDK it imports is missing.
fn require_installed(root: &Path, script: &str) -> Result<()> {
    if !root.join(script).is_file() {
        bail!("{script} is missing; it is part of sut-kit/node");
    }
    if !crate::node_package::is_installed(&root.join(crate::NODE_PACKAGE)) {
        bail!("sut-kit/node is not installed: run `npm ci --prefix sut-kit/node`");
    }
    Ok(())
}

/// What the AI SDK itself answers (`reference-chat.mjs`): the final message its client builds,
/// every UI chunk, the bytes it would send, and the errors its client reported.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceRun {
    pub message: Option<Value>,
    pub chunks: Vec<Value>,
    pub sse: String,
    pub errors: Vec<String>,
}

impl ReferenceRun {
    pub fn chunk_types(&self) -> Vec<String> {
        self.chunks
            .iter()
            .map(|c| c["type"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// Numbers the reference runs of this process, so each has a stderr log of its own.
static REFERENCE_RUNS: AtomicU64 = AtomicU64::new(1);

/// The AI SDK's own answer to `body` (a `useChat` request): `streamText` against the provider
/// at `provider_url`, with tools executed through the REST routes of the backend at
/// `tools_rest`, which the contract makes identical to its tools. Its stderr goes to a log in
/// `log_dir`, named in the error when the run fails.
pub async fn reference_run(
    root: &Path,
    log_dir: &Path,
    provider_url: &str,
    tools_rest: &str,
    body: &Value,
) -> Result<ReferenceRun> {
    require_installed(root, REFERENCE_SCRIPT)?;
    std::fs::create_dir_all(log_dir)?;
    let n = REFERENCE_RUNS.fetch_add(1, Ordering::Relaxed);
    let stderr_log = log_dir.join(format!("reference-{n}.stderr.log"));
    let args = [
        REFERENCE_SCRIPT,
        "--base-url",
        provider_url,
        "--tools-rest",
        tools_rest,
        "--body-stdin",
    ]
    .map(str::to_owned);
    let node = runtime::resolve(root, runtime::DEFAULT_RUNTIME)?;
    let mut worker = process::spawn_worker(&node.binary, &args, root, &stderr_log)
        .with_context(|| format!("cannot start the reference run ({})", node.binary.display()))?;
    let mut stdin = worker.child.stdin.take().context("reference run stdin")?;
    stdin.write_all(&serde_json::to_vec(body)?).await?;
    drop(stdin);
    let mut stdout = worker.child.stdout.take().context("reference run stdout")?;
    let run = async {
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out).await?;
        let status = worker.child.wait().await?;
        anyhow::Ok((status, out))
    };
    let (status, out) = tokio::time::timeout(ANSWER_TIMEOUT, run)
        .await
        .with_context(|| format!("the reference run gave no answer within {ANSWER_TIMEOUT:?}"))??;
    if !status.success() {
        bail!(
            "the reference run failed ({status}); see {}",
            stderr_log.display()
        );
    }
    serde_json::from_slice(&out).with_context(|| {
        format!(
            "the reference run printed no result; see {}",
            stderr_log.display()
        )
    })
}

async fn route_answers(stdout: tokio::process::ChildStdout, pending: Pending) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(reading) = serde_json::from_str::<OracleReading>(&line) else {
            continue;
        };
        if let Some(tx) = lock(&pending).remove(&reading.id) {
            let _ = tx.send(reading);
        }
    }
    // Dropping the senders tells every waiting case that the oracle is gone.
    lock(&pending).clear();
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
