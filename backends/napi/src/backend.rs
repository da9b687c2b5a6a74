//! [`Backend`], the class `main.js` drives: flags, tools, and the server's life cycle.
//!
//! `Backend.create(argv)` parses the common flags with core's `ServerArgs` and loads the spec
//! corpus; `serve(handleChat)` binds, serves the core shell with [`NapiChat`] as its chat
//! backend on napi's tokio runtime, prints the ready line once `/health` answers, and resolves
//! after a graceful shutdown (`shutdown()`, wired to SIGTERM/SIGINT by `main.js`).

use std::sync::Mutex;

use clap::Parser;
use contract::tools::ToolOutcome;
use leanspec_core::args::ServerArgs;
use leanspec_core::server::CoreState;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use crate::chat::{ChatCallback, MemoryCallback, NapiChat};

/// The addon's command line: exactly the common flags every backend takes.
#[derive(Debug, Parser)]
#[command(
    name = "backend-napi",
    about = "LeanSpec chat server: Node.js hosting the Rust server as a napi-rs addon"
)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

/// What `main.js` prints and exits with when the flags are not a server configuration.
#[napi(object)]
#[derive(Debug)]
pub struct UsageExit {
    /// 2 for a usage error, 0 for `--help` / `--version`.
    pub exit_code: i32,
    pub message: String,
    pub to_stderr: bool,
}

/// `null` when `argv` (`process.argv.slice(1)`: the script, then the flags) parses; otherwise
/// clap's message and exit status, as every other backend's binary would print them.
#[napi]
pub fn check_args(argv: Vec<String>) -> Option<UsageExit> {
    match Cli::try_parse_from(argv) {
        Ok(_) => None,
        Err(error) => Some(UsageExit {
            exit_code: error.exit_code(),
            message: error.render().to_string(),
            to_stderr: error.use_stderr(),
        }),
    }
}

/// The server, its tools, and the switch that stops it.
#[napi]
#[derive(Debug)]
pub struct Backend {
    args: ServerArgs,
    state: CoreState,
    shutdown: CancellationToken,
    /// Set once `serve` has started, so a second call is refused instead of binding twice.
    serving: Mutex<bool>,
}

#[napi]
impl Backend {
    /// Parses the flags and loads the spec corpus. Throws with a message saying what to fix.
    #[napi(factory)]
    pub fn create(argv: Vec<String>) -> napi::Result<Self> {
        leanspec_core::launch::init_tracing();
        let cli = Cli::try_parse_from(argv).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        let args = cli.server;
        let state = CoreState::from_args(&args).map_err(|e| {
            napi::Error::from_reason(format!(
                "cannot load the spec corpus from {}: {e}",
                args.specs_dir.display()
            ))
        })?;
        crate::faults::set_enabled(args.enable_fault_injection);
        Ok(Self {
            args,
            state,
            shutdown: CancellationToken::new(),
            serving: Mutex::new(false),
        })
    }

    #[napi(getter)]
    pub fn provider_url(&self) -> String {
        self.args.provider_url.clone()
    }

    #[napi(getter)]
    pub fn model(&self) -> String {
        self.args.model.clone()
    }

    #[napi(getter)]
    pub fn fault_injection(&self) -> bool {
        self.args.enable_fault_injection
    }

    #[napi(getter)]
    pub fn idle_timeout_ms(&self) -> f64 {
        self.args.idle_timeout_s as f64 * 1000.0
    }

    /// `--max-retries`, for the chat function's provider calls.
    #[napi(getter)]
    pub fn max_retries(&self) -> u32 {
        self.args.max_retries
    }

    /// The tool definitions (`[{name, description, input_schema}]`) as JSON, for `createChat`.
    #[napi]
    pub fn tool_definitions_json(&self) -> String {
        serde_json::to_string(&self.state.toolbox().definitions()).unwrap_or_else(|_| "[]".into())
    }

    /// Runs one tool on the tokio runtime and resolves to its `ToolOutcome` JSON. Never
    /// rejects: bad input JSON is a tool error, and a panic inside a tool is caught by core.
    #[napi]
    pub async fn call_tool(
        &self,
        name: String,
        input_json: String,
        request_id: Option<String>,
    ) -> String {
        let outcome = match serde_json::from_str(&input_json) {
            Ok(input) => self.state.toolbox().execute(&name, input).await,
            Err(e) => ToolOutcome::Error {
                message: format!("tool input is not JSON: {e}"),
            },
        };
        if let ToolOutcome::Error { message } = &outcome {
            // The chat request that called it (docs/architecture.md#request-id).
            let request_id = request_id.as_deref().unwrap_or("-");
            tracing::info!(tool = %name, %message, request_id, "tool error");
        }
        serde_json::to_string(&outcome).unwrap_or_else(|e| {
            format!(r#"{{"status":"error","message":"cannot encode the tool outcome: {e}"}}"#)
        })
    }

    /// A log line from JS, through the same stderr logger as the Rust side.
    #[napi]
    pub fn log(&self, line: String) {
        tracing::warn!(target: "napi::js", "{line}");
    }

    /// Serves until `shutdown()`: resolves once the listener is closed and every request ended.
    /// `memory_usage`, when given, answers `/health/runtime` with this process's
    /// `process.memoryUsage()` as JSON.
    #[napi]
    pub async fn serve(
        &self,
        handle_chat: ChatCallback,
        memory_usage: Option<MemoryCallback>,
    ) -> napi::Result<()> {
        {
            let mut serving = self
                .serving
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *serving {
                return Err(napi::Error::from_reason("serve() was already called"));
            }
            *serving = true;
        }
        crate::server::run(
            self.args.clone(),
            self.state.clone(),
            NapiChat::new(handle_chat, memory_usage, self.shutdown.clone()),
            self.shutdown.clone(),
        )
        .await
        .map_err(|e| napi::Error::from_reason(format!("{e:#}")))
    }

    /// Starts a graceful shutdown; `serve()` resolves when it is done. Idempotent.
    #[napi]
    pub fn shutdown(&self) {
        tracing::info!("shutdown requested");
        self.shutdown.cancel();
    }
}
