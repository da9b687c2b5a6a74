//! A client that stops reading: how much of its stream waits in the kernel between the
//! sidecar and the server before the stall reaches the sidecar (docs/readers.md#the-sidecars-own-socket).

use std::time::Duration;

use backend_http::{HttpTransport, SIDECAR_SOCKET_BUFFER};
use contract::scenario::{Directive, Scenario};
use sut_kit::guards::HANG_GUARD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use sidecar_host::SidecarWire;
use sidecar_host::member::Phase;

use crate::support::{Stack, StackOptions};

/// The stall has reached the sidecar once its connection's queues stayed the same this many
/// looks in a row.
const STILL_LOOKS: u32 = 10;
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// What a send queue may hold beyond its limit: the segment being queued when the limit was
/// reached (loopback's MTU is 64 KiB), seen as about 160 KB queued under a 128 KiB limit.
const SEGMENT_OVERSHOOT: u64 = 64 * 1024;
/// The stalled client's receive buffer: a small window, as in the crash study.
const CLIENT_RCVBUF: u32 = 4 * 1024;

/// On loopback TCP the kernel would autotune the sidecar's send buffer and the server's
/// receive buffer to megabytes, all of it UI stream the sidecar produced for a client that
/// reads nothing (4 MB seen). With the server's capped listener and receive buffer, each end
/// holds twice `SIDECAR_SOCKET_BUFFER` (Linux doubles the size asked for), the send queue one
/// segment more.
pub async fn a_stalled_client_fills_at_most_the_capped_buffers_to_an_http_sidecar(
    wire: SidecarWire,
) {
    let stack = Stack::<HttpTransport>::start(StackOptions::on(wire)).await;
    let sidecar_port = match stack.pool().members()[0].phase() {
        Phase::Up { client } => client.endpoint().addr.port(),
        Phase::Down { .. } => panic!("the sidecar is up"),
    };
    let mut directive = Directive::new(Scenario::Text);
    directive.params.ttft_ms = 0;
    directive.params.gap_ms = 0;
    directive.params.chunks = 100_000;
    let body = serde_json::to_vec(&conformance::cases::single_turn(
        "stall",
        directive.render(),
    ))
    .expect("a body");
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(CLIENT_RCVBUF).expect("rcvbuf");
    let addr = stack
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    let mut client = socket.connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/chat HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await.expect("head");
    client.write_all(&body).await.expect("body");
    let mut first = [0u8; 1024];
    let read = tokio::time::timeout(HANG_GUARD, client.read(&mut first))
        .await
        .expect("the stream begins")
        .expect("a read");
    assert!(read > 0);

    let deadline = std::time::Instant::now() + HANG_GUARD;
    let (mut last, mut still) = (queued_bytes(sidecar_port), 0);
    while still < STILL_LOOKS {
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar's connection kept filling for a client that stopped reading"
        );
        tokio::time::sleep(LOOK_EVERY).await;
        let now = queued_bytes(sidecar_port);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    let bound = 2 * 2 * u64::from(SIDECAR_SOCKET_BUFFER) + SEGMENT_OVERSHOOT;
    eprintln!("a stalled client left {last} bytes queued between the sidecar and the server");
    assert!(
        last <= bound,
        "{last} bytes queued between the sidecar and the server for a stalled client (bound {bound})"
    );
    drop(client);
    stack.stop().await;
}

/// Bytes queued on loopback TCP connections from or to `port` (send queues and receive queues
/// together), from `/proc/net/tcp`; listening sockets left out.
fn queued_bytes(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port_of = |address: &str| {
        address
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state, queues) = (
                fields.get(1)?,
                fields.get(2)?,
                fields.get(3)?,
                fields.get(4)?,
            );
            let ours = port_of(local) == Some(port) || port_of(remote) == Some(port);
            // 0A: LISTEN.
            if !ours || *state == "0A" {
                return None;
            }
            let (tx, rx) = queues.split_once(':')?;
            Some(u64::from_str_radix(tx, 16).ok()? + u64::from_str_radix(rx, 16).ok()?)
        })
        .sum()
}
