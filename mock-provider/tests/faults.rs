//! Fault scenarios do what the catalogue promises, and bad requests get OpenAI-style 400s.

mod common;

use common::{post, read_sse, start, streamed};
use contract::timeline::{ChunkKind, Outcome};
use mock_provider::script::text;
use serde_json::{Value, json};

const MS: u64 = 1_000_000;

async fn error_body(response: reqwest::Response) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("the error body is JSON");
    let error = body["error"].as_object().expect("an `error` object");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["type"].is_string());
    assert!(error.contains_key("param") && error.contains_key("code"));
    body
}

#[tokio::test]
async fn http_429_fails_fail_times_attempts_with_retry_after_then_answers() {
    let mock = start().await;
    let body =
        streamed("[[scenario:http-429 fail_times=2 retry_after_s=3 ttft_ms=0 gap_ms=0 tag=r1]]");
    for attempt in 1..=2 {
        let response = post(&mock, &body).await;
        assert_eq!(response.status(), 429, "attempt {attempt}");
        assert_eq!(response.headers()["retry-after"], "3");
        let error = error_body(response).await;
        assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    }
    let read = read_sse(post(&mock, &body).await, None).await;
    assert!(read.saw_done());
    assert_eq!(read.text(), text::words(20).concat());

    // Attempts are counted per tag: another tag starts over.
    let other = streamed("[[scenario:http-429 fail_times=1 ttft_ms=0 gap_ms=0 tag=r2]]");
    assert_eq!(post(&mock, &other).await.status(), 429);
    let statuses: Vec<u16> = mock.timeline().requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200, 429]);
    assert_eq!(mock.timeline().requests[0].outcome, Outcome::Rejected);
}

#[tokio::test]
async fn http_429_without_fail_times_always_fails_and_http_500_too() {
    let mock = start().await;
    for _ in 0..3 {
        assert_eq!(
            post(&mock, &streamed("[[scenario:http-429]]"))
                .await
                .status(),
            429
        );
        let response = post(&mock, &streamed("[[scenario:http-500]]")).await;
        assert_eq!(response.status(), 500);
        assert_eq!(error_body(response).await["error"]["type"], "server_error");
    }
}

#[tokio::test]
async fn malformed_chunk_sends_one_line_that_is_not_json_then_carries_on() {
    let mock = start().await;
    let body = streamed("[[scenario:malformed-chunk chunks=6 fail_at=2 ttft_ms=0 gap_ms=1]]");
    let read = read_sse(post(&mock, &body).await, None).await;
    let parsed = read.json();
    let broken: Vec<usize> = parsed
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(broken, [2], "exactly the third frame is not JSON");
    assert!(
        read.events[2].data.starts_with('{'),
        "it looks like a chunk that was cut"
    );
    assert_eq!(
        read.text(),
        text::words(6).concat(),
        "no text is lost around it"
    );
    assert!(read.saw_done());
    let kinds: Vec<ChunkKind> = mock.timeline().requests[0]
        .chunks
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds[..4],
        [
            ChunkKind::Text,
            ChunkKind::Text,
            ChunkKind::Malformed,
            ChunkKind::Text
        ]
    );
}

#[tokio::test]
async fn truncated_aborts_the_connection_without_done() {
    let mock = start().await;
    let body = streamed("[[scenario:truncated chunks=6 fail_at=3 ttft_ms=0 gap_ms=1]]");
    let read = read_sse(post(&mock, &body).await, None).await;
    assert!(
        read.error.is_some(),
        "the body ends in a transport error, not a clean end"
    );
    assert!(!read.saw_done());
    assert_eq!(read.text(), text::words(3).concat());
    let request = &mock.timeline().requests[0];
    assert_eq!(request.outcome, Outcome::Truncated);
    assert_eq!(request.text_chunks().count(), 3);
}

#[tokio::test]
async fn stall_stops_sending_for_stall_ms_then_resumes() {
    let mock = start().await;
    let body = streamed("[[scenario:stall chunks=4 fail_at=2 stall_ms=150 ttft_ms=0 gap_ms=2]]");
    let read = read_sse(post(&mock, &body).await, None).await;
    assert!(read.saw_done());
    assert_eq!(read.text(), text::words(4).concat());
    let request = &mock.timeline().requests[0];
    let texts: Vec<_> = request.text_chunks().collect();
    assert_eq!(
        texts[2].scheduled_ns - texts[1].scheduled_ns,
        152 * MS,
        "the stall sits before chunk 2"
    );
    assert_eq!(
        texts[3].scheduled_ns - texts[2].scheduled_ns,
        2 * MS,
        "then the gaps resume"
    );
    // Deadlines are absolute, so chunk 1 may leave late on a busy machine and chunk 2 still
    // on time: the stall is checked against chunk 2's shifted deadline, not chunk 1's send.
    assert!(
        texts[2].sent_ns >= texts[2].scheduled_ns,
        "chunk 2 went out before the stall ended"
    );
}

#[tokio::test]
async fn fault_scenarios_keep_their_meaning_without_streaming() {
    let mock = start().await;
    let ask = |d: &str| json!({"messages": [{"role": "user", "content": d}]});
    let malformed = post(
        &mock,
        &ask("[[scenario:malformed-chunk ttft_ms=0 gap_ms=0]]"),
    )
    .await;
    assert_eq!(malformed.status(), 200);
    assert!(serde_json::from_slice::<Value>(&malformed.bytes().await.unwrap()).is_err());
    let truncated = post(&mock, &ask("[[scenario:truncated ttft_ms=0 gap_ms=0]]")).await;
    assert!(truncated.bytes().await.is_err(), "the body is cut off");
    let fine: Value = post(&mock, &ask("[[scenario:text ttft_ms=0 gap_ms=0 chunks=3]]"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        fine["choices"][0]["message"]["content"],
        text::words(3).concat()
    );
}

#[tokio::test]
async fn bad_requests_get_a_400_in_openai_shape() {
    let mock = start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url());
    let cases: [(&str, &str); 6] = [
        ("{not json", "not valid JSON"),
        (r#"{"model":"m"}"#, "no `messages`"),
        (r#"{"messages":[]}"#, "empty"),
        (
            r#"{"messages":[{"role":"user","content":"[[scenario:nope]]"}]}"#,
            "unknown scenario `nope`",
        ),
        (
            r#"{"messages":[{"role":"user","content":"[[scenario:text chunks=0]]"}]}"#,
            "chunks=0",
        ),
        (
            r#"{"messages":[{"role":"user","content":"[[scenario:text"}]}"#,
            "not closed",
        ),
    ];
    for (body, needle) in cases {
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error = error_body(response).await;
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"], Value::Null);
        assert_eq!(error["error"]["code"], Value::Null);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let timeline = mock.timeline();
    assert_eq!(timeline.requests.len(), cases.len());
    assert!(
        timeline
            .requests
            .iter()
            .all(|r| r.status == 400 && r.outcome == Outcome::Rejected && r.error.is_some())
    );
}

#[tokio::test]
async fn models_health_and_unknown_routes() {
    let mock = start().await;
    let http = reqwest::Client::new();
    let models: Value = http
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "mock-gpt");
    let health = http
        .get(format!("{}/health", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let missing = http
        .get(format!("{}/v1/embeddings", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    error_body(missing).await;
    let wrong_method = http
        .get(format!("{}/chat/completions", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    error_body(wrong_method).await;
}
