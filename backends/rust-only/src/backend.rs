//! The rust-only architecture plugged into the shared server shell.

use std::sync::Arc;
use std::time::Duration;

use contract::request_id::RequestId;
use contract::tools::{ToolDefinition, ToolOutcome};
use contract::ui_message::ChatRequest;
use leanspec_core::{ApiError, ChatBackend, SseBody, Toolbox};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::chat::ChatEngine;
use crate::convert::to_openai_messages;
use crate::provider::{Provider, ProviderConfig, ProviderConfigError, RetryPolicy};
use crate::tools::ToolRunner;

/// The name in the ready line, `/health` and the results.
pub const BACKEND_NAME: &str = "rust-only";

impl ToolRunner for Toolbox {
    fn definitions(&self) -> Vec<ToolDefinition> {
        Toolbox::definitions(self)
    }

    async fn execute(&self, name: &str, input: Value) -> ToolOutcome {
        Toolbox::execute(self, name, input).await
    }
}

/// The chat path of the rust-only backend: no runtime besides this process.
#[derive(Debug, Clone)]
pub struct RustOnlyBackend {
    engine: Arc<ChatEngine<Toolbox>>,
}

impl RustOnlyBackend {
    pub fn new(provider: Provider, toolbox: Toolbox) -> Self {
        Self {
            engine: Arc::new(ChatEngine::new(provider, toolbox)),
        }
    }

    /// The backend for the shared server flags.
    pub fn from_args(
        args: &leanspec_core::ServerArgs,
        toolbox: Toolbox,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderConfigError> {
        let provider = Provider::new(ProviderConfig {
            base_url: args.provider_url.clone(),
            model: args.model.clone(),
            api_key: args.api_key.expose().to_owned(),
            idle_timeout: Duration::from_secs(args.idle_timeout_s),
            retry,
        })?;
        Ok(Self::new(provider, toolbox))
    }
}

impl ChatBackend for RustOnlyBackend {
    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    async fn chat(
        &self,
        request: ChatRequest,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        let messages = to_openai_messages(&request.messages);
        Ok(SseBody::from_frames(
            self.engine.clone().answer(messages, request_id, cancel),
        ))
    }
}
