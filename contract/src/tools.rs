//! The tool protocol between a JS runtime and the Rust side that owns the tools.
//!
//! Tools are defined once, in Rust (`backends/core`). A JS runtime fetches their definitions
//! (`GET /api/tools`) and calls back for each execution (`POST /internal/tools/{name}`, or a
//! direct call in the napi backend). These are the bodies of those exchanges.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const LIST_SPECS: &str = "list_specs";
pub const GET_SPEC: &str = "get_spec";
pub const SEARCH_SPECS: &str = "search_specs";
/// Fault injection: kills the JS runtime, as an uncaught exception would.
pub const CRASH_TOOL: &str = "__crash";
/// Fault injection: a Rust panic inside the tool.
pub const PANIC_TOOL: &str = "__panic";

/// One tool as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON Schema (draft 2020-12 subset OpenAI accepts) of the tool's input object.
    pub input_schema: Value,
}

/// `GET /api/tools`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolList {
    pub tools: Vec<ToolDefinition>,
}

/// The answer to one tool execution. A tool that fails still answers (HTTP 200): its error
/// is a result the model sees, not a failure of the chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ToolOutcome {
    /// The tool's output, passed to the model as JSON.
    Ok { output: Value },
    /// The tool failed; `message` becomes the `tool-output-error` text and the model's input.
    Error { message: String },
    /// Fault injection: the JS runtime that asked must die now, as on an uncaught exception.
    CrashRuntime { message: String },
}
