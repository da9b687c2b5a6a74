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
//! - [`tools`]: the interface to the tools (`leanspec_core::Toolbox`).
//!
//! Choices where the AI SDK leaves room, and why:
//! - Errors are not masked. `toUIMessageStream`'s default `onError` replaces every error text
//!   with "An error occurred."; the contract (`contract::tools::ToolOutcome::Error`) makes a
//!   tool's message the `tool-output-error` text, and a user needs to know why an answer
//!   stopped, so error chunks carry the real message (a sidecar passing
//!   `onError: getErrorMessage` produces the same).
//! - An upstream failure ends the answer: an `error` chunk, then `[DONE]`. That includes a
//!   malformed chunk (the AI SDK reports it and reads on) and a stream that ends without a
//!   finish reason (the AI SDK would finish with `other`): a cut answer must not look complete.
//! - Incomplete tool parts in the history are dropped (`ignoreIncompleteToolCalls: true`):
//!   otherwise the AI SDK fails the request with `MissingToolResultsError`.
//! - `__crash` has no JavaScript runtime to kill here: it is reported as a tool error.

pub mod chat;
pub mod convert;
pub mod error;
pub mod frames;
pub mod ids;
pub mod provider;
pub mod step;
pub mod tool_calls;
pub mod tools;

pub use chat::ChatEngine;
pub use error::UpstreamError;
pub use provider::{Provider, ProviderConfig, ProviderConfigError, RetryPolicy};
pub use tools::ToolRunner;
