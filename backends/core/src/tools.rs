//! The tools, defined once: their descriptions and JSON Schemas for the model, and their
//! execution. Every backend runs tools through a [`Toolbox`], whichever runtime asked.
//!
//! A tool never fails the chat: unknown names, invalid input, a missing spec and even a panic
//! inside a tool come back as [`ToolOutcome::Error`], a result the model reads and can react
//! to. The fault-injection tools exist only when the server was started with
//! `--enable-fault-injection`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use contract::error_text;
use contract::tools::{
    CRASH_TOOL, GET_SPEC, LIST_SPECS, PANIC_TOOL, SEARCH_SPECS, ToolDefinition, ToolList,
    ToolOutcome,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::spec_api::{self, DEFAULT_LIST_LIMIT, Page};
use crate::spec_store::SpecStore;

/// The message of the `__crash` outcome; the JS side logs it as it dies.
pub const CRASH_MESSAGE: &str = "fault injection: __crash asks the JS runtime to exit now";
/// The panic message of `__panic`, so logs and tests can recognise the injected panic.
pub const PANIC_MESSAGE: &str = "fault injection: __panic inside a Rust tool";

/// Runs the tools against one spec store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Toolbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<SpecStore>,
    fault_injection: bool,
    definitions: Vec<ToolDefinition>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListInput {
    #[serde(default)]
    status: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GetInput {
    id: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchInput {
    query: String,
}

impl Toolbox {
    pub fn new(store: Arc<SpecStore>, fault_injection: bool) -> Self {
        let mut definitions = core_definitions();
        if fault_injection {
            definitions.extend(fault_definitions());
        }
        Self {
            inner: Arc::new(Inner {
                store,
                fault_injection,
                definitions,
            }),
        }
    }

    pub fn store(&self) -> &Arc<SpecStore> {
        &self.inner.store
    }

    pub fn fault_injection(&self) -> bool {
        self.inner.fault_injection
    }

    /// The tools the model may call, in a stable order.
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        self.inner.definitions.clone()
    }

    /// `GET /api/tools` and `GET /internal/tools`.
    pub fn tool_list(&self) -> ToolList {
        ToolList {
            tools: self.definitions(),
        }
    }

    /// Whether `name` is a tool of this toolbox (fault tools only with fault injection).
    pub fn has(&self, name: &str) -> bool {
        self.inner.definitions.iter().any(|d| d.name == name)
    }

    /// Runs one tool. Tools are in-memory lookups, short enough to run on the caller's task
    /// (measured: docs/design.md#tools-run-on-the-callers-task); a panic is caught and becomes
    /// a tool error.
    pub async fn execute(&self, name: &str, input: Value) -> ToolOutcome {
        self.execute_sync(name, input)
    }

    /// [`execute`](Self::execute) for callers outside an async context (the napi addon).
    pub fn execute_sync(&self, name: &str, input: Value) -> ToolOutcome {
        if !self.has(name) {
            return ToolOutcome::Error {
                message: error_text::unknown_tool(name),
            };
        }
        if name == CRASH_TOOL {
            return ToolOutcome::CrashRuntime {
                message: CRASH_MESSAGE.to_owned(),
            };
        }
        match catch_unwind(AssertUnwindSafe(|| self.run(name, input))) {
            Ok(Ok(output)) => ToolOutcome::Ok { output },
            Ok(Err(message)) => ToolOutcome::Error { message },
            Err(panic) => ToolOutcome::Error {
                message: error_text::tool_panicked(panic_message(panic.as_ref())),
            },
        }
    }

    fn run(&self, name: &str, input: Value) -> Result<Value, String> {
        let store = &*self.inner.store;
        match name {
            LIST_SPECS => {
                let input: ListInput = parse_input(name, input)?;
                output(spec_api::list_specs(
                    store,
                    input.status.as_deref(),
                    Page::default(),
                ))
            }
            GET_SPEC => {
                let input: GetInput = parse_input(name, input)?;
                output(spec_api::get_spec(store, &input.id))
            }
            SEARCH_SPECS => {
                let input: SearchInput = parse_input(name, input)?;
                output(spec_api::search_specs(store, &input.query))
            }
            PANIC_TOOL => panic!("{PANIC_MESSAGE}"),
            other => Err(format!("tool {other:?} has no implementation")),
        }
    }
}

/// Input that does not match the schema gets the fixed text of docs/architecture.md ("Error
/// text"), the same in every backend; the detail goes to the log.
fn parse_input<T: DeserializeOwned>(tool: &str, input: Value) -> Result<T, String> {
    // Models send `null` for an omitted optional argument object now and then.
    let input = if input.is_null() { json!({}) } else { input };
    let parsed = if input.is_object() {
        serde_json::from_value(input).map_err(|e| e.to_string())
    } else {
        Err("not a JSON object".to_owned())
    };
    parsed.map_err(|detail| {
        tracing::info!(tool, %detail, "invalid tool input");
        error_text::invalid_tool_input(tool)
    })
}

fn output<T: Serialize>(result: Result<T, ApiError>) -> Result<Value, String> {
    let body = result.map_err(|e| e.to_string())?;
    serde_json::to_value(body).map_err(|e| format!("cannot encode the tool output: {e}"))
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn core_definitions() -> Vec<ToolDefinition> {
    vec![
        ToolDefinition {
            name: LIST_SPECS.to_owned(),
            description: format!(
                "List the project's specs (id, title, status, created date, tags, priority) in \
                 spec-number order, optionally only those with one status. Returns at most \
                 {DEFAULT_LIST_LIMIT}; `count` says how many matched, and search_specs finds \
                 the rest."
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "status": {
                        "type": "string",
                        "enum": ["planned", "in-progress", "complete"],
                        "description": "Only specs with this status; omit for all."
                    }
                },
                "additionalProperties": false
            }),
        },
        ToolDefinition {
            name: GET_SPEC.to_owned(),
            description: "Read one spec in full: its metadata and markdown body.".to_owned(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "id": {
                        "type": "string",
                        "description": "The spec id, e.g. 001-chat-sidecar-architecture."
                    }
                },
                "required": ["id"],
                "additionalProperties": false
            }),
        },
        ToolDefinition {
            name: SEARCH_SPECS.to_owned(),
            description: "Full-text search over spec titles, tags and bodies; returns the best \
                          matches first, each with a snippet."
                .to_owned(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "A few words to look for."
                    }
                },
                "required": ["query"],
                "additionalProperties": false
            }),
        },
    ]
}

fn fault_definitions() -> Vec<ToolDefinition> {
    let no_input = json!({"type": "object", "properties": {}, "additionalProperties": false});
    vec![
        ToolDefinition {
            name: CRASH_TOOL.to_owned(),
            description: "Fault injection: makes the JavaScript runtime exit as an uncaught \
                          exception would."
                .to_owned(),
            input_schema: no_input.clone(),
        },
        ToolDefinition {
            name: PANIC_TOOL.to_owned(),
            description: "Fault injection: panics inside the Rust tool.".to_owned(),
            input_schema: no_input,
        },
    ]
}
