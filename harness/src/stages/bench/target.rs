//! What the bench stage measures: the backends, started from their manifests, and the two
//! references every backend is compared with (docs/bench.md#targets):
//! - `direct`: the client reading the mock provider itself, the floor of any architecture;
//! - `aisdk-node`: the AI SDK in one plain Node process (sut-kit/node/aisdk-node.mjs), the
//!   in-process equivalent of the Node architectures.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use sut_kit::manifest::{Backend, IpcHop, Runtime};
use sut_kit::orchestrate::{self, BackendInstance, InstanceOptions, StartSettings};
use sut_kit::process::{self, ProcessSpec, RunningProcess};

use super::observe::StreamKind;
use crate::procfs;

pub use contract::results::stages::{AISDK_NODE, DIRECT, RELAY};
/// The reference server, relative to the repository root.
pub const AISDK_NODE_SCRIPT: &str = "sut-kit/node/aisdk-node.mjs";
/// The same reference bundled against a stack's own AI SDK, in that stack's `dist/`
/// (backends/sidecar/scripts/build.mjs `--with-aisdk-node`).
pub const AISDK_NODE_BUNDLE: &str = "aisdk-node.mjs";

/// Whether `name` is one of the references every backend is read against (`direct`, the relay,
/// `aisdk-node` on any runtime), which a quick run measures less of than the backends.
pub fn is_shared_reference(name: &str) -> bool {
    let (base, _) = contract::runtime::split_target(name);
    [DIRECT, RELAY, AISDK_NODE].contains(&base)
}

/// One thing the bench sends conversations to.
#[derive(Debug)]
pub struct Target {
    /// As in results.json: a backend's name, `direct`, `aisdk-node`, or a self-check instance
    /// (`unix+100us`).
    pub name: String,
    /// Where `POST` goes: a server's base URL, or the mock's OpenAI base URL for `direct`.
    url: String,
    pub kind: StreamKind,
    /// The target whose figures this one's inter-process overhead is taken against.
    pub ipc_reference: Option<String>,
    /// The hop this architecture adds over its reference, for the floor multiple.
    pub ipc_hop: Option<IpcHop>,
    running: Running,
}

#[derive(Debug)]
enum Running {
    Backend(BackendInstance),
    /// A process of the bench's own: `aisdk-node`, the relay.
    Process(RunningProcess),
    /// The mock belongs to the stage, not to the target.
    Nothing,
}

impl Target {
    pub fn direct(provider_url: &str) -> Self {
        Self {
            name: DIRECT.to_owned(),
            url: provider_url.trim_end_matches('/').to_owned(),
            kind: StreamKind::OpenAi,
            ipc_reference: None,
            ipc_hop: None,
            running: Running::Nothing,
        }
    }

    /// Starts a backend from its manifest; `extra_args` for a self-check instance.
    pub async fn backend(
        backend: &Backend,
        launch: &StartSettings,
        log_dir: &Path,
        name: &str,
        extra_args: Vec<String>,
    ) -> Result<Self> {
        let options = InstanceOptions {
            extra_args,
            instance: (name != backend.name()).then(|| name.replace('+', "-")),
        };
        let instance = orchestrate::start_backend(backend, launch, &options, log_dir)
            .await
            .with_context(|| format!("{name} did not start"))?;
        // A target on another runtime is read against the AI SDK alone on that runtime.
        let ipc_reference = match backend.manifest.runtime {
            Runtime::Node => contract::runtime::target_name(AISDK_NODE, backend.runtime_name()),
            Runtime::None => DIRECT.to_owned(),
        };
        Ok(Self {
            name: name.to_owned(),
            url: instance.url().to_owned(),
            kind: StreamKind::UiMessages,
            ipc_reference: Some(ipc_reference),
            ipc_hop: backend.manifest.ipc_hop,
            running: Running::Backend(instance),
        })
    }

    /// Starts `aisdk-node` on the mock, on `runtime` (`aisdk-node@bun` beyond the default's).
    pub async fn aisdk_node(
        root: &Path,
        launch: &StartSettings,
        log_dir: &Path,
        ready_timeout: Duration,
        runtime: &str,
    ) -> Result<Self> {
        let name = contract::runtime::target_name(AISDK_NODE, runtime);
        // A stack with an AI SDK of its own runs aisdk-node bundled against it.
        let script = match contract::runtime::spec(runtime)?.sdk_dist() {
            Some(dist) => format!("{dist}/{AISDK_NODE_BUNDLE}"),
            None => AISDK_NODE_SCRIPT.to_owned(),
        };
        let spec = ProcessSpec {
            label: name.clone(),
            program: contract::runtime::resolve(root, runtime)?.binary,
            args: vec![
                script,
                "--listen".to_owned(),
                "127.0.0.1:0".to_owned(),
                "--provider-url".to_owned(),
                launch.provider_url.clone(),
            ],
            env: [(contract::API_KEY_ENV.to_owned(), launch.api_key.clone())]
                .into_iter()
                .chain(launch.env.iter().cloned())
                .collect(),
            cwd: root.to_owned(),
            log_dir: log_dir.to_owned(),
            ready_timeout,
        };
        let process = process::start(&spec).await.with_context(|| {
            format!(
                "{name} did not start (it runs backends/sidecar/src: is the sidecar installed?)"
            )
        })?;
        Ok(Self {
            name,
            url: process.ready.url.trim_end_matches('/').to_owned(),
            kind: StreamKind::UiMessages,
            ipc_reference: None,
            ipc_hop: None,
            running: Running::Process(process),
        })
    }

    /// Starts the zero-work relay in front of the mock: the client reads the provider's own
    /// stream through one more process that does nothing to it.
    pub async fn relay(
        launch: &StartSettings,
        log_dir: &Path,
        ready_timeout: Duration,
    ) -> Result<Self> {
        let program = crate::relay::ensure_binary(&launch.root, &launch.profile, log_dir).await?;
        let provider =
            reqwest::Url::parse(&launch.provider_url).context("the provider URL does not parse")?;
        let upstream = format!(
            "{}:{}",
            provider.host_str().unwrap_or("127.0.0.1"),
            provider.port_or_known_default().unwrap_or(80)
        );
        let spec = ProcessSpec {
            label: RELAY.to_owned(),
            program,
            args: vec!["--upstream".to_owned(), upstream],
            env: vec![],
            cwd: launch.root.clone(),
            log_dir: log_dir.to_owned(),
            ready_timeout,
        };
        let process = process::start(&spec)
            .await
            .context("the relay did not start")?;
        let url = format!(
            "{}{}",
            process.ready.url.trim_end_matches('/'),
            provider.path().trim_end_matches('/')
        );
        Ok(Self {
            name: RELAY.to_owned(),
            url,
            kind: StreamKind::OpenAi,
            ipc_reference: Some(DIRECT.to_owned()),
            ipc_hop: Some(IpcHop::LoopbackTcp),
            running: Running::Process(process),
        })
    }

    /// The request that opens a conversation whose user message is `text`.
    pub fn request(&self, client: &reqwest::Client, text: &str) -> reqwest::RequestBuilder {
        match self.kind {
            StreamKind::OpenAi => client
                .post(format!("{}/chat/completions", self.url))
                .json(&json!({
                    "model": contract::DEFAULT_MODEL,
                    "stream": true,
                    "stream_options": {"include_usage": true},
                    "messages": [{"role": "user", "content": text}],
                })),
            StreamKind::UiMessages => client.post(format!("{}/api/chat", self.url)).json(&json!({
                "id": "bench",
                "trigger": "submit-message",
                "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
            })),
        }
    }

    /// Whether the target runs a tool loop (the direct path has none).
    pub fn has_tools(&self) -> bool {
        self.kind == StreamKind::UiMessages
    }

    /// The processes that make the target up (none for `direct`, whose cost is the mock's).
    pub fn pids(&self) -> Vec<u32> {
        match &self.running {
            Running::Backend(instance) => {
                procfs::tree(instance.process.pgid(), instance.ready().runtime_pid)
            }
            Running::Process(process) => procfs::tree(process.pgid(), None),
            Running::Nothing => Vec::new(),
        }
    }

    /// The process group and the runtime outside it that make the target up ([`procfs::tree`]);
    /// none for `direct`.
    pub fn tree_source(&self) -> Option<(i32, Option<u32>)> {
        match &self.running {
            Running::Backend(instance) => {
                Some((instance.process.pgid(), instance.ready().runtime_pid))
            }
            Running::Process(process) => Some((process.pgid(), None)),
            Running::Nothing => None,
        }
    }

    /// Whether the target's own process is still there.
    pub fn is_alive(&mut self) -> bool {
        match &mut self.running {
            Running::Backend(instance) => !instance.process.has_exited(),
            Running::Process(process) => !process.has_exited(),
            Running::Nothing => true,
        }
    }

    pub async fn stop(self) {
        match self.running {
            Running::Backend(instance) => {
                instance.stop().await;
            }
            Running::Process(process) => {
                process.stop().await;
            }
            Running::Nothing => {}
        }
    }
}
