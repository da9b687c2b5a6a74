//! The pure-Rust architecture: an axum server (the shared `leanspec-core` shell) whose chat
//! route streams from the provider with async-openai and runs its own tool loop, emitting the
//! AI SDK v6 UI message stream a `useChat` client cannot tell from `streamText`'s.
//!
//! Layout, in the order a request flows:
//! - [`convert`]: UI messages to OpenAI messages (`convertToModelMessages` + `@ai-sdk/openai`);
//! - [`provider`]: the async-openai client, with the AI SDK's retry policy and the idle timeout;
//!   [`chunks`]: its SSE body as chunks, read only as they are asked for;
//! - [`chat`]: the tool loop, a state machine streamed as SSE frames, up to
//!   [`contract::MAX_STEPS`] steps;
//! - [`step`] and [`tool_calls`]: one provider stream to UI chunks, tool-call fragments by index;
//!   [`fast_chunk`]: the plain text chunk read without async-openai's owned types;
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
//!   `retry-after` honoured below 60 s), as every backend does (docs/architecture.md);
//!   `--max-retries` changes the count.
//! - async-openai reports the end of a stream the same way whether `data: [DONE]` came or the
//!   connection closed cleanly, so a stream is judged complete by its finish reason: one that
//!   closes cleanly without a finish reason ends in `provider stream ended unexpectedly`, one
//!   that closes cleanly after its finish reason but before `[DONE]` passes (the sidecar would
//!   report it). A connection cut mid-body is an error either way.
//! - Incomplete tool parts in the history are dropped (`ignoreIncompleteToolCalls: true`):
//!   otherwise the AI SDK fails the request with `MissingToolResultsError`.
//! - `__crash` has no JavaScript runtime to kill here: it is reported as a tool error that
//!   says so, and the answer goes on.
//!
//! Per-chunk cost: the loop allocates one frame per text chunk and nothing else
//! (`tests/allocations.rs`); reading the provider adds the SSE event and the chunk's text, and
//! reqwest's connection task hands each read to the response's task through hyper's body
//! channel (docs/rust-hop.md#stage-timestamps).
//! `harness bench` measures the whole against the direct path (docs/bench.md), and
//! `benches/per_chunk.rs` the CPU one text chunk costs inside the backend (parse, step, frame).

pub mod backend;
pub mod chat;
pub mod chunks;
pub mod convert;
pub mod error;
pub mod fast_chunk;
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
