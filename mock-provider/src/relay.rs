//! The zero-work relay: a process that forwards the provider's bytes, both ways, as they come,
//! and does nothing else. The bench runs it as a target beside `direct`: its chunk transit over
//! `direct` is the floor any process hop pays at that pace on this machine, and how far it
//! carries load beside `direct` calibrates the load generator (docs/bench.md#calibration). It
//! lives beside the mock so that it is built with it, in the run's profile, as the backends are
//! (the binary is `arena-relay`, `src/bin/arena-relay.rs`).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

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
