//! The tool loop: steps of provider streaming and tool execution, up to
//! [`contract::MAX_STEPS`], as one UI message stream.
//!
//! The stream is a generator (`async_stream`), not a spawned task: the response body polls it,
//! so a frame is produced only when the body can take it, and dropping the body (the client
//! hung up) drops the provider stream and any running tool at once.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::Arc;

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionTools, FunctionCall,
};
use bytes::Bytes;
use contract::tools::ToolOutcome;
use contract::ui_chunk::{FinishReason, ToolChunkExtra, UiChunk};
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::convert::output_content;
use crate::error::UpstreamError;
use crate::frames;
use crate::provider::{Provider, openai_tools};
use crate::step::{Step, StepCall, StepOutcome, TextIds};
use crate::tools::ToolRunner;

/// The provider, the tools and what is derived from them once.
#[derive(Debug)]
pub struct ChatEngine<T> {
    provider: Provider,
    tools: T,
    openai_tools: Vec<ChatCompletionTools>,
    tool_names: HashSet<String>,
}

impl<T: ToolRunner> ChatEngine<T> {
    pub fn new(provider: Provider, tools: T) -> Self {
        let definitions = tools.definitions();
        Self {
            provider,
            openai_tools: openai_tools(&definitions),
            tool_names: definitions.into_iter().map(|d| d.name).collect(),
            tools,
        }
    }

    /// The UI message stream answering `messages` (already converted for the provider),
    /// framed and ending with `[DONE]`. When `cancel` fires it stops all upstream work at once
    /// and produces no more frames (see [`parked`]).
    pub fn answer(
        self: Arc<Self>,
        messages: Vec<ChatCompletionRequestMessage>,
        cancel: CancellationToken,
    ) -> impl Stream<Item = Bytes> + Send + 'static {
        let engine = self;
        async_stream::stream! {
            let mut cancelled = pin!(cancel.cancelled_owned());
            let idle = engine.provider.idle_timeout();
            yield frames::chunk(&UiChunk::Start { message_id: None, message_metadata: None });
            let mut history = messages;
            let mut ids = TextIds::default();
            // Frames one provider chunk produces; drained after each, so it never reallocates.
            let mut out: Vec<Bytes> = Vec::with_capacity(8);
            for step_number in 1..=contract::MAX_STEPS {
                let upstream = tokio::select! {
                    biased;
                    () = &mut cancelled => return parked().await,
                    upstream = engine.provider.stream(history.clone(), &engine.openai_tools) => upstream,
                };
                let mut upstream = match upstream {
                    Ok(upstream) => upstream,
                    Err(error) => {
                        yield frames::chunk(&UiChunk::error(error.to_string()));
                        yield frames::done();
                        return;
                    }
                };
                let mut step = Step::new();
                let mut silence = pin!(tokio::time::sleep(idle));
                let failure = loop {
                    let next = tokio::select! {
                        biased;
                        () = &mut cancelled => None,
                        next = upstream.next() => Some(next),
                        () = &mut silence => break Some(UpstreamError::Idle(idle)),
                    };
                    let Some(next) = next else {
                        drop(upstream);
                        return parked().await;
                    };
                    match next {
                        None => break None,
                        Some(Err(error)) => break Some(UpstreamError::from_openai(error)),
                        Some(Ok(chunk)) => {
                            silence.as_mut().reset(Instant::now() + idle);
                            if let Err(error) = step.on_chunk(chunk, &engine.tool_names, &mut ids, &mut out) {
                                break Some(error);
                            }
                            for frame in out.drain(..) {
                                yield frame;
                            }
                        }
                    }
                };
                // The provider's response is released before tools run or the error is sent.
                drop(upstream);
                let outcome = match failure {
                    None => step.finish(&engine.tool_names, &mut out),
                    Some(error) => Err(error),
                };
                let outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        tracing::warn!(%error, detail = error.detail(), step = step_number, "provider stream failed");
                        yield frames::chunk(&UiChunk::error(error.to_string()));
                        yield frames::done();
                        return;
                    }
                };
                for frame in out.drain(..) {
                    yield frame;
                }
                let finish_reason = outcome.finish_reason;
                let mut results: Vec<Option<Result<Value, String>>> = outcome
                    .calls
                    .iter()
                    .map(|c| c.invalid.as_ref().map(|i| Err(i.model_text.clone())))
                    .collect();
                // `streamText` runs tools only when the step ended normally.
                if matches!(finish_reason, FinishReason::Stop | FinishReason::ToolCalls) {
                    let mut running: FuturesUnordered<_> = outcome
                        .calls
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.invalid.is_none())
                        .map(|(at, c)| {
                            let tools = engine.tools.clone();
                            let (name, input) = (c.name.clone(), c.input.clone());
                            async move { (at, tools.execute(&name, input).await) }
                        })
                        .collect();
                    loop {
                        let next = tokio::select! {
                            biased;
                            () = &mut cancelled => None,
                            next = running.next() => Some(next),
                        };
                        let Some(next) = next else {
                            drop(running);
                            return parked().await;
                        };
                        let Some((at, tool_outcome)) = next else { break };
                        let call = &outcome.calls[at];
                        let result = tool_result(&call.name, tool_outcome);
                        // Results go out as they complete, as the AI SDK's tool stream does.
                        yield frames::chunk(&match &result {
                            Ok(output) => UiChunk::ToolOutputAvailable {
                                tool_call_id: call.id.clone(),
                                output: output.clone(),
                                preliminary: None,
                                extra: ToolChunkExtra::default(),
                            },
                            Err(error_text) => UiChunk::ToolOutputError {
                                tool_call_id: call.id.clone(),
                                error_text: error_text.clone(),
                                extra: ToolChunkExtra::default(),
                            },
                        });
                        results[at] = Some(result);
                    }
                }
                yield frames::chunk(&UiChunk::FinishStep);
                let all_answered = !results.is_empty() && results.iter().all(Option::is_some);
                if !all_answered || step_number == contract::MAX_STEPS {
                    yield frames::chunk(&UiChunk::Finish {
                        finish_reason: Some(finish_reason),
                        message_metadata: None,
                    });
                    yield frames::done();
                    return;
                }
                append_step(&mut history, &outcome, results);
            }
        }
    }
}

/// Where the stream waits once its token has fired. The token fires when the client is gone
/// (nobody polls again and the stream is dropped) or when the server shuts down, and then the
/// shell ends the response with its own `error` chunk as soon as this stream is pending:
/// ending it instead would race the shell into closing the response without one.
async fn parked() {
    std::future::pending::<()>().await;
}

/// A tool's outcome as the client and the model see it. There is no JavaScript runtime in
/// this backend, so a `__crash` request cannot crash one: it is reported as a tool error that
/// says so, and the answer goes on.
fn tool_result(name: &str, outcome: ToolOutcome) -> Result<Value, String> {
    match outcome {
        ToolOutcome::Ok { output } => Ok(output),
        ToolOutcome::Error { message } => Err(message),
        ToolOutcome::CrashRuntime { message } => Err(format!(
            "{message}: tool {name} found no JavaScript runtime to crash in the rust-only backend"
        )),
    }
}

/// What the next step's request adds: the assistant's text and calls, then one tool message
/// per call in call order (`toResponseMessages`).
fn append_step(
    history: &mut Vec<ChatCompletionRequestMessage>,
    step: &StepOutcome,
    results: Vec<Option<Result<Value, String>>>,
) {
    let tool_calls = step
        .calls
        .iter()
        .map(|call: &StepCall| {
            ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                id: call.id.clone(),
                function: FunctionCall {
                    name: call.name.clone(),
                    arguments: match &call.input {
                        object @ Value::Object(_) => object.to_string(),
                        _ => "{}".to_owned(),
                    },
                },
            })
        })
        .collect();
    #[allow(deprecated)] // `function_call` is deprecated upstream; it must still be spelled out.
    history.push(ChatCompletionRequestMessage::Assistant(
        ChatCompletionRequestAssistantMessage {
            content: (!step.text.is_empty())
                .then(|| ChatCompletionRequestAssistantMessageContent::Text(step.text.clone())),
            tool_calls: Some(tool_calls),
            ..Default::default()
        },
    ));
    for (call, result) in step.calls.iter().zip(results) {
        let content = match result {
            Some(Ok(output)) => output_content(&output),
            Some(Err(error)) => error,
            None => continue,
        };
        history.push(ChatCompletionRequestMessage::Tool(
            ChatCompletionRequestToolMessage {
                content: ChatCompletionRequestToolMessageContent::Text(content),
                tool_call_id: call.id.clone(),
            },
        ));
    }
}
