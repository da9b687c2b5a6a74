//! The relay: `/api/chat` forwarded to a sidecar, its answer streamed back as it arrives.
//!
//! Bytes pass through as they arrive; only a frame split across two reads waits for its end,
//! so that a stream cut mid-frame can still be closed with a well-formed `error` chunk and
//! `[DONE]` instead of half a JSON object. Dropping the relay (the client went away) drops the
//! upstream response, which closes that connection: the sidecar sees `close` and aborts its
//! provider request.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use contract::api_error::{ErrorBody, ErrorCode};
use contract::request_id::RequestId;
use contract::sse::{DONE_FRAME, encode_data};
use contract::ui_chunk::UiChunk;
use contract::ui_message::ChatRequest;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use leanspec_core::{ApiError, SseBody};
use tokio_util::sync::CancellationToken;

use crate::pool::{Lease, Pool, PoolHealth};
use crate::transport::Endpoint;

/// The AI SDK waits at most this long before a retry (it honours `Retry-After` below 60 s).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// How long a sidecar may stay silent mid-stream before the relay gives up on it. The sidecar
/// ends a stream itself when the provider is silent for `idle` (with the right error text),
/// but it may legitimately be silent longer: each attempt may run into that idle limit and
/// each retry may wait. Past all of that the sidecar is stuck, and only this backstop ends the
/// client's stream.
pub fn silence_backstop(idle: Duration, max_retries: u32) -> Duration {
    idle * (max_retries + 1) + MAX_RETRY_WAIT * max_retries + BACKSTOP_MARGIN
}

/// Lets the sidecar's own idle timer, which started a little after ours, fire and deliver its
/// error chunk first: with equal limits the two timers raced and the client sometimes got the
/// relay's generic text instead of the agreed "provider sent nothing" one.
const BACKSTOP_MARGIN: Duration = Duration::from_secs(1);

/// The most of a sidecar's error body worth reading into a message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// A frame longer than this is not a UI chunk but a broken sidecar: the relay stops holding it.
/// (Chunks carry at most a tool's output, and tool inputs are bounded by the 1 MiB body.)
const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// The end of an SSE frame as the AI SDK writes it.
const FRAME_END: &[u8] = b"\n\n";

/// Sends `request` to the least-loaded live sidecar and relays its UI message stream.
pub async fn forward_chat<E: Endpoint>(
    pool: &Pool<E>,
    request: &ChatRequest,
    request_id: &RequestId,
    silence_limit: Duration,
    cancel: CancellationToken,
) -> Result<SseBody, ApiError> {
    let body = serde_json::to_vec(request)
        .map(Bytes::from)
        .map_err(|e| ApiError::Internal(format!("cannot serialise the chat request: {e}")))?;
    let mut last_error = None;
    for _ in 0..=pool.members().len() {
        let Some(lease) = pool.pick() else { break };
        let response = tokio::select! {
            _ = cancel.cancelled() => {
                return Err(ApiError::Unavailable {
                    message: "the request was cancelled before the chat runtime answered".into(),
                    retry_after_s: 1,
                });
            }
            response = lease.client.post_chat(body.clone(), request_id) => response,
        };
        match response {
            Ok(response) if response.status() == StatusCode::OK => {
                return Ok(relay(
                    response.into_body(),
                    lease,
                    silence_limit,
                    cancel,
                    request_id.clone(),
                ));
            }
            Ok(response) => return Err(refusal(response).await),
            Err(e) => {
                // Nothing came back, not even a status line. The sidecar writes its response
                // head in the same tick it calls `streamText`, before the provider request can
                // reach the network, so a failure here means the answer never began: another
                // member, or this one restarted, may take it without a second provider call.
                tracing::warn!(
                    member = lease.member().index,
                    %request_id,
                    "the sidecar failed before answering: {e}"
                );
                lease.member().report_connect_failure();
                last_error = Some(e.to_string());
            }
        }
    }
    if let Some(error) = last_error
        && pool.health() == PoolHealth::Up
    {
        return Err(ApiError::Unavailable {
            message: format!("the chat runtime failed before answering ({error})"),
            retry_after_s: 1,
        });
    }
    Err(unavailable(pool))
}

/// The 503 for a pool with no member up.
pub fn unavailable<E: Endpoint>(pool: &Pool<E>) -> ApiError {
    let retry_after = match pool.health() {
        PoolHealth::Down { retry_after } => retry_after,
        PoolHealth::Up => Duration::ZERO,
    };
    ApiError::Unavailable {
        message: SIDECAR_DOWN.into(),
        retry_after_s: retry_after_seconds(retry_after),
    }
}

/// What a client is told while no sidecar serves, by `/health` and by `/api/chat` alike.
pub const SIDECAR_DOWN: &str = "the chat sidecar is down or restarting";

/// `Retry-After` is whole seconds; round up, and never tell a client to retry at once.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole_seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole_seconds.max(1)
}

/// A sidecar answered with an error status: carry its message, not its status, when it is ours
/// to explain (a token mismatch is our bug, not the client's).
async fn refusal(response: hyper::Response<Incoming>) -> ApiError {
    let status = response.status();
    let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<ErrorBody>(&body).map_or_else(
        |_| String::from_utf8_lossy(&body).into_owned(),
        |e| e.error.message,
    );
    refusal_of(
        status.as_u16(),
        format!("the chat sidecar answered {status}: {message}"),
    )
}

/// The error a sidecar's refusal with `status` becomes (both wires): its message kept when it is
/// ours to explain (a token mismatch is our bug, not the client's).
pub fn refusal_of(status: u16, message: String) -> ApiError {
    match status {
        400 => ApiError::InvalidRequest(message),
        413 => ApiError::PayloadTooLarge {
            limit_bytes: contract::MAX_BODY_BYTES,
        },
        503 => ApiError::Unavailable {
            message,
            retry_after_s: 1,
        },
        s if s == ErrorCode::Unauthorized.status() => ApiError::Internal(message),
        _ => ApiError::Upstream(message),
    }
}

fn relay<E: Endpoint>(
    body: Incoming,
    lease: Lease<E>,
    silence_limit: Duration,
    cancel: CancellationToken,
    request_id: RequestId,
) -> SseBody {
    let relay = Relay {
        request_id,
        body,
        partial: BytesMut::new(),
        ended_with_done: false,
        finished: false,
        silence_limit,
        cancel,
        lease,
    };
    SseBody::from_frames(futures::stream::unfold(relay, |mut relay| async move {
        relay.next_frames().await.map(|frames| (frames, relay))
    }))
}

struct Relay<E: Endpoint> {
    body: Incoming,
    /// The start of a frame whose end has not arrived yet.
    partial: BytesMut,
    ended_with_done: bool,
    finished: bool,
    silence_limit: Duration,
    cancel: CancellationToken,
    /// Counts this stream against its member until the relay is dropped.
    lease: Lease<E>,
    /// Named in the log line when the stream fails.
    request_id: RequestId,
}

impl<E: Endpoint> Relay<E> {
    async fn next_frames(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        loop {
            let next = tokio::select! {
                _ = self.cancel.cancelled() => {
                    self.finished = true;
                    return None;
                }
                next = tokio::time::timeout(self.silence_limit, self.body.frame()) => next,
            };
            match next {
                Ok(Some(Ok(frame))) => {
                    // Proof of life for the hang watch (member.rs), whatever the frame holds.
                    self.lease.member().saw_activity();
                    if let Ok(data) = frame.into_data()
                        && let Some(complete) = self.complete_frames(data)
                    {
                        return Some(complete);
                    }
                    if self.partial.len() > MAX_FRAME_BYTES {
                        let held = self.partial.len();
                        return Some(self.fail(&format!(
                            "the chat sidecar sent {held} bytes without ending a frame"
                        )));
                    }
                }
                Ok(Some(Err(_))) | Ok(None) if self.ended_with_done && self.partial.is_empty() => {
                    self.finished = true;
                    return None;
                }
                Ok(Some(Err(e))) => {
                    return Some(self.fail(&format!("the chat runtime's stream broke ({e})")));
                }
                Ok(None) => {
                    return Some(
                        self.fail("the chat runtime ended the stream before it was complete"),
                    );
                }
                Err(_) => {
                    let silence = self.silence_limit;
                    return Some(
                        self.fail(&format!("the chat sidecar sent nothing for {silence:?}")),
                    );
                }
            }
        }
    }

    /// The complete frames of what arrived so far; the tail of an unfinished frame waits.
    fn complete_frames(&mut self, data: Bytes) -> Option<Bytes> {
        let complete = take_complete_frames(&mut self.partial, data)?;
        self.ended_with_done = complete.ends_with(DONE_FRAME);
        Some(complete)
    }

    /// Ends the stream the way the AI SDK ends a failed one: an `error` chunk, then `[DONE]`.
    fn fail(&mut self, reason: &str) -> Bytes {
        tracing::warn!(request_id = %self.request_id, "chat stream from the sidecar failed: {reason}");
        self.finished = true;
        self.partial.clear();
        let mut out = Vec::new();
        encode_data(&UiChunk::error(reason).to_json(), &mut out);
        out.extend_from_slice(DONE_FRAME);
        Bytes::from(out)
    }
}

/// Appends `data` to the held `partial` frame and takes every complete frame off its front.
///
/// What is held never contains a frame end (it would have been taken), so only the new bytes,
/// plus the held byte that may begin a `\n\n` with them, are searched: a frame arriving in many
/// small reads costs one pass over its bytes, not one pass per read.
pub fn take_complete_frames(partial: &mut BytesMut, data: Bytes) -> Option<Bytes> {
    if data.is_empty() {
        return None;
    }
    if partial.is_empty() && data.ends_with(FRAME_END) {
        return Some(data);
    }
    let search_from = partial.len().saturating_sub(FRAME_END.len() - 1);
    partial.extend_from_slice(&data);
    let end = search_from + last_frame_end(&partial[search_from..])?;
    Some(partial.split_to(end).freeze())
}

fn last_frame_end(buf: &[u8]) -> Option<usize> {
    buf.windows(FRAME_END.len())
        .rposition(|w| w == FRAME_END)
        .map(|i| i + FRAME_END.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(200)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_000)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(5)), 5);
    }

    #[test]
    fn the_backstop_outlasts_every_legitimate_silence() {
        let idle = Duration::from_secs(2);
        assert_eq!(silence_backstop(idle, 0), idle + BACKSTOP_MARGIN);
        // Worst legitimate silence with two retries: three attempts each running into the idle
        // limit, and two waits of the longest `Retry-After` the AI SDK honours.
        assert!(silence_backstop(idle, 2) > idle * 3 + MAX_RETRY_WAIT * 2);
    }

    #[test]
    fn frame_end_is_found_at_the_last_blank_line() {
        assert_eq!(last_frame_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(last_frame_end(b"data: a\n\ndata: b\n\n"), Some(18));
        assert_eq!(last_frame_end(b"data: a"), None);
    }

    #[test]
    fn frames_split_across_reads_leave_whole_even_when_the_blank_line_is_split() {
        let mut partial = BytesMut::new();
        let mut take =
            |piece: &'static [u8]| take_complete_frames(&mut partial, Bytes::from(piece));
        assert_eq!(
            take(b"data: a\n\ndata: b"),
            Some(Bytes::from_static(b"data: a\n\n"))
        );
        assert_eq!(take(b"b"), None);
        assert_eq!(take(b"\n"), None);
        assert_eq!(
            take(b"\ndata: c\n"),
            Some(Bytes::from_static(b"data: bb\n\n"))
        );
        assert_eq!(take(b""), None);
        assert_eq!(take(b"\n"), Some(Bytes::from_static(b"data: c\n\n")));
        assert_eq!(
            take(b"data: d\n\n"),
            Some(Bytes::from_static(b"data: d\n\n"))
        );
        assert!(partial.is_empty());
    }
}
