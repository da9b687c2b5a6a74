// Generated from the contract crate (contract/src/js.rs); do not edit.
// Rewrite with `cargo run -p contract --bin contract-js`; a test fails when this file is stale.
// Every rule here is written once, in Rust: docs/design.md#one-source-for-each-rule.

// contract: the limits and defaults every server shares.

/** contract::MAX_STEPS */
export const MAX_STEPS = 5;
/** contract::MAX_BODY_BYTES */
export const MAX_BODY_BYTES = 1048576;
/** contract::DEFAULT_MODEL */
export const DEFAULT_MODEL = "mock-gpt";
/** contract::DEFAULT_IDLE_TIMEOUT, in milliseconds */
export const DEFAULT_IDLE_TIMEOUT_MS = 60000;
/** contract::DEFAULT_MAX_RETRIES */
export const DEFAULT_MAX_RETRIES = 2;
/** contract::TOOLS_WAIT, in milliseconds */
export const TOOLS_WAIT_MS = 10000;
/** contract::SHUTDOWN_DEADLINE, in milliseconds */
export const SHUTDOWN_DEADLINE_MS = 2000;
/** contract::SHUTDOWN_GRACE, in milliseconds */
export const SHUTDOWN_GRACE_MS = 1500;

// contract::error_text: the client-facing error text (docs/architecture.md#error-text).

/** contract::error_text::PROVIDER_UNREACHABLE */
export const PROVIDER_UNREACHABLE = "could not reach the provider";
/** contract::error_text::PROVIDER_MALFORMED */
export const PROVIDER_MALFORMED = "provider sent a malformed chunk";
/** contract::error_text::PROVIDER_TRUNCATED */
export const PROVIDER_TRUNCATED = "provider stream ended unexpectedly";
/** contract::error_text::INTERNAL_ERROR */
export const INTERNAL_ERROR = "internal error in the chat runtime";
/** contract::error_text::SHUTTING_DOWN */
export const SHUTTING_DOWN = "the server is shutting down; retry the request";
/** contract::error_text::provider_status */
export const providerStatus = (status) => `provider returned HTTP ${status}`;
/** contract::error_text::provider_idle */
export const providerIdle = (seconds) => `provider sent nothing for ${seconds} s`;
/** contract::error_text::unknown_tool */
export const unknownTool = (name) => `unknown tool: ${name}`;
/** contract::error_text::invalid_tool_input */
export const invalidToolInput = (name) => `invalid input for tool ${name}`;
/** contract::error_text::tool_not_called */
export const toolNotCalled = (name, reason) => `tool ${name} could not be called: ${reason}`;
/** contract::error_text::tool_panicked */
export const toolPanicked = (message) => `tool panicked: ${message}`;

// contract::api_error: the JSON error body's codes and their statuses.

/** contract::api_error::ErrorCode: each code with its HTTP status */
export const ERROR_STATUS = Object.freeze({
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  upstream_error: 502,
  unavailable: 503,
});

// contract::frames: the `frames` sidecar wire's header, limits and kinds (docs/frames.md).

/** contract::frames::HEADER_LEN */
export const FRAME_HEADER_LEN = 9;
/** contract::frames::MAX_PAYLOAD */
export const FRAME_MAX_PAYLOAD = 8388608;
/** contract::frames::STREAM_WINDOW */
export const FRAME_STREAM_WINDOW = 64;
/** contract::frames::Kind */
export const FRAME_KIND = Object.freeze({ open: 1, chunk: 2, end: 3, cancel: 4, error: 5, credit: 6 });

// contract::request_id: the request id's header on every hop (docs/architecture.md#request-id).

/** contract::request_id::HEADER */
export const REQUEST_ID_HEADER = "x-request-id";
/** contract::request_id::OPEN_FRAME_KEY */
export const REQUEST_ID_OPEN_FRAME_KEY = "requestId";

// contract::runtime_memory: the sidecar's memory route (docs/soak.md#the-samples).

/** contract::runtime_memory::SIDECAR_MEMORY_PATH */
export const SIDECAR_MEMORY_PATH = "/health/memory";

// contract::sdk_timing: the AI SDK's own step timing as a log line (docs/runtimes.md#two-readings-of-ttft-and-chunk-gaps).

/** contract::sdk_timing::SDK_TIMING_ENV */
export const SDK_TIMING_ENV = "ARENA_SDK_TIMING";
/** contract::sdk_timing::SDK_TIMING_LINE */
export const SDK_TIMING_LINE = "sdk-timing ";

// contract::ready: the ready line.

/** contract::ready::ReadyLine, without the newline */
export const readyLine = ({ backend, url, pid, runtimePid }) =>
  JSON.stringify({ event: "ready", backend, url, pid, runtime_pid: runtimePid });
