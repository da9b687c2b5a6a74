//! Runs the core shell inside the Node process: bind, serve, announce, shut down.
//!
//! Everything here runs on napi-rs's tokio runtime (the `serve` export is an async `#[napi]`
//! method), through core's `BoundServer`, the same start-up path as every other backend: it
//! prints the ready line once `/health` answers 200. Only the shutdown trigger differs: Node
//! owns the process's signals, so `main.js` turns SIGTERM/SIGINT into `Backend.shutdown()`,
//! which fires the token passed here.
//!
//! Why the process then exits by itself: tokio's worker threads are not libuv handles and never
//! keep Node alive; the pending `serve()` promise does, and it resolves only after core's
//! graceful shutdown (every stream in flight ended, at most `contract::SHUTDOWN_GRACE`). The
//! chat callback is a weak threadsafe function, so nothing of ours is left on the event loop
//! after that.

use std::sync::Arc;

use leanspec_core::args::ServerArgs;
use leanspec_core::launch::BoundServer;
use leanspec_core::server::CoreState;
use tokio_util::sync::CancellationToken;

use crate::chat::NapiChat;

/// Binds `--listen`, serves until `shutdown` fires, and prints the ready line once `/health`
/// answers 200.
pub async fn run(
    args: ServerArgs,
    state: CoreState,
    chat: NapiChat,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    BoundServer::bind_loaded(args, state)
        .await?
        .run_until(Arc::new(chat), shutdown.cancelled_owned())
        .await
}
