//! The zero-work relay: a process that forwards the provider's bytes, both ways, as they come,
//! and does nothing else. The bench runs it as a target beside `direct`: its chunk transit over
//! `direct` is the floor any process hop pays at that pace on this machine, and how far it
//! carries load beside `direct` calibrates the load generator (docs/bench.md#calibration).
//! The binary is `arena-relay` (`src/bin/arena-relay.rs`), built beside the harness's own: by
//! `cargo test` and `cargo build -p harness`, and by [`ensure_binary`] when the harness was
//! started with `cargo run`, which builds only the binary it runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio::net::{TcpListener, TcpStream};

/// The relay's binary name, beside the harness's own.
pub const BINARY: &str = "arena-relay";

/// The relay binary beside the running harness (or one folder up, where `cargo test`'s harness
/// runs from `deps/`).
fn beside_harness() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(BINARY), dir.parent()?.join(BINARY)]
        .into_iter()
        .find(|p| p.is_file())
}

/// The cargo profile a binary at `exe` was built with, from its output folder's name
/// (`target/<profile>/harness`, or `target/<profile>/deps/` under `cargo test`).
fn profile_of(exe: &Path) -> Option<String> {
    let mut dir = exe.parent()?;
    if dir.file_name()? == "deps" {
        dir = dir.parent()?;
    }
    Some(dir.file_name()?.to_str()?.to_owned())
}

/// The relay binary beside the harness, built with the harness's own profile when it is not
/// there yet (seconds: the harness's library is already built). The build's output goes to
/// `log_dir/build-arena-relay.log`.
pub async fn ensure_binary(root: &Path, log_dir: &Path) -> Result<PathBuf> {
    if let Some(found) = beside_harness() {
        return Ok(found);
    }
    let exe = std::env::current_exe().context("cannot find the running harness's binary")?;
    let profile =
        profile_of(&exe).context("cannot tell which profile the running harness was built with")?;
    // Cargo's `debug` output folder belongs to its default profile, which takes no flag.
    let flag = match profile.as_str() {
        "debug" => String::new(),
        "release" => " --release".to_owned(),
        other => format!(" --profile {other}"),
    };
    let command = format!("cargo build{flag} -p harness --bin {BINARY}");
    eprintln!("building the zero-work relay ({command})");
    let log = log_dir.join(format!("build-{BINARY}.log"));
    crate::step::run_ok(&command, root, &log).await?;
    beside_harness()
        .with_context(|| format!("`{command}` succeeded but {BINARY} is not beside the harness"))
}

/// Accepts on `listener` forever; each connection is joined to a new connection to `upstream`
/// and the two are copied into each other until either side closes.
pub async fn serve(listener: TcpListener, upstream: SocketAddr) -> std::io::Result<()> {
    loop {
        let (mut inbound, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                return;
            };
            // A chunk is one small write: Nagle would hold it for the previous one's ack.
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_profile_is_the_output_folder_of_the_binary_or_of_its_deps() {
        let of = |p: &str| profile_of(Path::new(p));
        assert_eq!(of("/r/target/release/harness").as_deref(), Some("release"));
        assert_eq!(
            of("/r/target/debug/deps/harness-0a1b").as_deref(),
            Some("debug")
        );
        assert_eq!(
            of("/r/target/profiling/harness").as_deref(),
            Some("profiling")
        );
    }

    #[tokio::test]
    async fn forwards_bytes_both_ways() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = upstream.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&[buf[0] + 1, buf[1] + 1, buf[2] + 1, buf[3] + 1])
                .await
                .unwrap();
        });
        let relay = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_addr = relay.local_addr().unwrap();
        tokio::spawn(serve(relay, upstream_addr));
        let mut client = TcpStream::connect(relay_addr).await.unwrap();
        client.write_all(b"abcd").await.unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"bcde");
    }
}
