//! `/api/chat` over the `frames` wire (docs/frames.md): the request goes to the least-loaded
//! live sidecar as an `open` frame on its connection, and its UI message chunks come back as
//! frames that this side writes as the SSE the client reads, byte for byte what the sidecar's
//! own `pipeUIMessageStreamToResponse` writes on the `sse` wire (`data: <json>\n\n`, then
//! `data: [DONE]\n\n`); the response head is the shell's, as on the `sse` wire.

use std::time::Duration;

use bytes::Bytes;
use contract::api_error::ErrorBody;
use contract::request_id::{self, RequestId};
use contract::sse::{DONE_FRAME, encode_data};
use contract::ui_chunk::UiChunk;
use contract::ui_message::ChatRequest;
use leanspec_core::{ApiError, SseBody};
use tokio_util::sync::CancellationToken;

use crate::frames::{Event, FramesStream};
use crate::pool::{Lease, Pool, PoolHealth};
use crate::relay::{refusal_of, unavailable};
use crate::transport::Endpoint;

const DATA_PREFIX: &[u8] = b"data: ";
const FRAME_END: &[u8] = b"\n\n";

/// Sends `request` to the least-loaded live sidecar over its frames connection and turns the
/// chunks that come back into the client's SSE.
pub async fn forward_chat<E: Endpoint>(
    pool: &Pool<E>,
    request: &ChatRequest,
    request_id: &RequestId,
    silence_limit: Duration,
    cancel: CancellationToken,
) -> Result<SseBody, ApiError> {
    let body = open_body(request, request_id)
        .map_err(|e| ApiError::Internal(format!("cannot serialise the chat request: {e}")))?;
    let mut last_error = None;
    for _ in 0..=pool.members().len() {
        let Some(lease) = pool.pick() else { break };
        let opened = tokio::select! {
            _ = cancel.cancelled() => return Err(cancelled()),
            opened = open(&lease, &body, silence_limit) => opened,
        };
        match opened {
            Opened::Streaming(stream, first) => {
                let id = request_id.clone();
                return Ok(relay(stream, first, lease, silence_limit, cancel, id));
            }
            Opened::Refused(body) => return Err(refusal(&body)),
            Opened::Silent => {
                let mut body = Vec::new();
                fail(
                    &format!("the chat sidecar sent nothing for {silence_limit:?}"),
                    &mut body,
                );
                return Ok(SseBody::from_frames(futures::stream::once(async move {
                    Bytes::from(body)
                })));
            }
            Opened::Broken(why) => {
                // The sidecar had the request and may have called the provider: no retry
                // (docs/frames.md#connection-and-cancellation).
                return Err(ApiError::Unavailable {
                    message: format!("the chat runtime failed before answering ({why})"),
                    retry_after_s: 1,
                });
            }
            Opened::Failed(e) => {
                // The request never reached the sidecar: like a refused connection on the
                // `sse` wire, another member (or this one, restarted) may take it.
                tracing::warn!(
                    member = lease.member().index,
                    %request_id,
                    "the sidecar failed before answering: {e}"
                );
                lease.member().report_connect_failure();
                last_error = Some(e);
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

enum Opened {
    Streaming(FramesStream, Event),
    Refused(Vec<u8>),
    Silent,
    /// Broken after the `open` went out, before any chunk.
    Broken(String),
    /// Never reached the sidecar.
    Failed(String),
}

async fn open<E: Endpoint>(lease: &Lease<E>, body: &[u8], silence_limit: Duration) -> Opened {
    let connection = match lease.client.frames().await {
        Ok(connection) => connection,
        Err(e) => return Opened::Failed(e.to_string()),
    };
    let mut stream = match connection.open(body) {
        Ok(stream) => stream,
        Err(e) => return Opened::Failed(e.to_string()),
    };
    // The first event decides between a refusal (a status of its own) and a streamed answer.
    match tokio::time::timeout(silence_limit, stream.next()).await {
        Err(_) => Opened::Silent,
        Ok(Some(Event::Refused(body))) => Opened::Refused(body),
        Ok(Some(Event::Broken(why))) => Opened::Broken(why),
        Ok(Some(first)) => {
            lease.member().saw_activity();
            Opened::Streaming(stream, first)
        }
        Ok(None) => Opened::Broken("the stream ended before it began".into()),
    }
}

fn cancelled() -> ApiError {
    ApiError::Unavailable {
        message: "the request was cancelled before the chat runtime answered".into(),
        retry_after_s: 1,
    }
}

/// A refusal frame's error body, as the `sse` wire's error status would have been read.
fn refusal(body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => {
            let status = e.error.code.status();
            let shown = hyper::StatusCode::from_u16(status)
                .map_or_else(|_| status.to_string(), |s| s.to_string());
            refusal_of(
                status,
                format!("the chat sidecar answered {shown}: {}", e.error.message),
            )
        }
        Err(_) => ApiError::Internal(format!(
            "the chat sidecar refused with a body that is not an error: {}",
            String::from_utf8_lossy(body)
        )),
    }
}

struct Relay<E: Endpoint> {
    stream: FramesStream,
    first: Option<Event>,
    finished: bool,
    silence_limit: Duration,
    cancel: CancellationToken,
    /// Counts this stream against its member until the body is dropped.
    lease: Lease<E>,
    /// Named in the log line when the stream fails.
    request_id: RequestId,
}

fn relay<E: Endpoint>(
    stream: FramesStream,
    first: Event,
    lease: Lease<E>,
    silence_limit: Duration,
    cancel: CancellationToken,
    request_id: RequestId,
) -> SseBody {
    let relay = Relay {
        request_id,
        stream,
        first: Some(first),
        finished: false,
        silence_limit,
        cancel,
        lease,
    };
    SseBody::from_frames(futures::stream::unfold(relay, |mut relay| async move {
        relay.next_bytes().await.map(|bytes| (bytes, relay))
    }))
}

impl<E: Endpoint> Relay<E> {
    /// Every event that is ready, as one body chunk of SSE frames.
    async fn next_bytes(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let first = match self.first.take() {
            Some(first) => first,
            None => {
                let next = tokio::select! {
                    _ = self.cancel.cancelled() => None,
                    next = tokio::time::timeout(self.silence_limit, self.stream.next()) => Some(next),
                };
                match next {
                    None => {
                        self.finished = true;
                        return None;
                    }
                    Some(Err(_)) => {
                        let mut out = Vec::new();
                        let silence = self.silence_limit;
                        self.finish_with(
                            &format!("the chat sidecar sent nothing for {silence:?}"),
                            &mut out,
                        );
                        return Some(Bytes::from(out));
                    }
                    Some(Ok(None)) => Event::Broken("the chat sidecar's stream broke off".into()),
                    Some(Ok(Some(event))) => event,
                }
            }
        };
        self.lease.member().saw_activity();
        let mut out = Vec::new();
        let mut event = Some(first);
        while let Some(e) = event {
            if self.write(e, &mut out) {
                break;
            }
            event = self.stream.next_ready();
        }
        Some(Bytes::from(out))
    }

    /// Writes one event's SSE; true when it ended the stream.
    fn write(&mut self, event: Event, out: &mut Vec<u8>) -> bool {
        match event {
            Event::Chunk(json) => {
                out.reserve(DATA_PREFIX.len() + json.len() + FRAME_END.len());
                out.extend_from_slice(DATA_PREFIX);
                out.extend_from_slice(&json);
                out.extend_from_slice(FRAME_END);
                false
            }
            Event::End => {
                out.extend_from_slice(DONE_FRAME);
                self.finished = true;
                true
            }
            Event::Refused(body) => {
                let why = format!(
                    "the chat sidecar failed mid-stream: {}",
                    String::from_utf8_lossy(&body)
                );
                self.finish_with(&why, out);
                true
            }
            Event::Broken(why) => {
                self.finish_with(&why, out);
                true
            }
        }
    }

    /// Ends the stream the way the AI SDK ends a failed one: an `error` chunk, then `[DONE]`.
    fn finish_with(&mut self, reason: &str, out: &mut Vec<u8>) {
        tracing::warn!(request_id = %self.request_id, "chat stream from the sidecar failed: {reason}");
        self.finished = true;
        fail(reason, out);
    }
}

/// The `open` frame's body: the `useChat` body with the request id beside its keys
/// (docs/frames.md).
fn open_body(request: &ChatRequest, request_id: &RequestId) -> serde_json::Result<Vec<u8>> {
    let mut body = serde_json::to_value(request)?;
    if let Some(object) = body.as_object_mut() {
        object.insert(
            request_id::OPEN_FRAME_KEY.to_owned(),
            request_id.as_str().into(),
        );
    }
    serde_json::to_vec(&body)
}

fn fail(reason: &str, out: &mut Vec<u8>) {
    encode_data(&UiChunk::error(reason).to_json(), out);
    out.extend_from_slice(DONE_FRAME);
}
