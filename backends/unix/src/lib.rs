//! The `unix` architecture: the Rust server (the core shell) supervises a Node.js sidecar
//! running the AI SDK and reaches it over a Unix socket (mode 0600, in a 0700 directory); the
//! sidecar calls tools back over a socket of the same kind.
//!
//! Everything but the transport lives in `sidecar-host`, shared with the other sidecar
//! architecture; this crate is that transport ([`UnixTransport`], with the flags only it
//! has); the command line is `sidecar_host::Cli` over it.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use leanspec_core::{InternalAuth, Toolbox, internal_router};
use sidecar_host::tool_listener::ToolListener;
use sidecar_host::{Endpoint, SidecarEnv, SidecarMode, Transport};
use tokio::net::{UnixListener, UnixStream};

/// Socket files: owner read/write only.
pub const SOCKET_MODE: u32 = 0o600;
/// Tells a sidecar the socket to listen on.
pub const CHAT_SOCKET_VAR: &str = "LEANSPEC_CHAT_SOCKET";
/// Tells a sidecar the socket to call tools back on.
pub const TOOLS_SOCKET_VAR: &str = "LEANSPEC_TOOLS_SOCKET";

/// Unix sockets both ways: the socket's mode and its private directory are the credential.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UnixTransport {
    /// External mode: the sidecar's socket (repeat for a pool).
    #[arg(long = "sidecar-socket", value_name = "PATH")]
    pub sockets: Vec<PathBuf>,

    /// Where the tool-callback socket is created (default: `tools.sock` in a fresh private
    /// directory, logged at startup in external mode).
    #[arg(long = "tools-socket", value_name = "PATH")]
    pub tools_socket: Option<PathBuf>,
}

impl Transport for UnixTransport {
    type Endpoint = UnixEndpoint;
    const NAME: &'static str = "unix";

    fn open_tool_listener(
        &self,
        tools: Toolbox,
        runtime_dir: &Path,
        _mode: SidecarMode,
    ) -> anyhow::Result<ToolListener> {
        let path = self
            .tools_socket
            .clone()
            .unwrap_or_else(|| runtime_dir.join("tools.sock"));
        let listener = bind_private(&path)
            .with_context(|| format!("cannot create the tool socket {}", path.display()))?;
        let router = internal_router(tools, InternalAuth::Transport);
        let mut callback = SidecarEnv::default();
        callback.set(TOOLS_SOCKET_VAR, &path);
        Ok(ToolListener::serve(listener, router, callback))
    }

    fn listen_env(&self, runtime_dir: &Path, member: usize) -> io::Result<SidecarEnv> {
        let socket = runtime_dir.join(format!("chat-{member}.sock"));
        remove_stale(&socket)?;
        let mut env = SidecarEnv::default();
        env.set(CHAT_SOCKET_VAR, socket);
        Ok(env)
    }

    fn endpoint(&self, listen: &SidecarEnv, url: &str) -> Result<UnixEndpoint, &'static str> {
        let told = listen.get(CHAT_SOCKET_VAR).ok_or("no socket was given")?;
        let path = url.strip_prefix("unix:").ok_or("expected unix:<path>")?;
        if Path::new(path) != Path::new(told) {
            return Err("not the socket path it was given");
        }
        Ok(UnixEndpoint(PathBuf::from(told)))
    }

    fn external_endpoints(&self) -> anyhow::Result<Vec<UnixEndpoint>> {
        if self.sockets.is_empty() {
            bail!(
                "--sidecar external needs --sidecar-socket PATH (the sidecar's LEANSPEC_CHAT_SOCKET)"
            );
        }
        Ok(self.sockets.iter().cloned().map(UnixEndpoint).collect())
    }
}

/// A sidecar's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixEndpoint(pub PathBuf);

impl std::fmt::Display for UnixEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unix:{}", self.0.display())
    }
}

impl Endpoint for UnixEndpoint {
    type Stream = UnixStream;

    async fn connect(&self) -> io::Result<UnixStream> {
        UnixStream::connect(&self.0).await
    }

    fn uri(&self, path: &str) -> String {
        // The authority is never dialled; Node only needs a syntactically valid Host header.
        format!("http://sidecar{path}")
    }

    fn bearer_token(&self) -> Option<&str> {
        None
    }
}

/// A new socket at `path` (a stale one removed first), mode [`SOCKET_MODE`]; its directory
/// must be private already.
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    remove_stale(path)?;
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    Ok(listener)
}

fn remove_stale(socket: &Path) -> io::Result<()> {
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
    use sidecar_host::SidecarClient;

    #[tokio::test]
    async fn requests_carry_no_token_and_json_only_with_a_body() {
        let client = SidecarClient::new(UnixEndpoint("/nonexistent.sock".into()));
        let request = client.request("GET", "/health", bytes::Bytes::new());
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert!(request.headers().get(CONTENT_TYPE).is_none());
        assert_eq!(request.uri(), "http://sidecar/health");
    }

    #[test]
    fn a_ready_line_must_name_the_socket_the_sidecar_was_given() {
        let dir = Path::new("/run/x");
        let mut env = SidecarEnv::default();
        env.set(CHAT_SOCKET_VAR, dir.join("chat-0.sock"));
        let transport = UnixTransport::default();
        assert_eq!(
            transport.endpoint(&env, "unix:/run/x/chat-0.sock"),
            Ok(UnixEndpoint(dir.join("chat-0.sock")))
        );
        assert!(transport.endpoint(&env, "unix:/run/x/other.sock").is_err());
        assert!(transport.endpoint(&env, "http://127.0.0.1:1").is_err());
    }
}
