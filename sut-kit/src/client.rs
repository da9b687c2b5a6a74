//! The one HTTP client of the test stack: sends one request and keeps the whole answer, raw,
//! with the `CLOCK_MONOTONIC` time it was sent and the time each piece of the body arrived.
//! The conformance suite judges the bytes; the bench stage reads the same answers for when
//! each frame arrived ([`Answer::timed_events`]), so both read streams one way.
//!
//! reqwest is built without decompression, so a compressed answer shows up as such (a
//! `content-encoding` header and unreadable bytes) instead of being silently undone.

use std::time::Duration;

use anyhow::{Context, Result};
use contract::api_error::{ErrorBody, ErrorCode};
use contract::clock::monotonic_ns;
use contract::sse::{SseDecoder, SseEvent};
use reqwest::header::HeaderMap;

use crate::checker::{StreamReading, read_stream};

/// Longest a single answer may take; a stalled backend fails its case instead of the suite.
const ANSWER_TIMEOUT: Duration = crate::guards::HANG_GUARD;

/// One answer, as received.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was cut off (connection reset, timeout) before it ended.
    pub transport_error: Option<String>,
    /// [`monotonic_ns`] just before the request was handed to the connection.
    pub sent_ns: u64,
    /// When each read of the body returned, in order: `body[..end]` had arrived at `at_ns`.
    pub receipts: Vec<Receipt>,
}

/// One read of a body: everything up to byte `end` had arrived at `at_ns` (`CLOCK_MONOTONIC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub end: usize,
    pub at_ns: u64,
}

/// A server-sent event and when the read that completed it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedEvent {
    pub at_ns: u64,
    pub event: SseEvent,
}

impl Answer {
    /// The body's events, each stamped with the arrival of the read that completed its frame.
    pub fn timed_events(&self) -> Vec<TimedEvent> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        let mut start = 0;
        for receipt in &self.receipts {
            let Some(piece) = self.body.get(start..receipt.end) else {
                break;
            };
            decoder.push_with(piece, |event| {
                events.push(TimedEvent {
                    at_ns: receipt.at_ns,
                    event,
                });
            });
            start = receipt.end;
        }
        events
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body read as a UI message stream by the checker (see [`read_stream`]).
    pub fn reading(&self) -> StreamReading {
        read_stream(&self.body)
    }

    /// The body as text, for messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `code` of a JSON error body (`{"error":{"code",...}}`).
    pub fn error_code(&self) -> Option<ErrorCode> {
        serde_json::from_slice::<ErrorBody>(&self.body)
            .ok()
            .map(|b| b.error.code)
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
    Ok(open(request).await?.finish().await)
}

/// Sends a request and returns once the answer's head is in; its body is read as the caller
/// chooses (a test that hangs up mid-stream reads part of it, then drops it).
pub async fn open(request: reqwest::RequestBuilder) -> Result<Arriving> {
    let sent_ns = monotonic_ns();
    let response = request.send().await.context("the request failed")?;
    let answer = Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: Vec::new(),
        transport_error: None,
        sent_ns,
        receipts: Vec::new(),
    };
    Ok(Arriving {
        response,
        answer,
        ended: false,
    })
}

/// An answer whose body is still arriving; dropping it closes the connection (a hang-up).
#[derive(Debug)]
pub struct Arriving {
    response: reqwest::Response,
    /// What has arrived so far, with a receipt for each read.
    answer: Answer,
    ended: bool,
}

impl Arriving {
    pub fn status(&self) -> u16 {
        self.answer.status
    }

    /// The body so far.
    pub fn body(&self) -> &[u8] {
        &self.answer.body
    }

    /// Reads one more piece of the body; `false` once the body has ended or broken.
    pub async fn read_more(&mut self) -> bool {
        if self.ended {
            return false;
        }
        match self.response.chunk().await {
            Ok(Some(bytes)) => {
                let at_ns = monotonic_ns();
                self.answer.body.extend_from_slice(&bytes);
                self.answer.receipts.push(Receipt {
                    end: self.answer.body.len(),
                    at_ns,
                });
                true
            }
            Ok(None) => {
                self.ended = true;
                false
            }
            Err(e) => {
                self.answer.transport_error = Some(format!("{e:#}"));
                self.ended = true;
                false
            }
        }
    }

    /// Reads until the body so far contains `needle`; `false` when it ended first.
    pub async fn read_until(&mut self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        while !self.answer.body.windows(needle.len()).any(|w| w == needle) {
            if !self.read_more().await {
                return false;
            }
        }
        true
    }

    /// Reads the rest of the body (to its end, or to where it broke).
    pub async fn finish(mut self) -> Answer {
        while self.read_more().await {}
        self.answer
    }
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
    let received_ns = monotonic_ns();
    Ok(Answer {
        status,
        headers,
        receipts: vec![Receipt {
            end: body.len(),
            at_ns: received_ns,
        }],
        body,
        transport_error: None,
        sent_ns: received_ns,
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

    #[test]
    fn each_event_carries_the_arrival_of_the_read_that_completed_it() {
        let body = b"data: a\n\ndata: b".to_vec();
        let mut answer = parse_response(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        answer.body = [body.clone(), b"c\n\ndata: [DONE]\n\n".to_vec()].concat();
        answer.receipts = vec![
            Receipt {
                end: body.len(),
                at_ns: 10,
            },
            Receipt {
                end: answer.body.len(),
                at_ns: 20,
            },
        ];
        let events: Vec<(u64, String)> = answer
            .timed_events()
            .into_iter()
            .map(|t| (t.at_ns, t.event.data))
            .collect();
        assert_eq!(
            events,
            [(10, "a".into()), (20, "bc".into()), (20, "[DONE]".into())]
        );
    }
}
