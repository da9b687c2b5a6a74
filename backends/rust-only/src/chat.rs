//! The tool loop: steps of provider streaming and tool execution, up to
//! [`contract::MAX_STEPS`], as one UI message stream.
//!
//! The stream is a generator (`async_stream`), not a spawned task: the response body polls it,
//! so a frame is produced only when the body can take it, and dropping the body (the client
//! hung up) drops the provider stream and any running tool at once.
//!
//! Layout: [`ChatEngine::answer`] is that generator; it drives an `Answer`, a state machine
//! with one method per thing it waits for (`open_step`: the provider's headers; `read_chunk`:
//! the next provider chunk, within the idle timeout; `next_tool_result`) and one per
//! transition (`finish_step`, `end_step`, `fail_step`). `append_step` builds the next step's
//! request.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionTools, FunctionCall,
};
use bytes::Bytes;
use contract::request_id::RequestId;
use contract::tools::ToolOutcome;
use contract::ui_chunk::{FinishReason, ToolChunkExtra, UiChunk};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use leanspec_core::stage_clock::{self, Stage};
use serde_json::Value;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::convert::{error_content, output_content};
use crate::error::UpstreamError;
use crate::frames;
use crate::provider::{Provider, ProviderChunk, ProviderStream, openai_tools};
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
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> impl Stream<Item = Bytes> + Send + 'static {
        let mut answer = Answer::new(self, messages, request_id, cancel);
        async_stream::stream! {
            yield frames::chunk(&UiChunk::Start { message_id: None, message_metadata: None });
            loop {
                let progress = answer.advance().await;
                for frame in answer.out.drain(..) {
                    yield frame;
                }
                match progress {
                    Progress::Continue => {}
                    Progress::Ended => return,
                    Progress::Cancelled => return parked().await,
                }
            }
        }
    }
}

/// One answer in progress: a state machine whose every [`Answer::advance`] waits for one
/// thing (the provider's headers, a provider chunk, a tool result) and leaves the frames it
/// produced in `out`, for the stream to send before it waits again.
struct Answer<T> {
    engine: Arc<ChatEngine<T>>,
    /// The provider messages so far: the request's, then each step's calls and results.
    history: Vec<ChatCompletionRequestMessage>,
    ids: TextIds,
    /// Frames produced by one advance; drained after each, so it never reallocates.
    out: Vec<Bytes>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    phase: Phase,
    /// Named in every log line about this answer's failures.
    request_id: RequestId,
}

/// What an advance left the answer in.
enum Progress {
    Continue,
    /// The last frame (`[DONE]`) is in `out`.
    Ended,
    /// The token fired: every upstream request and tool is dropped; nothing more is sent.
    Cancelled,
}

/// Where the answer stands; each phase owns what it waits on, so leaving a phase drops it.
enum Phase {
    /// Step `number`'s provider request is still to be made.
    Open {
        number: u32,
    },
    Reading(Reading),
    RunningTools(RunningTools),
    Ended,
}

/// A provider stream being read.
struct Reading {
    number: u32,
    upstream: ProviderStream,
    step: Step,
    /// Fires when the provider has been silent for the idle timeout; reset by every chunk.
    silence: Pin<Box<Sleep>>,
}

/// The tools of a finished step, their results arriving.
struct RunningTools {
    number: u32,
    outcome: StepOutcome,
    /// Per call, in call order: `None` until its result is in (invalid calls start with theirs).
    results: Vec<Option<Result<Value, String>>>,
    /// `None` when the step did not end normally: `streamText` runs no tools then.
    running: Option<FuturesUnordered<BoxFuture<'static, (usize, ToolOutcome)>>>,
}

impl<T: ToolRunner> Answer<T> {
    fn new(
        engine: Arc<ChatEngine<T>>,
        history: Vec<ChatCompletionRequestMessage>,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            request_id,
            engine,
            history,
            ids: TextIds::default(),
            out: Vec::with_capacity(8),
            cancelled: Box::pin(cancel.cancelled_owned()),
            phase: Phase::Open { number: 1 },
        }
    }

    async fn advance(&mut self) -> Progress {
        match std::mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Open { number } => self.open_step(number).await,
            Phase::Reading(reading) => self.read_chunk(reading).await,
            Phase::RunningTools(tools) => self.next_tool_result(tools).await,
            Phase::Ended => Progress::Ended,
        }
    }

    /// Sends step `number`'s request; resolves once the provider has answered with headers.
    async fn open_step(&mut self, number: u32) -> Progress {
        let engine = &self.engine;
        let upstream = tokio::select! {
            biased;
            () = self.cancelled.as_mut() => return Progress::Cancelled,
            upstream = engine.provider.stream(self.history.clone(), &engine.openai_tools) => upstream,
        };
        match upstream {
            Ok(upstream) => {
                let idle = engine.provider.idle_timeout();
                self.phase = Phase::Reading(Reading {
                    number,
                    upstream,
                    step: Step::new(),
                    silence: Box::pin(tokio::time::sleep(idle)),
                });
                Progress::Continue
            }
            Err(error) => {
                tracing::warn!(request_id = %self.request_id, %error, detail = error.detail(), step = number, "provider request failed");
                self.end_with_error(&error)
            }
        }
    }

    /// Waits for the provider's next chunk and turns it into frames.
    async fn read_chunk(&mut self, mut reading: Reading) -> Progress {
        let idle = self.engine.provider.idle_timeout();
        let next = tokio::select! {
            biased;
            () = self.cancelled.as_mut() => return Progress::Cancelled,
            next = reading.upstream.next() => next.map(|chunk| chunk.map_err(UpstreamError::from_openai)),
            () = reading.silence.as_mut() => Some(Err(UpstreamError::Idle(idle))),
        };
        match next {
            None => self.finish_step(reading),
            Some(Ok(chunk)) => {
                reading.silence.as_mut().reset(Instant::now() + idle);
                let tool_names = &self.engine.tool_names;
                let handled = match chunk {
                    ProviderChunk::Text(text) => {
                        reading.step.on_text(&text, &mut self.ids, &mut self.out);
                        Ok(())
                    }
                    ProviderChunk::Full(chunk) => {
                        reading
                            .step
                            .on_chunk(*chunk, tool_names, &mut self.ids, &mut self.out)
                    }
                };
                match handled {
                    Ok(()) => {
                        stage_clock::mark(Stage::Framed);
                        self.phase = Phase::Reading(reading);
                        Progress::Continue
                    }
                    Err(error) => self.fail_step(reading, &error),
                }
            }
            Some(Err(error)) => self.fail_step(reading, &error),
        }
    }

    /// The provider's stream ended: close the step and start the tools it asked for.
    fn finish_step(&mut self, reading: Reading) -> Progress {
        let Reading {
            number,
            upstream,
            step,
            ..
        } = reading;
        // The provider's response is released before tools run or an error is sent.
        drop(upstream);
        let outcome = match step.finish(&self.engine.tool_names, &mut self.out) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(request_id = %self.request_id, %error, detail = error.detail(), step = number, "provider stream failed");
                return self.end_with_error(&error);
            }
        };
        // A call the model garbled is refused before any tool runs; the operator is told which.
        for call in &outcome.calls {
            if let Some(invalid) = &call.invalid {
                tracing::warn!(request_id = %self.request_id, tool = %call.name, refusal = %invalid.client_text, step = number, "tool call refused");
            }
        }
        let results = outcome
            .calls
            .iter()
            .map(|call| call.invalid.as_ref().map(|i| Err(i.model_text.clone())))
            .collect();
        // `streamText` runs tools only when the step ended normally.
        let ended_normally = matches!(
            outcome.finish_reason,
            FinishReason::Stop | FinishReason::ToolCalls
        );
        let running = ended_normally.then(|| self.engine.start_tools(&outcome.calls));
        self.phase = Phase::RunningTools(RunningTools {
            number,
            outcome,
            results,
            running,
        });
        Progress::Continue
    }

    /// Waits for the next tool result and sends it, as the AI SDK's tool stream does: results
    /// go out in the order they complete.
    async fn next_tool_result(&mut self, mut tools: RunningTools) -> Progress {
        let Some(running) = tools.running.as_mut() else {
            return self.end_step(tools);
        };
        let next = tokio::select! {
            biased;
            () = self.cancelled.as_mut() => return Progress::Cancelled,
            next = running.next() => next,
        };
        let Some((at, tool_outcome)) = next else {
            return self.end_step(tools);
        };
        let call = &tools.outcome.calls[at];
        let result = tool_result(&call.name, tool_outcome);
        if let Err(message) = &result {
            tracing::info!(request_id = %self.request_id, tool = %call.name, %message, "tool error");
        }
        self.out
            .push(frames::chunk(&tool_output_chunk(call, &result)));
        tools.results[at] = Some(result);
        self.phase = Phase::RunningTools(tools);
        Progress::Continue
    }

    /// Every tool has answered: end the step, then the answer or go on to the next step.
    fn end_step(&mut self, tools: RunningTools) -> Progress {
        let RunningTools {
            number,
            outcome,
            results,
            ..
        } = tools;
        self.out.push(frames::chunk(&UiChunk::FinishStep));
        let all_answered = !results.is_empty() && results.iter().all(Option::is_some);
        if !all_answered || number == contract::MAX_STEPS {
            self.out.push(frames::chunk(&UiChunk::Finish {
                finish_reason: Some(outcome.finish_reason),
                message_metadata: None,
            }));
            self.out.push(frames::done());
            return Progress::Ended;
        }
        append_step(&mut self.history, &outcome, results);
        self.phase = Phase::Open { number: number + 1 };
        Progress::Continue
    }

    /// The provider failed while step `reading.number` was read: drop its stream, log, end.
    /// A chunk that fails sends none of its frames: the answer ends where the last good chunk
    /// left it.
    fn fail_step(&mut self, reading: Reading, error: &UpstreamError) -> Progress {
        let number = reading.number;
        drop(reading);
        self.out.clear();
        tracing::warn!(request_id = %self.request_id, %error, detail = error.detail(), step = number, "provider stream failed");
        self.end_with_error(error)
    }

    /// Ends the answer with the error's client text and `[DONE]`.
    fn end_with_error(&mut self, error: &UpstreamError) -> Progress {
        self.out
            .push(frames::chunk(&UiChunk::error(error.to_string())));
        self.out.push(frames::done());
        Progress::Ended
    }
}

impl<T: ToolRunner> ChatEngine<T> {
    /// The valid calls' tools, running concurrently; each resolves to its call's position.
    fn start_tools(
        &self,
        calls: &[StepCall],
    ) -> FuturesUnordered<BoxFuture<'static, (usize, ToolOutcome)>> {
        calls
            .iter()
            .enumerate()
            .filter(|(_, call)| call.invalid.is_none())
            .map(|(at, call)| {
                let tools = self.tools.clone();
                let (name, input) = (call.name.clone(), call.input.clone());
                async move { (at, tools.execute(&name, input).await) }.boxed()
            })
            .collect()
    }
}

/// The frame a tool's result goes out as.
fn tool_output_chunk(call: &StepCall, result: &Result<Value, String>) -> UiChunk {
    match result {
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
            Some(Err(error)) => error_content(&error),
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
