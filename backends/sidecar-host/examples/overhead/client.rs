//! One measured chat on one path: when the client sent it, when each text chunk arrived.

use contract::clock::monotonic_ns;
use contract::sse::SseDecoder;
use serde_json::{Value, json};

/// Where a request goes.
#[derive(Debug, Clone)]
pub enum Path {
    /// Straight to the mock provider's Chat Completions endpoint.
    Direct { base_url: String },
    /// Through a backend's `/api/chat`.
    Backend { url: String },
}

/// What the client saw of one request.
#[derive(Debug)]
pub struct Observed {
    pub tag: String,
    pub send_ns: u64,
    /// Receipt time of each text chunk (direct: non-empty `delta.content`; backend:
    /// `text-delta`), in order.
    pub text_ns: Vec<u64>,
}

pub async fn run(
    client: &reqwest::Client,
    path: &Path,
    directive: String,
    tag: String,
) -> anyhow::Result<Observed> {
    let request = match path {
        Path::Direct { base_url } => client
            .post(format!("{base_url}/chat/completions"))
            .bearer_auth("sk-bench")
            .json(&json!({
                "model": "mock-gpt",
                "stream": true,
                "messages": [{"role": "user", "content": directive}],
            })),
        Path::Backend { url } => client.post(format!("{url}/api/chat")).json(&json!({
            "id": tag,
            "trigger": "submit-message",
            "messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": directive}]}],
        })),
    };
    let send_ns = monotonic_ns();
    let mut response = request.send().await?;
    anyhow::ensure!(
        response.status() == 200,
        "{tag}: status {}",
        response.status()
    );
    let direct = matches!(path, Path::Direct { .. });
    let mut decoder = SseDecoder::new();
    let mut text_ns = Vec::new();
    while let Some(bytes) = response.chunk().await? {
        let now = monotonic_ns();
        decoder.push_with(&bytes, |event| {
            let is_text = if direct {
                serde_json::from_str::<Value>(&event.data).is_ok_and(|v| {
                    v["choices"][0]["delta"]["content"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty())
                })
            } else {
                event.data.starts_with(r#"{"type":"text-delta""#)
            };
            if is_text {
                text_ns.push(now);
            }
        });
    }
    Ok(Observed {
        tag,
        send_ns,
        text_ns,
    })
}
