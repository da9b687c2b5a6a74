//! The pure-Rust architecture: an axum server (the shared `leanspec-core` shell) whose chat
//! route streams from the provider with async-openai and runs its own tool loop, emitting the
//! AI SDK v6 UI message stream a `useChat` client cannot tell from `streamText`'s.
//!
//! Layout, in the order a request flows:
//! - [`convert`]: UI messages to OpenAI messages (`convertToModelMessages` + `@ai-sdk/openai`);
//! - [`provider`]: the async-openai client, with the AI SDK's retry policy and the idle timeout;
//! - [`chat`]: the tool loop, a generator of SSE frames up to [`contract::MAX_STEPS`] steps;
//! - [`step`] and [`tool_calls`]: one provider stream to UI chunks, tool-call fragments by index;
//! - [`frames`]: chunk to `data: ...` frame in one allocation; [`ids`]: AI-SDK-shaped ids;
//! - [`error`]: upstream failures as the text of the final `error` chunk;
//! - [`tools`]: the interface to the tools, implemented by `leanspec_core::Toolbox`;
//! - [`backend`]: [`RustOnlyBackend`], the `leanspec_core::ChatBackend` the binary serves.
//!
//! Choices where the AI SDK leaves room, and why:
//! - Error text: the fixed phrase per failure class of docs/architecture.md ("Error text"),
//!   the one the sidecar's `onError` gives, instead of the AI SDK's default "An error
//!   occurred."; a tool's own error message is passed through. The model still reads the AI
//!   SDK's full message for an invalid tool call, as in `streamText`.
//! - An upstream failure ends the answer: one `error` chunk, then `[DONE]`. That includes a
//!   malformed chunk (the AI SDK reports it and reads on) and a stream that ends without a
//!   finish reason (the AI SDK would finish with `other`): a cut answer must not look complete.
//! - Retries: the AI SDK's default policy (2 retries, 2 s then 4 s, `retry-after-ms` /
//!   `retry-after` honoured below 60 s) as the issue asks; `--max-retries 0` fails at once, as
//!   the sidecar (`maxRetries: 0`) does.
//! - Incomplete tool parts in the history are dropped (`ignoreIncompleteToolCalls: true`):
//!   otherwise the AI SDK fails the request with `MissingToolResultsError`.
//! - `__crash` has no JavaScript runtime to kill here: it is reported as a tool error that
//!   says so, and the answer goes on.

pub mod backend;
pub mod chat;
pub mod convert;
pub mod error;
pub mod frames;
pub mod ids;
pub mod provider;
pub mod step;
pub mod tool_calls;
pub mod tools;

pub use backend::{BACKEND_NAME, RustOnlyBackend};
pub use chat::ChatEngine;
pub use error::UpstreamError;
pub use provider::{Provider, ProviderConfig, ProviderConfigError, RetryPolicy};
pub use tools::ToolRunner;
