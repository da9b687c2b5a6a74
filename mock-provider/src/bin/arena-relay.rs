//! `arena-relay --upstream HOST:PORT [--listen HOST:PORT]`: the bench's zero-work relay
//! ([`mock_provider::relay`]); prints the arena's ready line once it listens.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Where the provider listens.
    #[arg(long)]
    upstream: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    let ready = contract::ready::ReadyLine::new("relay", url, None);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", ready.to_line()).context("cannot write the ready line")?;
    stdout.flush()?;
    drop(stdout);
    mock_provider::relay::serve(listener, args.upstream)
        .await
        .context("the relay stopped accepting")
}
