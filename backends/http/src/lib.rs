//! The `http` architecture: the Rust server (the core shell) supervises a Node.js sidecar
//! running the AI SDK and reaches it over loopback TCP on a kernel-chosen port, with a
//! per-launch bearer token; the sidecar calls tools back over the same kind of transport.
//!
//! Everything but the choice of transport lives in `sidecar-host`, shared with the other
//! sidecar architecture; this crate is that choice, the command line, and the entry tests use.

use clap::Parser;
use leanspec_core::{CoreState, ServerArgs};
pub use sidecar_host::host::Host;
use sidecar_host::{SidecarArgs, TransportKind};

/// The transport this backend uses between the Rust server and its sidecars.
pub const TRANSPORT: TransportKind = TransportKind::Http;

/// `backend-http`'s command line: the common server flags plus the sidecar flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "backend-http",
    version,
    about = "Rust server + Node.js sidecar over loopback HTTP"
)]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub sidecar: SidecarArgs,
}

/// Starts the tool listener and the sidecars over the shell's `state`; serve the result with
/// [`Host::serve`].
pub async fn start(
    server: &ServerArgs,
    state: CoreState,
    sidecar: &SidecarArgs,
) -> anyhow::Result<Host> {
    Host::start(TRANSPORT, server, state, sidecar).await
}

/// The binary's whole life: bind, start, print the ready line, serve until SIGTERM/SIGINT.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    sidecar_host::host::run(TRANSPORT, cli.server, cli.sidecar).await
}
