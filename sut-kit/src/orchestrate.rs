//! Starting the systems under test: a backend from its manifest, with the common flags of
//! docs/design.md#starting-a-backend, pointed at the mock provider, with a canary API key. Every stage (conformance,
//! bench, crash) starts backends through here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use contract::ready::ReadyLine;
use contract::runtime;

use crate::manifest::{Backend, Runtime};
use crate::process::{self, ProcessSpec, RunningProcess, StartError, StopReport};

/// Long enough for a Node sidecar's cold start on a busy two-core machine.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The API key every backend gets: a canary that must never show up in a log.
pub fn api_key_canary() -> String {
    format!("sk-arena-canary-{}", std::process::id())
}

/// How every backend of a stage is started: from which checkout and build, against which
/// provider, with which key (each instance may add flags: [`InstanceOptions`]).
#[derive(Debug, Clone)]
pub struct StartSettings {
    pub root: PathBuf,
    pub profile: String,
    /// The mock provider's OpenAI base URL (`http://127.0.0.1:PORT/v1`).
    pub provider_url: String,
    pub api_key: String,
    pub ready_timeout: Duration,
    /// Flags after the common ones (`--idle-timeout-s 2`, ...).
    pub extra_args: Vec<String>,
    /// Environment every backend gets beyond the key and its runtime's (the bench's
    /// `ARENA_SDK_TIMING=1`, contract::sdk_timing).
    pub env: Vec<(String, String)>,
}

impl StartSettings {
    /// Backends of `profile` under `root` pointed at `provider_url`, with the canary API key and
    /// no flags beyond the common ones.
    pub fn new(root: &Path, profile: &str, provider_url: String, ready_timeout: Duration) -> Self {
        Self {
            root: root.to_owned(),
            profile: profile.to_owned(),
            provider_url,
            api_key: api_key_canary(),
            ready_timeout,
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// What one instance of a backend adds to the [`StartSettings`] of its stage.
#[derive(Debug, Clone, Default)]
pub struct InstanceOptions {
    /// Flags for this instance only (`--enable-fault-injection`, `--idle-timeout-s 2`).
    pub extra_args: Vec<String>,
    /// Distinguishes log files of several instances of one backend (`faults-1`).
    pub instance: Option<String>,
}

/// A started backend.
#[derive(Debug)]
pub struct BackendInstance {
    pub name: String,
    pub process: RunningProcess,
}

impl BackendInstance {
    /// The base URL from its ready line (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        self.process.ready.url.trim_end_matches('/')
    }

    pub fn ready(&self) -> &ReadyLine {
        &self.process.ready
    }

    pub async fn stop(self) -> StopReport {
        self.process.stop().await
    }

    /// Kills it at once (SIGKILL), as a crash would; returns when its port is free.
    pub async fn kill(self) {
        self.process.kill().await;
    }
}

/// The argv (program resolved) a backend starts with: its manifest's `start`, then the common
/// flags.
pub fn command_line(
    backend: &Backend,
    cfg: &StartSettings,
    opts: &InstanceOptions,
) -> (PathBuf, Vec<String>) {
    let argv = backend.start_argv(&cfg.profile);
    let program = match js_runtime(backend, cfg) {
        // A manifest's `node` means the target's JavaScript runtime, not the one on PATH.
        Some(Ok(runtime)) if argv[0] == "node" => runtime.binary,
        _ => resolve_program(&cfg.root, &argv[0]),
    };
    let mut args: Vec<String> = argv[1..].to_vec();
    let common = [
        ("--listen", "127.0.0.1:0"),
        ("--provider-url", cfg.provider_url.as_str()),
        ("--specs-dir", "fixtures/specs"),
        ("--rate-limit", "off"),
    ];
    let overridden = |flag: &str| {
        cfg.extra_args
            .iter()
            .chain(&opts.extra_args)
            .any(|a| a == flag)
    };
    // A flag given for this stage or instance replaces the common value (clap rejects repeats).
    for (flag, value) in common.iter().filter(|(f, _)| !overridden(f)) {
        args.push((*flag).to_owned());
        args.push((*value).to_owned());
    }
    args.extend(cfg.extra_args.iter().cloned());
    args.extend(opts.extra_args.iter().cloned());
    (program, args)
}

/// The JavaScript runtime a backend with `runtime = "node"` runs on: its own (`unix@bun`) or
/// the default stack's, as pinned under the checkout (contract::runtime); `None` for a backend
/// without JavaScript.
pub fn js_runtime(
    backend: &Backend,
    cfg: &StartSettings,
) -> Option<Result<runtime::Resolved, runtime::RuntimeError>> {
    (backend.manifest.runtime == Runtime::Node)
        .then(|| runtime::resolve(&cfg.root, backend.runtime_name()))
}

/// `ARENA_SDK_DIST=<root>/runtimes/<stack>/dist` for a stack with an AI SDK of its own
/// (`node20-ai6`), so that its hosts run the bundles built against it; nothing otherwise.
pub fn sdk_dist_env(root: &Path, runtime_name: &str) -> Option<(String, String)> {
    let dist = runtime::spec(runtime_name).ok()?.sdk_dist()?;
    Some((
        runtime::SDK_DIST_ENV.to_owned(),
        root.join(dist).to_string_lossy().into_owned(),
    ))
}

/// A program with a slash is a path in the repository; a bare name is looked up on PATH.
fn resolve_program(root: &Path, program: &str) -> PathBuf {
    if program.contains('/') {
        root.join(program)
    } else {
        PathBuf::from(program)
    }
}

/// Starts one backend and waits for its ready line. Logs go to `log_dir`.
pub async fn start_backend(
    backend: &Backend,
    cfg: &StartSettings,
    opts: &InstanceOptions,
    log_dir: &Path,
) -> Result<BackendInstance, StartError> {
    let (program, args) = command_line(backend, cfg, opts);
    let label = match &opts.instance {
        Some(instance) => format!("{}.{instance}", backend.name()),
        None => backend.name().to_owned(),
    };
    let mut env = vec![(contract::API_KEY_ENV.into(), cfg.api_key.clone())];
    match js_runtime(backend, cfg) {
        Some(Ok(runtime)) => {
            env.push((
                runtime::NODE_ENV.into(),
                runtime.binary.to_string_lossy().into_owned(),
            ));
            env.extend(sdk_dist_env(&cfg.root, backend.runtime_name()));
        }
        Some(Err(source)) => return Err(StartError::Runtime { label, source }),
        None => {}
    }
    env.extend(cfg.env.iter().cloned());
    let spec = ProcessSpec {
        label,
        program,
        args,
        env,
        cwd: cfg.root.clone(),
        log_dir: log_dir.to_owned(),
        ready_timeout: cfg.ready_timeout,
    };
    let process = process::start(&spec).await?;
    Ok(BackendInstance {
        name: backend.name().to_owned(),
        process,
    })
}

/// Files under `log_dir` that contain `canary` (an API key that leaked into a log).
pub fn logs_containing(log_dir: &Path, canary: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(log_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read(e.path())
                .is_ok_and(|b| b.windows(canary.len()).any(|w| w == canary.as_bytes()))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}
