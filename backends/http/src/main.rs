//! `backend-http`: parses the flags and runs the server (see the library for the design).
//! Logs go to stderr (`RUST_LOG` filters them); stdout carries only the ready line.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    leanspec_core::init_tracing();
    backend_http::run(backend_http::Cli::parse()).await
}
