//! Bad input through a sidecar backend: every error status of docs/design.md#error-bodies, as JSON, never a hang.

use std::num::NonZeroU32;

use contract::scenario::Scenario;
use leanspec_core::RateLimit;
use serde_json::json;

use super::{Answer, Stack, StackOptions, chat_body, fast};
use crate::transport::TransportKind;

/// Requests a client may send per minute in this check: room for the bad requests (whether
/// they count is the shell's choice) and a good one; a few more reach the limit.
const LIMIT_PER_MINUTE: u32 = 8;

async fn post_raw(stack: &Stack, content_type: &str, body: Vec<u8>) -> Answer {
    let response = stack
        .http
        .post(format!("{}/api/chat", stack.url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("an answer");
    Answer::read(response).await
}

fn assert_error(answer: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
    assert_eq!(
        answer.error_code().as_deref(),
        Some(code),
        "{what}: {}",
        answer.text()
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{what}"
    );
}

/// 400, 404, 413, 415 and 429 (503 is the supervision checks'), each as the JSON error body.
pub async fn every_error_status(kind: TransportKind) {
    let stack = Stack::start(
        kind,
        StackOptions {
            rate_limit: RateLimit::PerMinute(NonZeroU32::new(LIMIT_PER_MINUTE).expect("non-zero")),
            ..StackOptions::default()
        },
    )
    .await;
    let json = "application/json";
    let malformed = post_raw(&stack, json, b"{\"id\": \"c\", \"messages\": [".to_vec()).await;
    assert_error(&malformed, 400, "invalid_request", "malformed JSON");
    let invalid = post_raw(
        &stack,
        json,
        br#"{"id":"c","messages":"not a list"}"#.to_vec(),
    )
    .await;
    assert_error(&invalid, 400, "invalid_request", "invalid messages");
    let no_user = serde_json::to_vec(&json!({"id": "c", "messages": []})).expect("json");
    assert_error(
        &post_raw(&stack, json, no_user).await,
        400,
        "invalid_request",
        "no messages",
    );
    let huge =
        serde_json::to_vec(&chat_body(&"x".repeat(contract::MAX_BODY_BYTES + 1))).expect("json");
    assert_error(
        &post_raw(&stack, json, huge).await,
        413,
        "payload_too_large",
        "body over 1 MiB",
    );
    let text = post_raw(&stack, "text/plain", b"hello".to_vec()).await;
    assert_error(&text, 415, "unsupported_media_type", "not JSON");
    let route = Answer::read(stack.get("/api/nothing-here").await).await;
    assert_error(&route, 404, "not_found", "unknown route");
    let spec = Answer::read(stack.get("/api/specs/999-no-such-spec").await).await;
    assert_error(&spec, 404, "not_found", "unknown spec");

    let first = stack.chat(&fast(Scenario::Text).render()).await;
    assert_eq!(
        first.status,
        200,
        "a good request within the limit: {}",
        first.text()
    );
    let mut limited = None;
    for _ in 0..LIMIT_PER_MINUTE {
        let answer = stack.chat(&fast(Scenario::Text).render()).await;
        match answer.status {
            200 => {}
            _ => {
                limited = Some(answer);
                break;
            }
        }
    }
    let limited = limited.expect("the rate limit refused a request");
    assert_error(&limited, 429, "rate_limited", "over the rate limit");
    assert!(
        limited.header("retry-after").is_some(),
        "429 carries Retry-After"
    );
    stack.stop().await;
}
