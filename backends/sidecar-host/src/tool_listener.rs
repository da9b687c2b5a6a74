//! The internal listener the sidecar calls tools back on, never on the public port. Each
//! transport opens it its own way ([`crate::Transport::open_tool_listener`]: a 0600 socket in
//! the private directory, or a loopback port whose routes demand a per-launch token) and hands
//! it here to be served.

use axum::Router;
use axum::serve::Listener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::sidecar_env::SidecarEnv;

/// A running internal listener.
#[derive(Debug)]
pub struct ToolListener {
    /// What a sidecar's environment says about this listener: where it is, and the
    /// credential it demands.
    pub callback: SidecarEnv,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl ToolListener {
    /// Serves `router` on `listener` on a task of its own, until [`ToolListener::stop`];
    /// `callback` tells a sidecar how to reach it.
    pub fn serve<L>(listener: L, router: Router, callback: SidecarEnv) -> Self
    where
        L: Listener,
        L::Addr: std::fmt::Debug,
    {
        let shutdown = CancellationToken::new();
        let stopped = shutdown.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(stopped);
            if let Err(e) = serve.await {
                tracing::error!("the tool-callback listener failed: {e}");
            }
        });
        Self {
            callback,
            shutdown,
            task,
        }
    }

    /// Stops taking connections, lets the calls in progress finish, and waits for them.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
