//! Every error status of docs/design.md#error-bodies, each sent as a real HTTP request, each answered with the
//! one JSON error body.

mod common;

use std::num::NonZeroU32;

use common::*;
use leanspec_core::{ApiError, Health, RateLimit};

#[tokio::test]
async fn malformed_json_is_400() {
    let server = Server::plain().await;
    let response = client()
        .post(server.url("/api/chat"))
        .header("content-type", "application/json")
        .body(r#"{"id": "c", "messages": [ "#)
        .send()
        .await
        .unwrap();
    let (code, message) = error_of(response, 400).await;
    assert_eq!(code, "invalid_request");
    assert!(message.starts_with("malformed JSON"), "{message}");
    assert_eq!(server.backend.call_count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn invalid_messages_are_400_with_the_reason() {
    let server = Server::plain().await;
    let cases = [
        (
            serde_json::json!({"id": "c", "messages": []}),
            "at least one message",
        ),
        (serde_json::json!({"messages": []}), "not a chat request"),
        (
            serde_json::json!({"id": "c", "messages": [{"id": "u", "role": "user"}]}),
            "parts",
        ),
        (
            serde_json::json!({"id": "c", "messages": [
                {"id": "a", "role": "assistant", "parts": [{"type": "text", "text": "hi"}]}
            ]}),
            "at least one user message",
        ),
        (serde_json::json!([1, 2]), "not a chat request"),
    ];
    for (body, expected) in cases {
        let (code, message) = error_of(post_chat(&server, &body).await, 400).await;
        assert_eq!(code, "invalid_request");
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert_eq!(server.backend.call_count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_specs_are_404_and_wrong_methods_405() {
    let server = Server::plain().await;
    let (code, _) = error_of(server.get("/nope").await, 404).await;
    assert_eq!(code, "not_found");
    let response = server.get("/api/specs/999-no-such-spec").await;
    let (_, message) = error_of(response, 404).await;
    assert!(message.contains("999-no-such-spec"), "{message}");
    // Not UTF-8 once decoded: still the JSON error body, never axum's plain-text rejection.
    let response = server.get("/api/specs/%FF%FE").await;
    let (code, _) = error_of(response, 400).await;
    assert_eq!(code, "invalid_request");
    let response = server.get("/api/chat").await;
    let (code, _) = error_of(response, 405).await;
    assert_eq!(code, "method_not_allowed");
    server.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413_declared_or_streamed() {
    let server = Server::plain().await;
    let big = "x".repeat(contract::MAX_BODY_BYTES);
    let body = chat_body(&big);
    let (code, _) = error_of(post_chat(&server, &body).await, 413).await;
    assert_eq!(code, "payload_too_large");

    // Without a content-length the limit must still hold while reading.
    let bytes = serde_json::to_vec(&body).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let response = client()
        .post(server.url("/api/chat"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("content-length")
            .is_none_or(|v| v != "0")
    );
    error_of(response, 413).await;

    // Just under the limit is fine.
    let fits = chat_body(&"y".repeat(contract::MAX_BODY_BYTES - 1024));
    assert_eq!(post_chat(&server, &fits).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let server = Server::plain().await;
    let body = serde_json::to_string(&chat_body("hi")).unwrap();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = client().post(server.url("/api/chat")).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let (code, message) = error_of(request.send().await.unwrap(), 415).await;
        assert_eq!(code, "unsupported_media_type");
        assert!(message.contains("application/json"), "{message}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_an_exact_retry_after() {
    let limit = RateLimit::PerMinute(NonZeroU32::new(2).unwrap());
    let server = Server::start(limit, false).await;
    for _ in 0..2 {
        let response = post_chat(&server, &chat_body("hi")).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    let response = post_chat(&server, &chat_body("hi")).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One token per 30 s; the first one frees up 30 s after the first request, less the
    // moments the two requests took.
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let (code, _) = error_of(response, 429).await;
    assert_eq!(code, "rate_limited");
    // Health and REST are not rate limited.
    assert_eq!(server.get("/health").await.status(), 200);
    assert_eq!(server.get("/api/specs").await.status(), 200);
    assert_eq!(server.backend.call_count(), 2);
    server.stop().await;
}

#[tokio::test]
async fn each_client_address_has_its_own_bucket() {
    let limit = RateLimit::PerMinute(NonZeroU32::new(1).unwrap());
    let server = Server::start(limit, false).await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let (first, second) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let send = |client: &reqwest::Client| {
        client
            .post(server.url("/api/chat"))
            .json(&chat_body("hi"))
            .send()
    };
    assert_eq!(send(&first).await.unwrap().status(), 200);
    assert_eq!(send(&first).await.unwrap().status(), 429);
    // Another address on the loopback network is another client.
    assert_eq!(send(&second).await.unwrap().status(), 200);
    assert_eq!(send(&second).await.unwrap().status(), 429);
    let limiter = server.state.rate_limiter().expect("a limiter");
    assert_eq!(limiter.tracked_clients(), 2);
    server.stop().await;
}

#[tokio::test]
async fn an_unavailable_backend_is_503_with_retry_after_on_health_and_chat() {
    let server = Server::plain().await;
    server.backend.set_health(Health::Unavailable {
        retry_after_s: 3,
        reason: "the sidecar is restarting".into(),
    });
    for response in [
        server.get("/health").await,
        post_chat(&server, &chat_body("hi")).await,
    ] {
        assert_eq!(response.headers()["retry-after"], "3");
        let (code, message) = error_of(response, 503).await;
        assert_eq!(code, "unavailable");
        assert!(message.contains("restarting"), "{message}");
    }
    assert_eq!(server.backend.call_count(), 0);

    server.backend.set_health(Health::Ok);
    let health: serde_json::Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "backend": "fake"})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_backend_error_before_the_stream_is_its_json_error() {
    let server = Server::plain().await;
    server.backend.script(Script::Fail(ApiError::Upstream(
        "provider returned HTTP 500".into(),
    )));
    let (code, message) = error_of(post_chat(&server, &chat_body("hi")).await, 502).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("upstream_error", "provider returned HTTP 500")
    );
    assert!(server.backend.last_token().is_cancelled());
    server.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let server = Server::plain().await;
    server.backend.script(Script::PanicInChat);
    let (code, message) = error_of(post_chat(&server, &chat_body("hi")).await, 500).await;
    assert_eq!(code, "internal");
    assert!(
        !message.contains("fake backend"),
        "panic text stays in the log: {message}"
    );
    let response = post_chat(&server, &chat_body("hi")).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    server.stop().await;
}

#[tokio::test]
async fn while_shutting_down_health_and_chat_are_503() {
    use tower::ServiceExt;
    let state = leanspec_core::CoreState::new(
        leanspec_core::Toolbox::new(fixture_store(), false),
        RateLimit::Off,
    );
    let backend = FakeBackend::new();
    let app = leanspec_core::router(backend.clone(), state.clone());
    state.shutdown_token().cancel();
    let health = axum::http::Request::get("/health")
        .body(axum::body::Body::empty())
        .unwrap();
    let chat = axum::http::Request::post("/api/chat")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(chat_body("hi").to_string()))
        .unwrap();
    for request in [health, chat] {
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
    assert_eq!(backend.call_count(), 0);
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::plain().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Headers only: a server that waited for the 100 MB body would never answer.
    stream
        .write_all(
            b"POST /api/chat HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
              content-length: 100000000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(HANG_GUARD, stream.read_exact(&mut head))
        .await
        .expect("an answer without the body")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    server.stop().await;
}

#[tokio::test]
async fn the_request_id_is_the_clients_or_a_new_one_and_reaches_the_backend() {
    let server = Server::plain().await;
    let sent = client()
        .post(server.url("/api/chat"))
        .header("x-request-id", "debug-1.a:b")
        .json(&chat_body("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.headers()["x-request-id"], "debug-1.a:b");
    let unusable = client()
        .post(server.url("/api/chat"))
        .header("x-request-id", "two words")
        .json(&chat_body("hi"))
        .send()
        .await
        .unwrap();
    let made = unusable.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(made, "two words");
    assert_eq!(
        *server.backend.request_ids.lock().unwrap(),
        vec!["debug-1.a:b".to_owned(), made]
    );
    // A refusal carries the id too: it is what the operator searches the logs for.
    let refused = client()
        .post(server.url("/api/chat"))
        .header("x-request-id", "refused-1")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()["x-request-id"], "refused-1");
    server.stop().await;
}
