//! The one entry through which every backend's own tests run the suites every backend must
//! pass, the way ripgrep runs each of its tests on each regex engine: a backend's
//! `tests/suites.rs` is `conformance::backend_suites!("napi");`, and the same suites run on each
//! backend.
//!
//! A [`Target`] is a backend started from its manifest, as `harness conformance` starts it, in
//! the debug build the tests run against (`cargo test` builds the binaries of the backend under
//! test; `scripts/setup` builds the others, the napi addon and the sidecar bundle), with a mock
//! provider of its own; a backend's other tests start their instances through it too. The
//! suites, read by an AI SDK oracle of their own ([`Target::assert_suites_pass`]):
//! - [`Target::conformance`]: every case of the harness's suite ([`crate::suite::run_backend`]);
//! - [`Target::parity`]: the [`crate::parity`] suite, with [`REFERENCE_BACKEND`] as the
//!   reference that is not built on the AI SDK, itself started from its manifest;
//! - for a backend whose JS runtime is a process of its own, [`Target::runtime_dies_with_it`]
//!   and [`Target::stops_cleanly_on_sigterm`].
//!
//! Logs and the answers of failed cases go to a scratch folder, kept when a suite fails.

use std::path::Path;

use anyhow::{Context, Result, bail};
use contract::results::Outcome;
use rustix::process::Signal;

use crate::cases;
use crate::parity::{self, ParityEnv};
use crate::suite::{self, SuiteEnv};
use sut_kit::client;
use sut_kit::guards;
use sut_kit::manifest::{self, Backend};
use sut_kit::mock::Mock;
use sut_kit::oracle::Oracle;
use sut_kit::orchestrate::{self, BackendInstance, InstanceOptions, StartSettings};
use sut_kit::process::pid_alive;

/// The build the tests run against.
const PROFILE: &str = "debug";
/// The parity suite's reference: the one backend that does not run the AI SDK, so agreeing
/// with it and with the SDK's own `streamText` pins an answer down from both sides.
pub const REFERENCE_BACKEND: &str = "rust-only";

/// Runs the suites every backend passes as a test of the backend named `$backend` (its
/// manifest's name). One test plays both suites in turn: run side by side they doubled the
/// Node processes on the machine, and a starved sidecar missed its health probes. With
/// `runtime_process` (a backend whose JS runtime is a process of its own), two more tests: the
/// runtime ends with the backend on SIGTERM, and on SIGKILL.
#[macro_export]
macro_rules! backend_suites {
    ($backend:literal) => {
        /// Every case of `harness conformance`, read by the Rust checker and by the AI SDK;
        /// then the same answers as the AI SDK's own `streamText` and as rust-only.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn passes_the_conformance_and_parity_suites() {
            let target = $crate::target::Target::start($backend).await;
            target.assert_suites_pass().await;
        }
    };
    ($backend:literal, runtime_process) => {
        $crate::backend_suites!($backend);

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sigterm_stops_the_backend_and_its_runtime() {
            let target = $crate::target::Target::start($backend).await;
            let stopped = target.stops_cleanly_on_sigterm().await;
            stopped.unwrap_or_else(|e| panic!("{e:#}"));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn no_runtime_outlives_a_sigkilled_backend() {
            let target = $crate::target::Target::start($backend).await;
            let outlived = target.runtime_dies_with_it().await;
            outlived.unwrap_or_else(|e| panic!("{e:#}"));
        }
    };
}

/// A backend under test with its own mock provider.
#[derive(Debug)]
pub struct Target {
    pub backend: Backend,
    pub mock: Mock,
    root: std::path::PathBuf,
    scratch: tempfile::TempDir,
}

impl Target {
    /// The backend named `name` with a fresh mock. Panics, saying what to build or install,
    /// when anything is missing: this is the start of a test.
    pub async fn start(name: &str) -> Self {
        match Self::try_start(name).await {
            Ok(target) => target,
            Err(e) => panic!("cannot test {name}: {e:#}"),
        }
    }

    async fn try_start(name: &str) -> Result<Self> {
        let root = sut_kit::repo_root();
        let backend = find(&root, name)?;
        let scratch = tempfile::Builder::new()
            .prefix(&format!("conformance-{name}-"))
            .tempdir()
            .context("cannot create a scratch folder")?;
        let mock = Mock::start().await?;
        Ok(Self {
            backend,
            mock,
            root,
            scratch,
        })
    }

    /// How this target's instances start: the common flags against its mock, a canary key.
    pub fn settings(&self) -> StartSettings {
        StartSettings {
            root: self.root.clone(),
            profile: PROFILE.to_owned(),
            provider_url: self.mock.openai_url(),
            api_key: orchestrate::api_key_canary(),
            ready_timeout: orchestrate::DEFAULT_READY_TIMEOUT,
            extra_args: vec![],
            env: Vec::new(),
        }
    }

    /// Starts an instance of the backend with `flags` beyond the common ones; `label` names
    /// its logs. Panics when it does not start, with why: this is a test's first step.
    pub async fn instance(&self, label: &str, flags: &[&str]) -> BackendInstance {
        self.instance_of(&self.backend, label, flags).await
    }

    async fn instance_of(&self, backend: &Backend, label: &str, flags: &[&str]) -> BackendInstance {
        let options = InstanceOptions {
            extra_args: flags.iter().map(|f| (*f).to_owned()).collect(),
            instance: Some(label.to_owned()),
        };
        let logs = self.scratch.path().join("logs");
        orchestrate::start_backend(backend, &self.settings(), &options, &logs)
            .await
            .unwrap_or_else(|e| panic!("{} did not start: {e}", backend.name()))
    }

    /// Plays every case of the conformance suite; the failed ones, with their reasons (cases
    /// a backend does not support, by a documented choice, are printed, not failed).
    pub async fn conformance(&self, oracle: &Oracle) -> Vec<String> {
        let env = SuiteEnv {
            start: self.settings(),
            oracle,
            mock: &self.mock,
            quick: false,
            run_path: self.scratch.path().to_owned(),
        };
        let results = suite::run_backend(&self.backend, &cases::all_cases(&[]), &env).await;
        let mut failures = Vec::new();
        for case in results {
            let reason = case.reason.unwrap_or_default();
            match case.outcome {
                Outcome::Ok => {}
                Outcome::Unsupported => eprintln!("{}: unsupported: {reason}", case.scenario),
                _ => failures.push(format!("{}: {reason}", case.scenario)),
            }
        }
        failures
    }

    /// Runs the parity suite on an instance of the backend, against [`REFERENCE_BACKEND`]
    /// (unless that is the backend under test) and the AI SDK; what differs.
    pub async fn parity(&self, oracle: &Oracle) -> Vec<String> {
        let flags = parity::instance_flags();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let target = self.instance("parity", &flags).await;
        let reference = match self.backend.name() {
            REFERENCE_BACKEND => None,
            _ => {
                let backend = find(&self.root, REFERENCE_BACKEND)
                    .unwrap_or_else(|e| panic!("the parity reference: {e:#}"));
                Some(self.instance_of(&backend, "parity-reference", &flags).await)
            }
        };
        let env = ParityEnv {
            client: client::http_client().unwrap_or_else(|e| panic!("{e:#}")),
            oracle,
            root: self.root.clone(),
            provider_url: self.mock.openai_url(),
            log_dir: self.scratch.path().join("logs"),
            target: target.url().to_owned(),
            rust_only: reference.as_ref().map(|r| r.url().to_owned()),
        };
        let failures = parity::run(&env).await;
        target.stop().await;
        if let Some(reference) = reference {
            reference.stop().await;
        }
        failures
    }

    /// SIGKILLs an instance whose JS runtime is a process of its own (its ready line's
    /// `runtime_pid`): the runtime must not outlive it, although the backend ran no cleanup.
    pub async fn runtime_dies_with_it(&self) -> Result<()> {
        let mut instance = self.instance("sigkill", &[]).await;
        let ready = instance.ready().clone();
        let runtime = ready
            .runtime_pid
            .filter(|&p| p != ready.pid)
            .context("the ready line names no runtime process of its own")?;
        if !pid_alive(runtime) {
            bail!("the runtime {runtime} is not running");
        }
        instance.process.signal(Signal::KILL);
        instance.process.wait_exit(guards::HANG_GUARD).await;
        let gone =
            guards::wait_until("the runtime's exit", || async move { !pid_alive(runtime) }).await;
        instance.stop().await;
        gone.map(drop)
            .with_context(|| format!("runtime {runtime} outlived its SIGKILLed backend"))
    }

    /// SIGTERMs an instance: it must exit with status 0, within the grace of
    /// docs/design.md#shutdown, its runtime process gone with it.
    pub async fn stops_cleanly_on_sigterm(&self) -> Result<()> {
        let instance = self.instance("sigterm", &[]).await;
        if instance
            .ready()
            .runtime_pid
            .is_none_or(|p| p == instance.ready().pid)
        {
            bail!("the ready line names no runtime process of its own");
        }
        let stop = instance.stop().await;
        if stop.forced || stop.stragglers_killed {
            bail!("SIGTERM left it or its runtime running: {stop:?}");
        }
        match stop.status {
            Some(status) if status.success() => Ok(()),
            other => bail!("it exited on SIGTERM with {other:?}, not 0"),
        }
    }

    /// Plays the conformance suite, then the parity suite; panics with what failed, keeping
    /// the scratch folder (logs, failed answers) and naming it. A test's assertion.
    pub async fn assert_suites_pass(self) {
        let oracle = Oracle::start(&self.root, self.scratch.path())
            .unwrap_or_else(|e| panic!("the AI SDK oracle: {e:#}"));
        let mut failures: Vec<String> = self
            .conformance(&oracle)
            .await
            .into_iter()
            .map(|f| format!("conformance: {f}"))
            .collect();
        let parity = self.parity(&oracle).await;
        failures.extend(parity.into_iter().map(|f| format!("parity: {f}")));
        if failures.is_empty() {
            return;
        }
        let kept = self.scratch.keep();
        panic!(
            "{} failed {} checks (logs and answers in {}):\n{}",
            self.backend.name(),
            failures.len(),
            kept.display(),
            failures.join("\n")
        );
    }
}

/// The backend named `name` among the manifests under `root`: a variant (`unix+sse`) or a
/// target on another runtime or stack (`unix@node20-ai6`, which must be installed).
fn find(root: &Path, name: &str) -> Result<Backend> {
    let bases = manifest::discover(&root.join("backends"))?;
    let mut backends = manifest::with_variants(&bases);
    if let (_, Some(runtime)) = contract::runtime::split_target(name) {
        backends.extend(manifest::with_runtimes(&bases, &[runtime]));
    }
    let names: Vec<String> = backends.iter().map(|b| b.name().to_owned()).collect();
    let backend = backends
        .into_iter()
        .find(|b| b.name() == name)
        .with_context(|| format!("no backend named {name}; the manifests name {names:?}"))?;
    let missing = backend.missing_artifacts(root, PROFILE);
    if !missing.is_empty() {
        bail!(
            "{name} is not built ({PROFILE}): missing {}; run `scripts/setup`",
            missing.join(", ")
        );
    }
    Ok(backend)
}
