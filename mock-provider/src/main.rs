//! `mock-provider`: the OpenAI-compatible mock as a process (the library does the work).
//!
//! Binds `--listen`, prints one ready line on stdout once it serves, logs to stderr, and stops
//! cleanly on SIGTERM or SIGINT.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use contract::ready::ReadyLine;
use mock_provider::MockConfig;
use mock_provider::config::DEFAULT_MODEL;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "OpenAI-compatible mock provider with scripted scenarios and a timeline"
)]
struct Args {
    /// Address to listen on; port 0 lets the kernel pick (the ready line says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Model name reported when a request names none.
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: String,
    /// Runtime worker threads; 1 runs everything on one thread (how the benchmark pins it to
    /// one core). Default: one per core.
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    raise_open_file_limit();
    let runtime = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.max(1))
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .context("cannot start the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = mock_provider::server::bind(args.listen).with_context(|| {
        format!(
            "cannot listen on {}; pick a free address or port 0",
            args.listen
        )
    })?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let config = MockConfig {
        listen: addr,
        model: args.model,
        ..MockConfig::default()
    };
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
        }
    };
    let server = tokio::spawn(mock_provider::serve(listener, config, shutdown));
    // The listener is bound and the accept loop is spawned: connections are served from here.
    let ready = ReadyLine::new("mock-provider", format!("http://{addr}"), None);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", ready.to_line()).context("cannot write the ready line")?;
    stdout.flush().context("cannot write the ready line")?;
    drop(stdout);
    tracing::info!(%addr, "mock provider serving");
    server.await.context("the server task failed")??;
    Ok(())
}

/// Thousands of concurrent streams need thousands of sockets; the default soft limit (often
/// 1024) is lower than the hard limit for no reason that applies here.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
        }
    }
}
