//! `backend-rust-only`: the pure-Rust chat server. Parses the shared flags plus its own retry
//! delay, binds, serves until SIGTERM/SIGINT; everything else lives in the library.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backend_rust_only::{RetryPolicy, RustOnlyBackend};
use clap::Parser;
use leanspec_core::{BoundServer, ServerArgs};

#[derive(Debug, Parser)]
#[command(
    name = "backend-rust-only",
    about = "Rust server + async-openai, own tool loop"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// Delay before the first retry, in milliseconds (doubles for each further retry).
    #[arg(long, default_value_t = RetryPolicy::default().initial_delay.as_millis() as u64)]
    retry_initial_delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    leanspec_core::init_tracing();
    leanspec_core::stage_clock::init();
    let cli = Cli::parse();
    let retry = RetryPolicy {
        max_retries: cli.server.max_retries,
        initial_delay: Duration::from_millis(cli.retry_initial_delay_ms),
        ..RetryPolicy::default()
    };
    let server = BoundServer::bind(cli.server).await?;
    let backend = RustOnlyBackend::from_args(&server.args, server.state.toolbox().clone(), retry)
        .context("invalid provider settings")?;
    server.run(Arc::new(backend)).await
}
