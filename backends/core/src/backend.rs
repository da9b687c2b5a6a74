//! The one thing each backend implements: the chat path. Everything around it (validation,
//! limits, health, errors, the SSE response) is the shell's.

use std::future::Future;

use contract::request_id::RequestId;
use contract::runtime_memory::RuntimeMemory;
use contract::ui_message::ChatRequest;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::ui_stream::SseBody;

/// Whether the backend can take a chat request now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The chat runtime is down or restarting; `/health` and `/api/chat` answer 503 with
    /// `Retry-After: retry_after_s`.
    Unavailable {
        retry_after_s: u64,
        reason: String,
    },
}

/// A chat architecture plugged into the shell.
///
/// Implementations may write `async fn chat(...)` in their `impl` block.
pub trait ChatBackend: Send + Sync + 'static {
    /// The name in the ready line and in `/health` (`"unix"`, `"http"`, `"napi"`, `"rust-only"`).
    fn name(&self) -> &'static str;

    /// Answers one validated chat request with a UI message stream.
    ///
    /// `cancel` fires when the client disconnects (the shell drops the body) or the server shuts
    /// down: stop the upstream provider request then. An `Err` before the stream begins becomes
    /// a JSON error response; a failure after it began must be an `error` chunk then `[DONE]`
    /// inside the stream.
    ///
    /// `request_id` is the id the client sees in the response's `x-request-id`: pass it to every
    /// hop the request takes and name it in every log line about its failure
    /// (docs/architecture.md#request-id).
    fn chat(
        &self,
        request: ChatRequest,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<SseBody, ApiError>> + Send;

    /// Checked by `/health` and before each chat request, so it must be cheap (an atomic
    /// read of state a supervisor keeps, not a probe of the runtime).
    fn health(&self) -> Health {
        Health::Ok
    }

    /// The Node.js process, where the architecture has one (reported in the ready line).
    fn runtime_pid(&self) -> Option<u32> {
        None
    }

    /// What each JavaScript runtime of the backend reports of its own memory
    /// (`process.memoryUsage()`), served on `GET /health/runtime`; empty without a runtime.
    /// A runtime that does not answer is left out rather than waited for.
    fn runtime_memory(&self) -> impl Future<Output = Vec<RuntimeMemory>> + Send {
        async { Vec::new() }
    }
}
