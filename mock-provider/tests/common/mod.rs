//! Shared test plumbing: an in-process provider on port 0 and an SSE reader built on
//! `contract::sse::SseDecoder`.

#![allow(dead_code)]

use contract::sse::{SseDecoder, SseEvent};
use futures::StreamExt;
use mock_provider::{MockConfig, MockHandle};
use serde_json::{Value, json};

pub use sut_kit::guards::HANG_GUARD;

pub async fn start() -> MockHandle {
    mock_provider::spawn(MockConfig::default())
        .await
        .expect("the mock provider starts on port 0")
}

/// A streamed request whose only message is `text`.
pub fn streamed(text: &str) -> Value {
    json!({
        "model": "mock-gpt",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": text}],
    })
}

pub async fn post(mock: &MockHandle, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(body)
        .send()
        .await
        .expect("the request reaches the mock")
}

/// What a client saw of an event stream.
#[derive(Debug, Default)]
pub struct SseRead {
    pub events: Vec<SseEvent>,
    /// The body ended with a transport error (the connection was aborted).
    pub error: Option<String>,
}

impl SseRead {
    pub fn saw_done(&self) -> bool {
        self.events.iter().any(SseEvent::is_done)
    }

    /// Every event's data parsed as JSON, `None` for those that are not JSON.
    pub fn json(&self) -> Vec<Option<Value>> {
        self.events
            .iter()
            .filter(|e| !e.is_done())
            .map(|e| serde_json::from_str(&e.data).ok())
            .collect()
    }

    /// The concatenated `delta.content` of every JSON chunk.
    pub fn text(&self) -> String {
        self.json()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }
}

/// Reads the whole body as events, or up to `limit` events if given (then drops the body).
pub async fn read_sse(response: reqwest::Response, limit: Option<usize>) -> SseRead {
    let mut decoder = SseDecoder::new();
    let mut read = SseRead::default();
    let mut body = response.bytes_stream();
    let reading = async {
        while let Some(bytes) = body.next().await {
            match bytes {
                Ok(bytes) => read.events.extend(decoder.push(&bytes)),
                Err(e) => {
                    read.error = Some(e.to_string());
                    break;
                }
            }
            if limit.is_some_and(|n| read.events.len() >= n) {
                break;
            }
        }
    };
    tokio::time::timeout(HANG_GUARD, reading)
        .await
        .expect("the stream ends in time");
    read
}
