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

/// The suite's client. Cases use clones of it, which share one connection pool (a connection
/// that broke is dropped, not reused); no proxy, as every backend is on loopback; each answer is
/// bounded by [`ANSWER_TIMEOUT`].
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

/// Percent-encodes a URL path segment or query value (RFC 3986 unreserved characters stay).
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET {base}{path}` as JSON.
pub async fn get_json(
    client: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<serde_json::Value> {
    let response = client.get(format!("{base}{path}")).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    anyhow::ensure!(status.is_success(), "GET {path} answered {status}");
    serde_json::from_slice(&body).with_context(|| format!("GET {path} is not JSON"))
}

/// `POST {base}/api/chat` with a JSON body.
pub async fn post_chat(
    client: &reqwest::Client,
    base: &str,
    body: &serde_json::Value,
) -> Result<Answer> {
    exchange(client.post(format!("{base}/api/chat")).json(body)).await
}

/// Tries to deliver an oversized body to `POST {base}{path}` with a plain socket, and reads
/// whatever answer comes.
///
/// A server that refuses a body by its `content-length` answers 413 before reading it and
/// closes; an HTTP client library then fails on the write (broken pipe) and never shows the
/// answer that is already in the socket. Here a failed write just ends the upload, and the
/// answer is read regardless. When the peer's reset discards the answer before it can be
/// read, the attempt is repeated (the outcome depends on timing, not on the server).
pub async fn post_oversized(base: &str, path: &str, body: &[u8]) -> Result<Answer> {
    const ATTEMPTS: usize = 3;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match post_raw(base, path, body).await {
            Ok(answer) => return Ok(answer),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
}

async fn post_raw(base: &str, path: &str, body: &[u8]) -> Result<Answer> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base
        .strip_prefix("http://")
        .context("the backend URL is not http://")?;
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot connect to {authority}"))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let upload = async {
        stream.write_all(head.as_bytes()).await?;
        for piece in body.chunks(64 * 1024) {
            stream.write_all(piece).await?;
        }
        stream.flush().await
    };
    // A refused upload ends early; the answer is what matters.
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, upload).await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(ANSWER_TIMEOUT, stream.read_to_end(&mut raw)).await;
    if raw.is_empty() {
        anyhow::bail!("the connection closed without an answer ({read:?})");
    }
    parse_response(&raw)
}

/// Parses a complete HTTP/1.1 response with a `content-length` (or read to close) body.
fn parse_response(raw: &[u8]) -> Result<Answer> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the answer has no complete header block")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("the answer has no status line")?;
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()),
                reqwest::header::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(n, v);
        }
    }
    let mut body = raw[end + 4..].to_vec();
    if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Ok(Answer {
        status,
        headers,
        body,
        transport_error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_raw_answer() {
        let raw = b"HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}junk";
        let a = parse_response(raw).unwrap();
        assert_eq!(a.status, 413);
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(a.body, b"{}");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
