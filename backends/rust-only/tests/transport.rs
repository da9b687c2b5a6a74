//! The provider transport against a bare HTTP/1.1 peer: what it sends, when it keeps a
//! connection and when it lets one go, and that reading an answer does not make the reading
//! task wake itself (docs/rust-hop.md#the-provider-read-in-the-responses-task).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use backend_rust_only::transport::{SameTaskService, TransportError};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

fn factory(url: String) -> HttpRequestFactory {
    HttpRequestFactory::new(move || {
        let mut request =
            reqwest::Request::new(reqwest::Method::POST, url.parse().expect("a test URL"));
        *request.body_mut() = Some(reqwest::Body::from("{}"));
        async move { Ok::<_, OpenAIError>(request) }
    })
}

/// Reads one request head and its `content-length` body; `None` at the peer's close.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        seen.push(byte[0]);
    }
    let head = String::from_utf8(seen).expect("an ASCII head");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().expect("a length"))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    socket.read_exact(&mut body).await.ok()?;
    Some(head)
}

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

struct Peer {
    url: String,
    accepted: Arc<AtomicUsize>,
    heads: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// A peer that answers every request with `hello`, keeping the connection open unless
/// `close_after_answer`, when it closes each one after its first answer.
async fn peer(close_after_answer: bool) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("address")
    );
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, heads) = tokio::sync::mpsc::unbounded_channel();
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(head) = read_request(&mut socket).await {
                    socket.write_all(ANSWER).await.expect("answer");
                    let _ = tx.send(head);
                    if close_after_answer {
                        break;
                    }
                }
            });
        }
    });
    Peer {
        url,
        accepted,
        heads,
    }
}

async fn ask(service: &SameTaskService, url: &str) -> Result<String, OpenAIError> {
    let response = service.clone().oneshot(factory(url.to_owned())).await?;
    assert_eq!(response.status(), 200);
    let body = response.text().await.map_err(OpenAIError::Reqwest)?;
    Ok(body)
}

#[tokio::test]
async fn a_read_answer_leaves_its_connection_for_the_next_request() {
    let mut peer = peer(false).await;
    let service = SameTaskService::default();
    assert_eq!(ask(&service, &peer.url).await.expect("first"), "hello");
    assert_eq!(ask(&service, &peer.url).await.expect("second"), "hello");
    assert_eq!(peer.accepted.load(Ordering::SeqCst), 1, "one connection");
    // What hyper-util's client would have sent: origin-form, a Host header.
    let head = peer.heads.recv().await.expect("a request");
    let authority = peer.url.trim_start_matches("http://").split('/').next();
    assert!(
        head.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("host: {}\r\n", authority.expect("authority"))),
        "{head}"
    );
}

#[tokio::test]
async fn a_connection_the_provider_closed_while_idle_is_not_reused() {
    let mut peer = peer(true).await;
    let service = SameTaskService::default();
    assert_eq!(ask(&service, &peer.url).await.expect("first"), "hello");
    peer.heads.recv().await.expect("the first request");
    // The peer has answered and closed; give its FIN the loopback's moment to arrive.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(ask(&service, &peer.url).await.expect("second"), "hello");
    assert_eq!(peer.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn dropping_an_answer_mid_body_closes_its_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let (closed_tx, closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        read_request(&mut socket).await.expect("a request");
        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";
        socket.write_all(head).await.expect("answer");
        // The answer never ends: only the client's close ends this read.
        let mut rest = [0u8; 64];
        let read = socket.read(&mut rest).await.unwrap_or(0);
        let _ = closed_tx.send(read);
    });
    let service = SameTaskService::default();
    let response = service.oneshot(factory(url)).await.expect("headers");
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("a chunk").expect("bytes");
    assert_eq!(&first[..], b"first");
    drop(body);
    assert_eq!(closed.await.expect("the peer saw the end"), 0, "EOF");
}

#[tokio::test]
async fn an_unreachable_provider_is_a_connect_error() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", dead.local_addr().expect("address"));
    drop(dead);
    let error = SameTaskService::default()
        .oneshot(factory(url))
        .await
        .expect_err("nobody listens");
    let OpenAIError::Boxed(error) = error else {
        panic!("not the transport's error: {error}");
    };
    let error = error
        .downcast::<TransportError>()
        .expect("a TransportError");
    assert!(matches!(*error, TransportError::Connect { .. }), "{error}");
}

/// Counts the wakes that arrive while the test itself is polling (none should: hyper's
/// channel waking the task that is reading it would be a yield per chunk).
struct Counting {
    task: Waker,
    polling: AtomicBool,
    during_poll: AtomicUsize,
}

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.polling.load(Ordering::SeqCst) {
            self.during_poll.fetch_add(1, Ordering::SeqCst);
        }
        self.task.wake_by_ref();
    }
}

#[tokio::test]
async fn reading_a_chunk_does_not_wake_the_reading_task() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let (next_tx, mut next) = tokio::sync::mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        read_request(&mut socket).await.expect("a request");
        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head).await.expect("head");
        // One chunk per go-ahead, so every read finds exactly one.
        while next.recv().await.is_some() {
            socket.write_all(b"5\r\nchunk\r\n").await.expect("chunk");
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    let response = SameTaskService::default()
        .oneshot(factory(url))
        .await
        .expect("headers");
    let mut body = response.bytes_stream();
    for _ in 0..5 {
        next_tx.send(()).expect("the peer is there");
        let chunk = std::future::poll_fn(|cx| {
            let counting = Arc::new(Counting {
                task: cx.waker().clone(),
                polling: AtomicBool::new(true),
                during_poll: AtomicUsize::new(0),
            });
            let waker = Waker::from(counting.clone());
            let polled = body.poll_next_unpin(&mut Context::from_waker(&waker));
            counting.polling.store(false, Ordering::SeqCst);
            let seen = counting.during_poll.load(Ordering::SeqCst);
            assert_eq!(seen, 0, "the read woke its own task {seen} times");
            polled
        })
        .await;
        assert_eq!(&chunk.expect("a chunk").expect("bytes")[..], b"chunk");
    }
}
