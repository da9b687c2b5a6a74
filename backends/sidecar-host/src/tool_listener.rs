//! The internal listener the sidecar calls tools back on, over the same transport it is
//! reached by, and never on the public port.
//!
//! unix: a socket file of mode 0600 in a directory of mode 0700, so only this user can connect.
//! http: a loopback port whose routes demand the per-launch bearer token (core's
//! `internal_router` checks it).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::serve::{Listener, ListenerExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::launch::ToolsCallback;

/// Socket files: owner read/write only.
pub const SOCKET_MODE: u32 = 0o600;

/// A running internal listener.
#[derive(Debug)]
pub struct ToolListener {
    pub endpoint: ToolEndpoint,
    task: JoinHandle<()>,
}

/// Where the listener is, as a sidecar needs to know it.
#[derive(Debug, Clone)]
pub enum ToolEndpoint {
    Socket(PathBuf),
    Tcp(SocketAddr),
}

impl ToolListener {
    /// Serves `router` on a new socket at `path` (its directory must be private already).
    pub fn bind_unix(path: &Path, router: Router, shutdown: CancellationToken) -> io::Result<Self> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
        let task = spawn_serve(listener, router, shutdown);
        Ok(Self {
            endpoint: ToolEndpoint::Socket(path.to_path_buf()),
            task,
        })
    }

    /// Serves `router` on a loopback port (`port` 0: the kernel picks).
    pub async fn bind_loopback(
        port: u16,
        router: Router,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        // A tool result must leave at once, not wait for the ACK of the previous write.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!("cannot set TCP_NODELAY on a tool connection: {e}");
            }
        });
        let task = spawn_serve(listener, router, shutdown);
        Ok(Self {
            endpoint: ToolEndpoint::Tcp(addr),
            task,
        })
    }

    /// What the sidecar's environment says about this listener.
    pub fn callback(&self, token: Option<&str>) -> ToolsCallback {
        match &self.endpoint {
            ToolEndpoint::Socket(path) => ToolsCallback::Socket(path.clone()),
            ToolEndpoint::Tcp(addr) => ToolsCallback::Url {
                url: format!("http://{addr}"),
                token: token.unwrap_or_default().to_owned(),
            },
        }
    }

    /// Waits for the listener to finish after its shutdown token fired.
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Serves `router` on `listener` until `shutdown`, on a task of its own.
fn spawn_serve<L>(listener: L, router: Router, shutdown: CancellationToken) -> JoinHandle<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        let serve =
            axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::error!("the tool-callback listener failed: {e}");
        }
    })
}
