//! The suite's HTTP client: sends one request and keeps the whole answer, raw.
//!
//! reqwest is built without decompression, so a compressed answer shows up as such (a
//! `content-encoding` header and unreadable bytes) instead of being silently undone.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::header::HeaderMap;

/// Longest a single answer may take; a stalled backend fails its case instead of the suite.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One answer, as received.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was cut off (connection reset, timeout) before it ended.
    pub transport_error: Option<String>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The headers and body as one text, for the file saved next to a failed case.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = format!("HTTP {}\n", self.status);
        for (name, value) in &self.headers {
            out.push_str(&format!(
                "{name}: {}\n",
                value.to_str().unwrap_or("<binary>")
            ));
        }
        if let Some(e) = &self.transport_error {
            out.push_str(&format!("x-harness-transport-error: {e}\n"));
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// A client without connection reuse across cases' failure modes: each case opens its own
/// connections, so one backend's broken connection cannot fail another case.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(ANSWER_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")
}

/// Sends a request and reads the answer to its end (or to where it broke).
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer> {
    let response = request.send().await.context("the request failed")?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    let mut transport_error = None;
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => body.extend_from_slice(&bytes),
            Ok(None) => break,
            Err(e) => {
                transport_error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
        transport_error,
    })
}

/// `POST {base}/api/chat` with a JSON body.
pub async fn post_chat(
    client: &reqwest::Client,
    base: &str,
    body: &serde_json::Value,
) -> Result<Answer> {
    exchange(client.post(format!("{base}/api/chat")).json(body)).await
}
