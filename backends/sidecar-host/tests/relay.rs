//! The relay against a scripted fake sidecar on a Unix socket: frames split across reads are
//! forwarded whole, a stream cut mid-frame ends well-formed with `error` + `[DONE]`, a
//! sidecar that goes silent is given up on after the silence limit, and a client that stops
//! reading stops the sidecar's writes instead of piling its frames up in the relay.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backend_unix::UnixEndpoint;
use bytes::Bytes;
use contract::ui_chunk::UiChunk;
use contract::ui_message::ChatRequest;
use futures::StreamExt;
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sidecar_host::Pool;
use sut_kit::guards::HANG_GUARD;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

/// What the fake sidecar does after its first bytes.
#[derive(Clone, Copy)]
enum Ending {
    /// The connection breaks in the middle of a frame.
    CutMidFrame,
    /// Nothing more is sent, the connection stays open.
    Silence,
    /// Frames without end, as fast as they are taken; the bytes taken are counted.
    Flood,
}

/// Bytes of the flood hyper took from the fake sidecar's body to write to the socket.
static FLOODED: AtomicU64 = AtomicU64::new(0);
const FLOOD_FRAME: &[u8] = b"data: {\"type\":\"text-delta\",\"id\":\"0\",\"delta\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n\n";

type Body = http_body_util::Either<
    Full<Bytes>,
    StreamBody<futures::stream::BoxStream<'static, Result<Frame<Bytes>, std::io::Error>>>,
>;

fn chat_answer(ending: Ending) -> Body {
    if matches!(ending, Ending::Flood) {
        let flood = futures::stream::repeat_with(|| {
            FLOODED.fetch_add(FLOOD_FRAME.len() as u64, Ordering::Relaxed);
            Ok(Frame::data(Bytes::from_static(FLOOD_FRAME)))
        });
        return http_body_util::Either::Right(StreamBody::new(flood.boxed()));
    }
    let pieces: Vec<&'static [u8]> = vec![
        b"data: {\"type\":\"start\"}\n\ndata: {\"type\":\"text-st",
        b"art\",\"id\":\"0\"}\n\n",
        b"data: {\"type\":\"text-delta\",\"id\":\"0\",\"delta\":\"hal",
    ];
    let frames = futures::stream::iter(pieces)
        .then(|piece| async move {
            // Separate writes, so the relay sees separate reads.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Frame::data(Bytes::from_static(piece)))
        })
        .chain(futures::stream::once(async move {
            match ending {
                Ending::CutMidFrame => Err(std::io::Error::other("the sidecar died")),
                Ending::Silence | Ending::Flood => futures::future::pending().await,
            }
        }));
    http_body_util::Either::Right(StreamBody::new(frames.boxed()))
}

/// Serves `/health` and a scripted `/api/chat` on a socket in `dir`.
fn fake_sidecar(dir: &std::path::Path, ending: Ending) -> std::path::PathBuf {
    let path = dir.join("fake.sock");
    let listener = UnixListener::bind(&path).expect("bind the fake sidecar");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service =
                hyper::service::service_fn(move |request: hyper::Request<_>| async move {
                    let body = if request.uri().path() == "/health" {
                        http_body_util::Either::Left(Full::new(Bytes::from_static(
                            b"{\"status\":\"ok\"}",
                        )))
                    } else {
                        chat_answer(ending)
                    };
                    Ok::<_, Infallible>(hyper::Response::new(body))
                });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    path
}

async fn start_relay(
    ending: Ending,
    silence_limit: Duration,
) -> (
    tempfile::TempDir,
    Arc<Pool<UnixEndpoint>>,
    leanspec_core::SseBody,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = fake_sidecar(dir.path(), ending);
    let pool: Arc<Pool<UnixEndpoint>> =
        Pool::external(vec![UnixEndpoint(socket)], CancellationToken::new());
    pool.wait_until_up(HANG_GUARD)
        .await
        .expect("the fake sidecar is up");
    let request: ChatRequest = serde_json::from_value(serde_json::json!({
        "id": "c", "messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]
    }))
    .expect("a chat request");
    let id = contract::request_id::RequestId::parse("relay-test").expect("a usable id");
    let cancel = CancellationToken::new();
    let body = sidecar_host::relay::forward_chat(&pool, &request, &id, silence_limit, cancel)
        .await
        .expect("the relay starts");
    (dir, pool, body)
}

async fn relay_through(ending: Ending, silence_limit: Duration) -> Vec<Bytes> {
    let (_dir, pool, body) = start_relay(ending, silence_limit).await;
    let frames = tokio::time::timeout(HANG_GUARD, body.collect::<Vec<Bytes>>())
        .await
        .expect("the relayed stream ends");
    pool.shutdown().await;
    frames
}

/// The relayed stream read by the test stack's reader, each piece a whole frame.
fn chunks_of(frames: &[Bytes]) -> (Vec<UiChunk>, bool) {
    for frame in frames {
        assert!(
            frame.ends_with(b"\n\n"),
            "a relayed piece ends mid-frame: {frame:?}"
        );
    }
    let reading = sut_kit::checker::read_stream(&frames.concat());
    assert!(
        !reading
            .violations
            .iter()
            .any(|v| v.contains("not a UI message chunk") || v.contains("middle of a frame")),
        "every relayed frame is a whole chunk: {:?}",
        reading.violations
    );
    (reading.chunks, reading.done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_mid_frame_ends_with_error_and_done() {
    // A silence limit far beyond the hang guard: only the cut itself can end this stream.
    let frames = relay_through(Ending::CutMidFrame, Duration::from_secs(3_600)).await;
    let (chunks, done) = chunks_of(&frames);
    let types: Vec<&str> = chunks.iter().map(UiChunk::type_name).collect();
    assert_eq!(
        types,
        ["start", "text-start", "error"],
        "the half delta is dropped, not sent"
    );
    let Some(UiChunk::Error { error_text }) = chunks.last() else {
        unreachable!("the types above end with an error chunk");
    };
    assert!(error_text.contains("stream broke"), "{error_text}");
    assert!(done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_sidecar_is_given_up_after_the_silence_limit() {
    let frames = relay_through(Ending::Silence, Duration::from_millis(300)).await;
    let (chunks, done) = chunks_of(&frames);
    let Some(UiChunk::Error { error_text }) = chunks.last() else {
        panic!("the stream ends with an error chunk: {chunks:?}");
    };
    assert!(error_text.contains("sent nothing"), "{error_text}");
    assert!(done);
}

/// The most a stalled stream may hold between the fake sidecar's body and the relay's reader:
/// two socket buffers (the kernel's, at most a few MiB each with autotuning) and hyper's own
/// read and write buffers (hundreds of KiB). An unbounded relay would take the endless flood
/// until memory ran out, so any bound in MiB tells the two apart.
const STALLED_BOUND_BYTES: u64 = 16 * 1024 * 1024;
/// The flood counts as stopped once it took nothing for this many looks in a row.
const STILL_LOOKS: u32 = 5;
const LOOK_EVERY: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_stops_the_sidecar_instead_of_growing_the_relay() {
    let (_dir, pool, mut body) = start_relay(Ending::Flood, Duration::from_secs(3_600)).await;
    let first = tokio::time::timeout(HANG_GUARD, body.next())
        .await
        .expect("the flood begins");
    assert!(first.is_some_and(|f| f.ends_with(b"\n\n")));
    // The reader stalls: the body is held and never polled again.
    let deadline = Instant::now() + HANG_GUARD;
    let (mut last, mut still) = (FLOODED.load(Ordering::Relaxed), 0);
    while still < STILL_LOOKS {
        assert!(
            Instant::now() < deadline,
            "the sidecar kept writing to a stalled reader: {} bytes taken",
            FLOODED.load(Ordering::Relaxed)
        );
        tokio::time::sleep(LOOK_EVERY).await;
        let now = FLOODED.load(Ordering::Relaxed);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    eprintln!("a stalled reader held the fake sidecar to {last} bytes");
    assert!(
        last < STALLED_BOUND_BYTES,
        "{last} bytes taken from the sidecar for a reader that stopped after one frame"
    );
    drop(body);
    pool.shutdown().await;
}
