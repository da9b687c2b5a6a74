//! The floor under every overhead, measured in the same run: a round trip of one small message
//! over a Unix socket and over loopback TCP, taken the way chunks travel (one message per
//! wake-up, both ends parked in a blocking read between messages, never spinning), and one
//! JS -> Rust call of the napi addon (docs/bench.md#calibration).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use contract::results::{Calibration, P50P99};

use crate::stats;

/// The size of one message: a small UI chunk.
const MESSAGE_BYTES: usize = 64;
/// The pause between round trips: long enough that both ends are asleep in `read` when the
/// next message comes, as between two chunks of a stream.
const PARK: Duration = Duration::from_millis(1);
/// Round trips thrown away first (page faults, the first wake-ups).
const WARMUP: usize = 50;

/// Ping-pong over a connected pair: the echo end runs on a thread of its own.
fn round_trips<S>(client: S, server: S, samples: usize) -> Result<P50P99>
where
    S: Read + Write + Send + 'static,
{
    let echo = std::thread::spawn(move || {
        let mut server = server;
        let mut buf = [0u8; MESSAGE_BYTES];
        while server.read_exact(&mut buf).is_ok() {
            if server.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut client = client;
    let message = [7u8; MESSAGE_BYTES];
    let mut back = [0u8; MESSAGE_BYTES];
    let mut h = stats::histogram();
    for i in 0..WARMUP + samples {
        std::thread::sleep(PARK);
        let start = Instant::now();
        client.write_all(&message)?;
        client.read_exact(&mut back)?;
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if i >= WARMUP {
            stats::record(&mut h, ns);
        }
    }
    drop(client);
    let _ = echo.join();
    Ok(P50P99 {
        p50: stats::quantile_us(&h, 0.5),
        p99: stats::quantile_us(&h, 0.99),
    })
}

/// Round trips over a Unix socket in a fresh temporary directory.
pub fn uds_rtt(samples: usize) -> Result<P50P99> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("calibration.sock");
    let listener = UnixListener::bind(&path)?;
    let client = UnixStream::connect(&path)?;
    let (server, _) = listener.accept()?;
    round_trips(client, server, samples)
}

/// Round trips over loopback TCP, Nagle off on both ends as every hop of the arena has it.
pub fn tcp_rtt(samples: usize) -> Result<P50P99> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    round_trips(client, server, samples)
}

/// The napi addon's cheapest call, from `backends/napi/bench/crossing.mjs --noop-only`.
pub fn napi_call_ns(root: &Path) -> Result<f64> {
    let script = root.join("backends/napi/bench/crossing.mjs");
    if !root.join("backends/napi/backend_napi.node").is_file() {
        bail!("the napi addon is not built (backends/napi/scripts/build-addon release)");
    }
    let node = contract::runtime::resolve(root, contract::runtime::DEFAULT_RUNTIME)?;
    let output = std::process::Command::new(&node.binary)
        .arg(&script)
        .args(["--json", "--noop-only"])
        .current_dir(root)
        .output()
        .context("cannot run node")?;
    if !output.status.success() {
        bail!(
            "crossing.mjs failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context("crossing.mjs --json printed something that is not JSON")?;
    json["js_to_rust_noop"]["median_ns"]
        .as_f64()
        .context("crossing.mjs printed no js_to_rust_noop.median_ns")
}

/// Everything above; a part that cannot be measured stays absent, with the reason returned.
pub fn measure(root: &Path, samples: usize) -> (Calibration, Vec<String>) {
    let mut problems = Vec::new();
    let mut keep = |what: &str, r: Result<P50P99>| match r {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{what}: {e:#}"));
            None
        }
    };
    let uds = keep("unix-socket round trip", uds_rtt(samples));
    let tcp = keep("loopback TCP round trip", tcp_rtt(samples));
    let napi = match napi_call_ns(root) {
        Ok(ns) => Some(ns),
        Err(e) => {
            problems.push(format!("napi call: {e:#}"));
            None
        }
    };
    (
        Calibration {
            uds_rtt_us: uds,
            tcp_rtt_us: tcp,
            napi_call_ns: napi,
        },
        problems,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sockets_give_a_round_trip_with_p99_above_p50() {
        for rtt in [uds_rtt(50).unwrap(), tcp_rtt(50).unwrap()] {
            assert!(rtt.p50 > 0.0 && rtt.p99 >= rtt.p50, "{rtt:?}");
        }
    }
}
