//! The flags the unix and http backends add to the common server flags.

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

#[derive(Debug, Clone, Args)]
pub struct SidecarArgs {
    /// Who starts the Node.js sidecar.
    #[arg(long = "sidecar", value_enum, default_value_t = SidecarMode::Managed)]
    pub mode: SidecarMode,

    /// External unix mode: the sidecar's socket (repeat for a pool).
    #[arg(long = "sidecar-socket", value_name = "PATH")]
    pub sockets: Vec<PathBuf>,

    /// External http mode: the sidecar's URL, `http://127.0.0.1:PORT` (repeat for a pool).
    #[arg(long = "sidecar-url", value_name = "URL")]
    pub urls: Vec<String>,

    /// External http mode: the bearer token the sidecar was started with.
    #[arg(
        long = "sidecar-token",
        env = "LEANSPEC_CHAT_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// The sidecar script (default: backends/sidecar/dist/server.mjs, looked up from the
    /// working directory, then beside the executable's target/ folder).
    #[arg(long = "sidecar-entry", value_name = "PATH")]
    pub entry: Option<PathBuf>,

    /// The Node.js binary.
    #[arg(long = "node", value_name = "PATH", default_value = "node")]
    pub node: PathBuf,

    /// Number of managed sidecars, routed by least connections.
    #[arg(long = "sidecars", default_value_t = 1, value_parser = parse_pool_size)]
    pub sidecars: usize,

    /// How long a starting sidecar may take to print its ready line.
    #[arg(long = "sidecar-ready-timeout-ms", default_value_t = 15_000)]
    pub ready_timeout_ms: u64,

    /// External mode: where the tool-callback socket is created (unix; default: a fresh
    /// private directory, logged at startup).
    #[arg(long = "tools-socket", value_name = "PATH")]
    pub tools_socket: Option<PathBuf>,

    /// External http mode: the tool-callback token both terminals share (default: a random
    /// one, which an external sidecar cannot know).
    #[arg(
        long = "tools-token",
        env = "LEANSPEC_TOOLS_TOKEN",
        hide_env_values = true
    )]
    pub tools_token: Option<String>,
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
    pub fn ready_timeout(&self) -> Duration {
        Duration::from_millis(self.ready_timeout_ms)
    }

    /// The sidecar script: the flag, else the bundle under the working directory, else the
    /// bundle in the checkout the executable was built in (`target/<profile>/backend-*`).
    pub fn resolve_entry(&self) -> PathBuf {
        if let Some(entry) = &self.entry {
            return entry.clone();
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
