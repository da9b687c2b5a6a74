//! The SSE response around a backend's stream: headers, framing, one frame per chunk delivered
//! as it is produced, cancellation on disconnect, and clean endings on panic and shutdown.

mod common;

use bytes::Bytes;
use common::*;
use contract::error_text;
use contract::sse::{SseDecoder, SseEvent};
use contract::ui_chunk::UiChunk;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

/// Reads the body until the decoder completes at least one frame, returns those frames.
async fn next_frames(
    body: &mut (impl Stream<Item = reqwest::Result<Bytes>> + Unpin),
    decoder: &mut SseDecoder,
) -> Vec<SseEvent> {
    loop {
        let bytes = tokio::time::timeout(HANG_GUARD, body.next())
            .await
            .expect("a frame arrives")
            .expect("the body is still open")
            .expect("body bytes");
        let events = decoder.push(&bytes);
        if !events.is_empty() {
            return events;
        }
    }
}

async fn rest_of(body: impl Stream<Item = reqwest::Result<Bytes>>) -> Vec<SseEvent> {
    let mut decoder = SseDecoder::new();
    let all: Vec<Bytes> =
        tokio::time::timeout(HANG_GUARD, body.map(|b| b.expect("body bytes")).collect())
            .await
            .expect("the stream ends");
    all.iter().flat_map(|b| decoder.push(b)).collect()
}

#[tokio::test]
async fn headers_are_the_ui_stream_headers_and_frames_end_with_done() {
    let server = Server::plain().await;
    let response = post_chat(&server, &chat_body("hi")).await;
    assert_eq!(response.status(), 200);
    for (name, value) in contract::UI_STREAM_HEADERS {
        if *name == "connection" {
            continue; // hop-by-hop: the HTTP client consumes it
        }
        assert_eq!(response.headers()[*name], *value, "{name}");
    }
    assert!(response.headers().get("content-encoding").is_none());
    assert!(response.headers().get("content-length").is_none());
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        "data: {\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\"Hello\"}\n\n\
         data: {\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\", world\"}\n\n\
         data: [DONE]\n\n"
    );
    let (request, _) = server.backend.calls.lock().unwrap()[0].clone();
    assert_eq!(request.messages[0].text(), "hi");
    server.stop().await;
}

#[tokio::test]
async fn each_chunk_arrives_as_its_own_frame_before_the_next_is_produced() {
    let server = Server::plain().await;
    let (tx, rx) = mpsc::unbounded_channel();
    server.backend.script(Script::Channel(rx));
    let response = post_chat(&server, &chat_body("hi")).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut decoder = SseDecoder::new();
    let chunks = [
        UiChunk::Start {
            message_id: Some("m1".into()),
            message_metadata: None,
        },
        UiChunk::text_delta("t0", "one"),
        UiChunk::text_delta("t0", "two 日本語 👋"),
        UiChunk::error("done now"),
    ];
    for chunk in &chunks {
        tx.send(chunk.clone()).unwrap();
        // The next chunk is only produced after this one was received, alone.
        let frames = next_frames(&mut body, &mut decoder).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(&UiChunk::from_json(&frames[0].data).unwrap(), chunk);
    }
    drop(tx);
    let tail = rest_of(body).await;
    assert_eq!(tail.len(), 1);
    assert!(tail[0].is_done());
    assert!(
        !server.backend.last_token().is_cancelled(),
        "a finished stream is not cancelled"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_backend() {
    let server = Server::plain().await;
    let (tx, rx) = mpsc::unbounded_channel();
    server.backend.script(Script::Channel(rx));
    let response = post_chat(&server, &chat_body("hi")).await;
    let mut body = response.bytes_stream();
    tx.send(UiChunk::text_delta("t0", "first")).unwrap();
    next_frames(&mut body, &mut SseDecoder::new()).await;
    let token = server.backend.last_token();
    assert!(!token.is_cancelled());
    drop(body);
    tokio::time::timeout(HANG_GUARD, token.cancelled())
        .await
        .expect("the token fires once the client is gone");
    // The body (and with it the receiver) is gone too: the producer learns it.
    tokio::time::timeout(HANG_GUARD, tx.closed())
        .await
        .expect("receiver dropped");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_before_the_stream_begins_cancels_the_backend() {
    let server = Server::plain().await;
    server.backend.script(Script::Hang);
    let request = tokio::spawn(post_chat_owned(server.url("/api/chat")));
    let token = tokio::time::timeout(HANG_GUARD, async {
        loop {
            if let Some((_, token)) = server.backend.calls.lock().unwrap().last() {
                break token.clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the backend is called");
    request.abort();
    tokio::time::timeout(HANG_GUARD, token.cancelled())
        .await
        .expect("the token fires once the client is gone");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_backend_that_ignores_cancellation() {
    let server = Server::plain().await;
    server.backend.script(Script::Hang);
    let request = tokio::spawn(post_chat_owned(server.url("/api/chat")));
    tokio::time::timeout(HANG_GUARD, async {
        while server.backend.call_count() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the backend is called");
    let token = server.backend.last_token();
    // `stop` returns (after the grace period) although the chat future never does.
    server.stop().await;
    assert!(token.is_cancelled());
    request.abort();
}

async fn post_chat_owned(url: String) {
    let _ = client().post(url).json(&chat_body("hi")).send().await;
}

#[tokio::test]
async fn a_panic_inside_the_stream_ends_it_with_an_error_chunk_and_done() {
    let server = Server::plain().await;
    server.backend.script(Script::PanicMidStream);
    let response = post_chat(&server, &chat_body("hi")).await;
    assert_eq!(response.status(), 200);
    let events = rest_of(response.bytes_stream()).await;
    let chunks: Vec<UiChunk> = events[..2]
        .iter()
        .map(|e| UiChunk::from_json(&e.data).unwrap())
        .collect();
    assert_eq!(chunks[0], UiChunk::text_delta("t0", "before the panic"));
    assert_eq!(chunks[1], UiChunk::error(error_text::INTERNAL_ERROR));
    assert!(events[2].is_done());
    assert_eq!(events.len(), 3);
    assert!(server.backend.last_token().is_cancelled());
    // And the server still answers.
    assert_eq!(post_chat(&server, &chat_body("again")).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_streams_in_flight_and_cancels_them() {
    let mut server = Server::plain().await;
    let (tx, rx) = mpsc::unbounded_channel();
    server.backend.script(Script::Channel(rx));
    let response = post_chat(&server, &chat_body("hi")).await;
    let mut body = response.bytes_stream();
    tx.send(UiChunk::text_delta("t0", "partial")).unwrap();
    next_frames(&mut body, &mut SseDecoder::new()).await;
    server.begin_stop();
    let events = rest_of(body).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        UiChunk::from_json(&events[0].data).unwrap(),
        UiChunk::error(error_text::SHUTTING_DOWN)
    );
    assert!(events[1].is_done());
    assert!(server.backend.last_token().is_cancelled());
    let addr = server.addr;
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

/// What may lie between the stream and a client that stopped reading: the kernel's send buffer
/// for that client (`CLIENT_SEND_BUFFER`, doubled by Linux) and hyper's own write buffer (at
/// most 16 writes here). Autotuned, the send buffer alone took 4 MiB (docs/crash.md), so the
/// bound tells a capped buffer from an autotuned one.
const STALLED_CLIENT_BOUND_BYTES: usize = 4 * leanspec_core::CLIENT_SEND_BUFFER;
/// The stream counts as held once it gave nothing for this many looks in a row.
const STILL_LOOKS: u32 = 5;
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

#[tokio::test]
async fn a_client_that_stops_reading_holds_its_stream_to_a_bounded_send_buffer() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Server::plain().await;
    let taken = Arc::new(AtomicU64::new(0));
    server.backend.script(Script::Endless(taken.clone()));
    // A client with a small window (the kernel would otherwise autotune its receive buffer to
    // megabytes and take the stream itself) that reads the first bytes, then stops.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut client = socket.connect(server.addr).await.unwrap();
    let body = serde_json::to_vec(&chat_body("hi")).unwrap();
    let head = format!(
        "POST /api/chat HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body).await.unwrap();
    let mut first = [0u8; 1024];
    let read = tokio::time::timeout(HANG_GUARD, client.read(&mut first))
        .await
        .expect("the stream begins")
        .unwrap();
    assert!(read > 0);

    let deadline = std::time::Instant::now() + HANG_GUARD;
    let (mut last, mut still) = (taken.load(Ordering::Relaxed), 0);
    while still < STILL_LOOKS {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream went on for a client that stopped reading"
        );
        tokio::time::sleep(LOOK_EVERY).await;
        let now = taken.load(Ordering::Relaxed);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    let frame = leanspec_core::ui_stream::encode_chunk(&endless_chunk()).len();
    let held = usize::try_from(last).unwrap() * frame;
    eprintln!("a stalled client held the stream to {held} bytes");
    assert!(
        held < STALLED_CLIENT_BOUND_BYTES,
        "{held} bytes of stream taken for a client that stopped after its first read"
    );
    drop(client);
    server.stop().await;
}
