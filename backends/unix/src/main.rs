//! `backend-unix`: parses the flags and runs the server (see the library for the design).
//! Logs go to stderr (`RUST_LOG` filters them); stdout carries only the ready line.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    leanspec_core::init_tracing();
    let about = "Rust server + Node.js sidecar over a Unix socket";
    let cli = sidecar_host::Cli::<backend_unix::UnixTransport>::parse_as("backend-unix", about);
    cli.run().await
}
