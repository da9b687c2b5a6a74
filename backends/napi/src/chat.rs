//! [`NapiChat`]: the core shell's `ChatBackend`, answered by a JS function in the same process.
//!
//! One request: the shell has validated the body; we create a [`SinkShared`] channel, call the JS
//! chat callback through a threadsafe function with the request JSON and a [`ChunkSink`], and
//! wait only until JS says whether it accepted the request (`sink.accept()`, or
//! `sink.reject(message)` for messages the AI SDK cannot convert: a 400). The response body then
//! reads the channel: one SSE frame per chunk JS writes, then the ending (`[DONE]`, or an `error`
//! chunk and `[DONE]`).
//!
//! The JS callback's own promise is awaited on a tokio task beside the body, only to learn how
//! it ended: a throw or a rejection becomes that request's `error` chunk (the threadsafe function
//! is called with `call_async_catch` semantics, so no JS exception can reach Node's
//! `uncaughtException` through us), and a callback that returns without ending the stream
//! still ends it.

use std::sync::Arc;

use bytes::Bytes;
use contract::request_id::RequestId;
use contract::runtime_memory::RuntimeMemory;
use contract::ui_chunk::UiChunk;
use contract::ui_message::ChatRequest;
use futures::StreamExt;
use leanspec_core::backend::{ChatBackend, Health};
use leanspec_core::error::ApiError;
use leanspec_core::ui_stream::{SseBody, done_frame};
use napi::Status;
use napi::bindgen_prelude::{FnArgs, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::sink::{ChunkSink, Ending, SinkShared, Start};

/// The JS chat callback: `(requestJson, sink, requestId) => Promise<void>`. Callee-handled is off (errors
/// come back as `Err`, not as a first callback argument), and the function is weak: it never
/// keeps Node's event loop alive by itself, so the process lifetime is the server's, not the
/// callback's.
pub type ChatCallback = ThreadsafeFunction<
    FnArgs<(String, ChunkSink, String)>,
    Promise<()>,
    FnArgs<(String, ChunkSink, String)>,
    Status,
    false,
    true,
>;

/// `() => JSON.stringify({pid, ...process.memoryUsage()})`, called on the JS thread for
/// `/health/runtime` (docs/soak.md#the-samples); weak like [`ChatCallback`].
pub type MemoryCallback = ThreadsafeFunction<(), String, (), Status, false, true>;

/// How long `/health/runtime` waits for the JS thread: a busy event loop is a missing sample,
/// and a sample a second must not pile up behind it.
const MEMORY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a client waits for a 503 to clear. The napi runtime is the process itself: when it
/// is unavailable it is shutting down, and a client should try again after a restart.
const RETRY_AFTER_SHUTDOWN_S: u64 = 2;

/// The chat backend whose runtime is the hosting Node process.
pub struct NapiChat {
    callback: Arc<ChatCallback>,
    memory: Option<Arc<MemoryCallback>>,
    /// Fires on server shutdown: every in-flight request's JS side is aborted.
    shutdown: CancellationToken,
}

impl std::fmt::Debug for NapiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NapiChat")
            .field("shutdown", &self.shutdown.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl NapiChat {
    pub fn new(
        callback: ChatCallback,
        memory: Option<MemoryCallback>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            callback: Arc::new(callback),
            memory: memory.map(Arc::new),
            shutdown,
        }
    }

    /// Runs one request through the JS chat function. `cancel` is the shell's per-request token
    /// (client disconnect).
    pub async fn run(
        &self,
        request: &ChatRequest,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        if self.shutdown.is_cancelled() {
            return Err(shutting_down());
        }
        let request_json = serde_json::to_string(request)
            .map_err(|e| ApiError::Internal(format!("cannot re-encode the chat request: {e}")))?;
        let sink_cancel = CancellationToken::new();
        let (start_tx, start_rx) = oneshot::channel();
        let (shared, receiver) = SinkShared::channel(sink_cancel.clone(), start_tx);
        tokio::spawn(link_cancellation(
            cancel,
            self.shutdown.clone(),
            sink_cancel,
            shared.clone(),
        ));
        tokio::spawn(call_js(
            self.callback.clone(),
            request_json,
            request_id,
            shared.clone(),
        ));
        match start_rx.await {
            Ok(Start::Accepted) => Ok(body(receiver, shared)),
            Ok(Start::Rejected(message)) => Err(ApiError::InvalidRequest(message)),
            // The sink was dropped before it said anything: only a shutdown does that.
            Err(_) => Err(shutting_down()),
        }
    }
}

fn shutting_down() -> ApiError {
    ApiError::Unavailable {
        message: "the napi backend is shutting down".into(),
        retry_after_s: RETRY_AFTER_SHUTDOWN_S,
    }
}

/// Cancels the sink when the client goes away or the server shuts down, whichever is first;
/// ends quietly when the stream ends on its own.
async fn link_cancellation(
    request: CancellationToken,
    shutdown: CancellationToken,
    sink_cancel: CancellationToken,
    shared: Arc<SinkShared>,
) {
    tokio::select! {
        () = request.cancelled() => sink_cancel.cancel(),
        () = shutdown.cancelled() => sink_cancel.cancel(),
        () = shared.ended() => {}
    }
}

/// Calls the JS callback and ends the stream from its outcome, whatever JS did with the sink.
async fn call_js(
    callback: Arc<ChatCallback>,
    request_json: String,
    request_id: RequestId,
    shared: Arc<SinkShared>,
) {
    let sink = ChunkSink::new(shared.clone());
    let args = (request_json, sink, request_id.to_string());
    let outcome = match callback.call_async_catch(FnArgs::from(args)).await {
        Ok(promise) => promise.await,
        Err(error) => Err(error),
    };
    let ending = match outcome {
        // Ignored when JS already ended the stream, which is the normal case.
        Ok(()) => Ending::Failed("the chat function returned without ending its stream".into()),
        Err(error) => {
            tracing::warn!(%request_id, %error, "the JS chat function failed; the request ends with an error chunk");
            Ending::Failed(format!("chat function failed: {}", error.reason))
        }
    };
    shared.finish(ending);
}

/// The response body: each chunk JS wrote becomes one frame as soon as it is read; then the
/// ending. The stream owns the receiver, so dropping it (client gone) closes the channel, which
/// the sink reports to JS as an abort.
fn body(receiver: mpsc::Receiver<String>, shared: Arc<SinkShared>) -> SseBody {
    let shared_for_end = shared;
    let chunks = tokio_stream_from(receiver).map(|json| frame(&json));
    let ending = futures::stream::once(async move { ending_frames(shared_for_end.ending()) })
        .flat_map(futures::stream::iter);
    SseBody::from_frames(chunks.chain(ending))
}

fn tokio_stream_from(receiver: mpsc::Receiver<String>) -> impl futures::Stream<Item = String> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|json| (json, receiver))
    })
}

/// `data: <json>\n\n`. `JSON.stringify` never emits a raw line break, so one `data:` line.
fn frame(json: &str) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    contract::sse::encode_data(json, &mut out);
    Bytes::from(out)
}

fn ending_frames(ending: Option<Ending>) -> Vec<Bytes> {
    let error = match ending {
        Some(Ending::Finished) => None,
        Some(Ending::Failed(message)) => Some(message),
        None => Some("the chat stream ended without an ending".to_owned()),
    };
    let mut frames = Vec::with_capacity(2);
    if let Some(message) = error {
        frames.push(frame(&UiChunk::error(message).to_json()));
    }
    frames.push(done_frame());
    frames
}

impl ChatBackend for NapiChat {
    fn name(&self) -> &'static str {
        "napi"
    }

    async fn chat(
        &self,
        request: ChatRequest,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        self.run(&request, request_id, cancel).await
    }

    fn health(&self) -> Health {
        if self.shutdown.is_cancelled() {
            Health::Unavailable {
                retry_after_s: RETRY_AFTER_SHUTDOWN_S,
                reason: "the napi backend is shutting down".into(),
            }
        } else {
            Health::Ok
        }
    }

    /// The runtime is this very process.
    fn runtime_pid(&self) -> Option<u32> {
        Some(std::process::id())
    }

    /// Asked of the JS thread, so a busy event loop answers late or (past [`MEMORY_TIMEOUT`])
    /// not at all.
    async fn runtime_memory(&self) -> Vec<RuntimeMemory> {
        let Some(memory) = self.memory.clone() else {
            return Vec::new();
        };
        let asked = tokio::time::timeout(MEMORY_TIMEOUT, memory.call_async(())).await;
        match asked {
            Ok(Ok(json)) => serde_json::from_str(&json).ok().into_iter().collect(),
            _ => Vec::new(),
        }
    }
}
