//! The demultiplexer against a scripted sidecar on an in-memory pipe.

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

/// The sidecar's end of the pipe: frames out, frames in.
struct FakeSidecar {
    io: DuplexStream,
    decoder: FrameDecoder,
}

impl FakeSidecar {
    async fn send(&mut self, kind: Kind, stream: u32, payload: &[u8]) {
        let mut out = Vec::new();
        frames::encode(kind, stream, payload, &mut out).expect("encodes");
        self.io.write_all(&out).await.expect("writes");
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("writes");
    }

    /// The next frame the server sent.
    async fn receive(&mut self) -> frames::Frame {
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                return frame.expect("the server sends valid frames");
            }
            let mut buf = [0u8; 4096];
            let n = self.io.read(&mut buf).await.expect("reads");
            assert!(n > 0, "the server closed the connection");
            self.decoder.push(&buf[..n]);
        }
    }
}

/// A connection upgraded by a sidecar that answers 101, and that sidecar.
async fn connected() -> (FramesConnection, FakeSidecar) {
    connected_counting(Arc::default()).await
}

/// [`connected`], counting the reads that brought bytes into `received`.
async fn connected_counting(received: Arc<AtomicU64>) -> (FramesConnection, FakeSidecar) {
    let (server, mut sidecar) = tokio::io::duplex(1 << 20);
    let accept = async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            sidecar.read_exact(&mut byte).await.expect("a head");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).expect("text");
        assert!(head.starts_with("GET /frames HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("Upgrade: leanspec-frames\r\n"), "{head}");
        sidecar
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: leanspec-frames\r\n\r\n")
            .await
            .expect("answers");
        sidecar
    };
    let request = "GET /frames HTTP/1.1\r\nHost: sidecar\r\nConnection: Upgrade\r\nUpgrade: leanspec-frames\r\n\r\n";
    let (connection, sidecar) = tokio::join!(
        FramesConnection::upgrade_counting(server, request, received),
        accept
    );
    let fake = FakeSidecar {
        io: sidecar,
        decoder: FrameDecoder::new(),
    };
    (connection.expect("upgraded"), fake)
}

fn chunk(i: usize) -> Vec<u8> {
    format!("{{\"type\":\"text-delta\",\"id\":\"0\",\"delta\":\"{i}\"}}").into_bytes()
}

#[tokio::test]
async fn streams_are_demultiplexed_and_a_stalled_one_does_not_hold_the_others() {
    let (connection, mut sidecar) = connected().await;
    let mut stalled = connection.open(b"{\"a\":1}").expect("opens");
    let mut other = connection.open(b"{\"b\":2}").expect("opens");
    let open_a = sidecar.receive().await;
    let open_b = sidecar.receive().await;
    assert_eq!(
        (open_a.kind, open_a.payload.as_slice()),
        (Kind::Open, &b"{\"a\":1}"[..])
    );
    assert_eq!(open_b.kind, Kind::Open);
    // A full window for the stream nobody reads, then the other stream's whole answer.
    for i in 0..STREAM_WINDOW as usize {
        sidecar.send(Kind::Chunk, open_a.stream, &chunk(i)).await;
    }
    sidecar.send(Kind::Chunk, open_b.stream, &chunk(0)).await;
    sidecar.send(Kind::End, open_b.stream, &[]).await;
    assert_eq!(other.next().await, Some(Event::Chunk(chunk(0))));
    assert_eq!(other.next().await, Some(Event::End));
    assert_eq!(other.next().await, None);
    // The stalled stream kept its window, in order.
    for i in 0..STREAM_WINDOW as usize {
        assert_eq!(stalled.next().await, Some(Event::Chunk(chunk(i))));
    }
}

#[tokio::test]
async fn a_stream_past_its_window_is_ended_and_cancelled_and_the_others_go_on() {
    let (connection, mut sidecar) = connected().await;
    let mut overrun = connection.open(b"{}").expect("opens");
    let mut other = connection.open(b"{}").expect("opens");
    let a = sidecar.receive().await.stream;
    let b = sidecar.receive().await.stream;
    for i in 0..=STREAM_WINDOW as usize {
        sidecar.send(Kind::Chunk, a, &chunk(i)).await;
    }
    let cancel = sidecar.receive().await;
    assert_eq!((cancel.kind, cancel.stream), (Kind::Cancel, a));
    for i in 0..STREAM_WINDOW as usize {
        assert_eq!(overrun.next().await, Some(Event::Chunk(chunk(i))));
    }
    assert!(matches!(overrun.next().await, Some(Event::Broken(_))));
    assert_eq!(overrun.next().await, None);
    // Its late frames are dropped until its `end`; the other stream is untouched.
    sidecar.send(Kind::Chunk, a, &chunk(99)).await;
    sidecar.send(Kind::End, a, &[]).await;
    sidecar.send(Kind::Chunk, b, &chunk(1)).await;
    sidecar.send(Kind::End, b, &[]).await;
    assert_eq!(other.next().await, Some(Event::Chunk(chunk(1))));
    assert_eq!(other.next().await, Some(Event::End));
}

#[tokio::test]
async fn taking_half_a_window_grants_it_back() {
    let (connection, mut sidecar) = connected().await;
    let mut stream = connection.open(b"{}").expect("opens");
    let id = sidecar.receive().await.stream;
    for i in 0..GRANT_EVERY as usize {
        sidecar.send(Kind::Chunk, id, &chunk(i)).await;
    }
    for i in 0..GRANT_EVERY as usize {
        assert_eq!(stream.next().await, Some(Event::Chunk(chunk(i))));
    }
    let grant = sidecar.receive().await;
    assert_eq!(
        (grant.kind, grant.stream, grant.credit()),
        (Kind::Credit, id, Some(GRANT_EVERY))
    );
}

#[tokio::test]
async fn a_dropped_stream_is_cancelled_but_a_finished_one_is_not() {
    let (connection, mut sidecar) = connected().await;
    let finished = connection.open(b"{}").expect("opens");
    let dropped = connection.open(b"{}").expect("opens");
    let f = sidecar.receive().await.stream;
    let d = sidecar.receive().await.stream;
    sidecar.send(Kind::End, f, &[]).await;
    let mut finished = finished;
    assert_eq!(finished.next().await, Some(Event::End));
    drop(finished);
    drop(dropped);
    let cancel = sidecar.receive().await;
    assert_eq!((cancel.kind, cancel.stream), (Kind::Cancel, d));
    // Nothing else was sent: the next frame is the one this opens.
    let _third = connection.open(b"{\"c\":3}").expect("opens");
    assert_eq!(sidecar.receive().await.kind, Kind::Open);
}

#[tokio::test]
async fn a_bad_frame_ends_only_its_stream_and_an_unknown_stream_ends_none() {
    let (connection, mut sidecar) = connected().await;
    let mut bad = connection.open(b"{}").expect("opens");
    let mut good = connection.open(b"{}").expect("opens");
    let a = sidecar.receive().await.stream;
    let b = sidecar.receive().await.stream;
    let mut raw = vec![42u8];
    raw.extend_from_slice(&a.to_be_bytes());
    raw.extend_from_slice(&3u32.to_be_bytes());
    raw.extend_from_slice(b"xyz");
    sidecar.send_raw(&raw).await;
    sidecar.send(Kind::Chunk, 12345, &chunk(0)).await;
    sidecar.send(Kind::Chunk, b, &chunk(7)).await;
    sidecar.send(Kind::End, b, &[]).await;
    match bad.next().await {
        Some(Event::Broken(why)) => assert!(why.contains("unknown kind 42"), "{why}"),
        other => panic!("expected a broken stream, got {other:?}"),
    }
    assert_eq!(good.next().await, Some(Event::Chunk(chunk(7))));
    assert_eq!(good.next().await, Some(Event::End));
    assert!(connection.is_open());
}

#[tokio::test]
async fn a_closed_connection_breaks_every_open_stream_and_says_it_is_closed() {
    let (connection, sidecar) = connected().await;
    let mut one = connection.open(b"{}").expect("opens");
    let mut two = connection.open(b"{}").expect("opens");
    drop(sidecar);
    assert!(matches!(one.next().await, Some(Event::Broken(_))));
    assert!(matches!(two.next().await, Some(Event::Broken(_))));
    assert!(!connection.is_open());
    assert!(
        matches!(connection.open(b"{}"), Err(OpenError::Closed)),
        "a closed connection takes no new stream"
    );
}

#[tokio::test]
async fn a_refused_upgrade_is_an_error_with_its_status_line() {
    let (server, mut sidecar) = tokio::io::duplex(4096);
    let answer = async move {
        let mut buf = [0u8; 512];
        let _ = sidecar.read(&mut buf).await;
        sidecar
            .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("answers");
        sidecar
    };
    let (result, _sidecar) = tokio::join!(
        FramesConnection::upgrade(server, "GET /frames HTTP/1.1\r\n\r\n"),
        answer
    );
    match result {
        Err(ConnectError::Refused(line)) => assert_eq!(line, "HTTP/1.1 401 Unauthorized"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn bytes_from_the_sidecar_count_as_its_activity_though_no_client_reads_them() {
    let received = Arc::new(AtomicU64::new(0));
    let (connection, mut sidecar) = connected_counting(received.clone()).await;
    // A stream whose client never reads: its chunks still prove the sidecar alive.
    let _unread = connection.open(b"{}").expect("opens");
    let open = sidecar.receive().await;
    let before = received.load(Ordering::Relaxed);
    sidecar.send(Kind::Chunk, open.stream, &chunk(0)).await;
    tokio::time::timeout(sut_kit::guards::HANG_GUARD, async {
        while received.load(Ordering::Relaxed) == before {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the read counts");
}
