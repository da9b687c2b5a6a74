//! Bad input gets the JSON error body and status docs/design.md#error-bodies fixes, from the napi process too.
//!
//! 503 is the one status not provoked here: it means "the JS runtime is down or restarting",
//! and in this architecture the JS runtime is the process itself, so there is no moment at which
//! the server is up and the runtime is not (README.md, "Errors").

// Helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use contract::api_error::{ErrorBody, ErrorCode};
use serde_json::json;
use support::*;

async fn expect_error(response: reqwest::Response, code: ErrorCode) -> reqwest::header::HeaderMap {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert_eq!(status, code.status(), "body: {text}");
    let body: ErrorBody =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not an error body ({e}): {text}"));
    assert_eq!(body.error.code, code, "{text}");
    assert!(!body.error.message.is_empty());
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_its_status_and_a_json_error() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &[]).await;
    let url = server.url();
    let http = client();
    let chat = format!("{url}/api/chat");

    let malformed = http
        .post(&chat)
        .header("content-type", "application/json")
        .body("{\"messages\": [")
        .send()
        .await
        .unwrap();
    expect_error(malformed, ErrorCode::InvalidRequest).await;

    let no_messages = http
        .post(&chat)
        .json(&json!({"id": "c", "messages": []}))
        .send()
        .await
        .unwrap();
    expect_error(no_messages, ErrorCode::InvalidRequest).await;

    let wrong_shape = http
        .post(&chat)
        .json(&json!({"id": "c", "messages": "hi"}))
        .send()
        .await
        .unwrap();
    expect_error(wrong_shape, ErrorCode::InvalidRequest).await;

    let not_json = http
        .post(&chat)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    expect_error(not_json, ErrorCode::UnsupportedMediaType).await;

    let huge_text = "x".repeat(contract::MAX_BODY_BYTES + 1);
    // Its own client: the server closes a connection whose oversized body it did not read,
    // and a pooled connection reused after that would fail the next request.
    let too_large = client()
        .post(&chat)
        .json(&chat_body(&huge_text))
        .send()
        .await
        .unwrap();
    expect_error(too_large, ErrorCode::PayloadTooLarge).await;

    let no_route = http
        .get(format!("{url}/api/nothing-here"))
        .send()
        .await
        .unwrap();
    expect_error(no_route, ErrorCode::NotFound).await;

    let no_spec = http
        .get(format!(
            "{url}/api/specs/{}",
            contract::scenario::MISSING_SPEC_ID
        ))
        .send()
        .await
        .unwrap();
    expect_error(no_spec, ErrorCode::NotFound).await;

    let wrong_method = http.get(&chat).send().await.unwrap();
    expect_error(wrong_method, ErrorCode::MethodNotAllowed).await;

    // After all of that the process still answers.
    let health = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["backend"], "napi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_retry_after() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &["--rate-limit", "2/min"]).await;
    let body = chat_body(&fast_directive("text", "rate-limit", " chunks=2"));
    for _ in 0..2 {
        assert_eq!(post_chat(server.url(), &body).await.status, 200);
    }
    let limited = client()
        .post(format!("{}/api/chat", server.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers = expect_error(limited, ErrorCode::RateLimited).await;
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
}
