//! `leanspec-echo`: the server shell with a backend that needs no provider: each chat is
//! answered with the user's last text, word by word, as a UI message stream.
//!
//! It exists to exercise the shell as a process (flags, ready line, logs on stderr, SIGTERM)
//! exactly as the real backends' bins use it, and to smoke-test a client against the shell.
//! `--provider-url` is required by the common flags but unused here.

use std::sync::Arc;

use clap::Parser;
use contract::ui_chunk::{FinishReason, UiChunk};
use contract::ui_message::{ChatRequest, Role};
use leanspec_core::{ApiError, BoundServer, CancellationToken, ChatBackend, ServerArgs, SseBody};

#[derive(Debug, Parser)]
#[command(about = "The LeanSpec server shell with an echo chat backend")]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug)]
struct EchoBackend;

impl ChatBackend for EchoBackend {
    fn name(&self) -> &'static str {
        "echo"
    }

    async fn chat(
        &self,
        request: ChatRequest,
        _request_id: contract::request_id::RequestId,
        _cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        let text = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.text())
            .unwrap_or_default();
        let id = "txt-0";
        let mut chunks = vec![
            UiChunk::Start {
                message_id: None,
                message_metadata: None,
            },
            UiChunk::StartStep,
            UiChunk::TextStart {
                id: id.into(),
                provider_metadata: None,
            },
        ];
        chunks.extend(
            text.split_inclusive(' ')
                .map(|word| UiChunk::text_delta(id, word)),
        );
        chunks.extend([
            UiChunk::TextEnd {
                id: id.into(),
                provider_metadata: None,
            },
            UiChunk::FinishStep,
            UiChunk::Finish {
                finish_reason: Some(FinishReason::Stop),
                message_metadata: None,
            },
        ]);
        Ok(SseBody::from_chunk_list(chunks))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    leanspec_core::init_tracing();
    let cli = Cli::parse();
    let server = BoundServer::bind(cli.server).await?;
    server.run(Arc::new(EchoBackend)).await
}
