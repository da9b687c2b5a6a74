//! The contract every crate of the arena imports, so nobody keeps a private copy of a wire type.
//!
//! Why it exists: four backends, a mock provider and a harness must agree byte for byte on what
//! crosses the wire, on the names of scenarios and on how time is read. Each module is one of
//! those agreements:
//!
//! - [`ui_chunk`]: the AI SDK v6 UI message stream chunks a backend emits;
//! - [`ui_message`]: the `useChat` request body and the `UIMessage` it carries;
//! - [`sse`]: event-stream framing, encoder and incremental decoder;
//! - [`frames`]: the `frames` sidecar wire (streams multiplexed on one connection);
//! - [`openai`]: OpenAI Chat Completions stream types (async-openai's own);
//! - [`scenario`]: the scenario catalogue and the `[[scenario:...]]` directive;
//! - [`tools`]: tool definitions and the callback protocol between JS and Rust;
//! - [`api_error`]: the JSON error body; [`error_text`]: the text of `error` chunks;
//!   [`ready`]: the ready line;
//! - [`timeline`]: the mock provider's record of arrivals and chunk send times;
//! - [`clock`]: the `CLOCK_MONOTONIC` clock every process shares; [`lifeline`]: children that
//!   die with their parent;
//! - [`runtime`]: the pinned JavaScript runtimes and which binary runs a target;
//! - [`runtime_memory`]: what a backend's JavaScript runtimes report of their heap;
//! - [`sdk_timing`]: the AI SDK's own per-step timing, as a JavaScript target logs it;
//! - [`results`]: the shape of the harness's `results.json` (and of `reports/schema.json`);
//! - [`js`]: all of the above that JavaScript needs, rendered as the ES module
//!   `contract/js/contract.mjs` (bin `contract-js` writes it);
//! - the crate root: the limits and defaults every server shares.

pub mod api_error;
pub mod clock;
pub mod error_text;
pub mod frames;
pub mod js;
pub mod lifeline;
pub mod openai;
pub mod ready;
pub mod request_id;
pub mod results;
pub mod runtime;
pub mod runtime_memory;
pub mod scenario;
pub mod sdk_timing;
pub mod sse;
pub mod timeline;
pub mod tools;
pub mod ui_chunk;
pub mod ui_message;

use std::time::Duration;

/// The headers of a UI message stream response, as `UI_MESSAGE_STREAM_HEADERS` in `ai@6` has
/// them, plus the explicit `identity` encoding that keeps compression from buffering frames.
pub const UI_STREAM_HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
    ("x-vercel-ai-ui-message-stream", "v1"),
    ("x-accel-buffering", "no"),
];

/// The largest `/api/chat` body any backend accepts (docs/design.md#error-bodies: 413 above 1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Steps of a multi-step tool answer before the loop stops, as `stepCountIs(5)`.
pub const MAX_STEPS: u32 = 5;
/// The environment variable holding the provider's API key: every backend reads it there only,
/// and a sidecar or JS host is handed it the same way.
pub const API_KEY_ENV: &str = "OPENAI_API_KEY";
/// The model a server asks for unless told otherwise: the mock provider's.
pub const DEFAULT_MODEL: &str = "mock-gpt";
/// A provider silent this long (before its headers or between chunks) ends the stream in error
/// (docs/design.md#a-silent-provider-times-out).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries of a retryable provider answer: the AI SDK's own default, kept by every backend
/// (docs/design.md#the-ai-sdks-retry-policy-everywhere).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// How long a starting sidecar retries loading its tool definitions from the Rust side, which
/// may start its tool listener after the sidecar.
pub const TOOLS_WAIT: Duration = Duration::from_secs(10);
/// From SIGTERM to a process gone, its Node.js runtime included (docs/design.md#shutdown).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);
/// How long a stopping server lets connections finish before it closes them: the deadline
/// less half a second for the process's own exit.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);
