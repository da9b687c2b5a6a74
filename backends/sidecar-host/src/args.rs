//! The flags the unix and http backends add to the common server flags; each backend's
//! transport adds its own (`backends/unix`, `backends/http`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

/// The most sidecars a pool may run; each is a Node process (an idle one: 57 MiB RSS, VmRSS of
/// `dist/server.mjs` under Node 20 just after its ready line).
const MAX_SIDECARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SidecarMode {
    /// Start the sidecars and supervise them (restart, no orphans).
    Managed,
    /// Connect to sidecars started separately (the two-terminal development mode).
    External,
}

/// How chat streams cross between the server and a sidecar (docs/frames.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SidecarWire {
    /// The sidecar answers each chat with an HTTP response of SSE, which the server relays:
    /// the notes' design, measured as the `+sse` variants.
    Sse,
    /// Every stream on one connection per sidecar as frames; the server writes the SSE. The
    /// default, the one the measurements favour (docs/frames.md#which-wire-by-default).
    Frames,
}

#[derive(Debug, Clone, Args)]
pub struct SidecarArgs {
    /// Who starts the Node.js sidecar.
    #[arg(long = "sidecar", value_enum, default_value_t = SidecarMode::Managed)]
    pub mode: SidecarMode,

    /// The sidecar script (default: `server.mjs` in the folder ARENA_SDK_DIST names, else
    /// backends/sidecar/dist/server.mjs, looked up from the working directory, then beside the
    /// executable's target/ folder).
    #[arg(long = "sidecar-entry", value_name = "PATH")]
    pub entry: Option<PathBuf>,

    /// The Node.js (or Node-compatible) binary that runs the sidecar. Default: the pinned
    /// runtime of the default stack (`runtimes/node26`, looked up from the working directory,
    /// then from the executable's checkout); whoever starts the backend may set ARENA_NODE.
    #[arg(long = "node", value_name = "PATH", env = contract::runtime::NODE_ENV)]
    pub node: Option<PathBuf>,

    /// Number of managed sidecars, routed by least connections.
    #[arg(long = "sidecars", default_value_t = 1, value_parser = parse_pool_size)]
    pub sidecars: usize,

    /// The wire chat streams take between the server and its sidecars. The default is the
    /// one the measurements favour (docs/frames.md#which-wire-by-default).
    #[arg(long = "sidecar-wire", value_enum, default_value_t = SidecarWire::Frames)]
    pub wire: SidecarWire,

    /// How long a starting sidecar may take to print its ready line.
    #[arg(long = "sidecar-ready-timeout-ms", default_value_t = 15_000)]
    pub ready_timeout_ms: u64,
}

fn parse_pool_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_SIDECARS).contains(&n) => Ok(n),
        _ => Err(format!("expected a pool size from 1 to {MAX_SIDECARS}")),
    }
}

/// Where the sidecar bundle lives relative to the repository root.
pub const DEFAULT_ENTRY: &str = "backends/sidecar/dist/server.mjs";

impl SidecarArgs {
    /// The binary that runs the sidecar: the flag (or ARENA_NODE), else the pinned default
    /// runtime; a clear error when neither is there.
    pub fn resolve_node(&self) -> Result<PathBuf, contract::runtime::RuntimeError> {
        match &self.node {
            Some(node) => Ok(node.clone()),
            None => contract::runtime::default_node(),
        }
    }

    pub fn ready_timeout(&self) -> Duration {
        Duration::from_millis(self.ready_timeout_ms)
    }

    /// The sidecar script: the flag, else the bundle under the working directory, else the
    /// bundle in the checkout the executable was built in (`target/<profile>/backend-*`).
    pub fn resolve_entry(&self) -> PathBuf {
        if let Some(entry) = &self.entry {
            return entry.clone();
        }
        // A stack with an AI SDK of its own (`unix@node20-ai6`): its bundles, as whoever
        // started the backend names them.
        if let Some(dist) =
            std::env::var_os(contract::runtime::SDK_DIST_ENV).filter(|d| !d.is_empty())
        {
            return PathBuf::from(dist).join("server.mjs");
        }
        let from_cwd = PathBuf::from(DEFAULT_ENTRY);
        if from_cwd.is_file() {
            return from_cwd;
        }
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent()?.parent()?.parent().map(Path::to_path_buf))
            .map(|root| root.join(DEFAULT_ENTRY))
            .filter(|p| p.is_file())
            .unwrap_or(from_cwd)
    }
}
