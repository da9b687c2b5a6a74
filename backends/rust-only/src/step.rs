//! One step of the answer: a provider stream turned into UI chunks, as `streamText` turns
//! `@ai-sdk/openai`'s chat stream into them.
//!
//! - `start-step` comes with the provider's first chunk (a usage-only chunk counts);
//! - text: `text-start` with the first `content` (even an empty one, as the AI SDK's provider
//!   does), then one `text-delta` per non-empty `content` or `refusal` fragment, `text-end`
//!   when the stream ends. The first text part of an answer has id `"0"` (the provider's id),
//!   later ones a fresh 16-character id, as `streamText` keeps part ids unique across steps;
//! - tool calls: see [`crate::tool_calls`]; once the stream has ended each call becomes
//!   `tool-input-available`, or `tool-input-error` plus `tool-output-error` (both `dynamic`)
//!   when its name is unknown or its arguments are not JSON;
//! - the finish reason is the last `finish_reason` seen, `stop` becoming `content-filter` when
//!   the model refused.

use std::collections::HashSet;

use async_openai::types::chat::{CreateChatCompletionStreamResponse, FinishReason as OpenAiFinish};
use bytes::Bytes;
use contract::error_text;
use contract::ui_chunk::{FinishReason, ToolChunkExtra, UiChunk};
use serde_json::Value;

use crate::error::UpstreamError;
use crate::frames;
use crate::ids;
use crate::tool_calls::ToolCallTracker;

/// Hands out text part ids unique across the whole answer.
#[derive(Debug, Default)]
pub struct TextIds {
    first_used: bool,
}

impl TextIds {
    /// The id the provider gives every text part of `@ai-sdk/openai`'s chat model.
    const PROVIDER_TEXT_ID: &'static str = "0";

    fn reserve(&mut self) -> String {
        if self.first_used {
            ids::generate()
        } else {
            self.first_used = true;
            Self::PROVIDER_TEXT_ID.to_owned()
        }
    }
}

/// A tool call as the step hands it to the loop.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCall {
    pub id: String,
    pub name: String,
    /// The parsed arguments; for an invalid call, the raw text when it is not JSON.
    pub input: Value,
    /// Why the call cannot run (already reported to the client as its output).
    pub invalid: Option<InvalidCall>,
}

/// A call the model made that cannot run.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidCall {
    /// What the client reads (docs/architecture.md, "Error text").
    pub client_text: String,
    /// What the model reads in the next step: the AI SDK's own error message.
    pub model_text: String,
}

/// What a finished step leaves for the loop.
#[derive(Debug)]
pub struct StepOutcome {
    pub text: String,
    pub calls: Vec<StepCall>,
    pub finish_reason: FinishReason,
}

/// The state of one provider stream being read.
#[derive(Debug, Default)]
pub struct Step {
    started: bool,
    text_id: Option<String>,
    text: String,
    refused: bool,
    finish: Option<OpenAiFinish>,
    tracker: ToolCallTracker,
    /// Tool chunks produced while handling one provider chunk; reused to avoid allocating.
    tool_chunks: Vec<UiChunk>,
}

impl Step {
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one provider chunk, appending the frames it produces to `out`.
    pub fn on_chunk(
        &mut self,
        chunk: CreateChatCompletionStreamResponse,
        known_tools: &HashSet<String>,
        ids: &mut TextIds,
        out: &mut Vec<Bytes>,
    ) -> Result<(), UpstreamError> {
        self.start(out);
        // `@ai-sdk/openai` reads the first choice only; a usage-only chunk has none.
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(());
        };
        if let Some(reason) = choice.finish_reason {
            self.finish = Some(reason);
        }
        let delta = choice.delta;
        let had_content = delta.content.is_some();
        let content = delta.content.filter(|c| !c.is_empty());
        let refusal = delta.refusal.filter(|r| !r.is_empty());
        let empty_content = had_content && content.is_none() && refusal.is_none();
        if empty_content {
            self.open_text(ids, out);
        }
        for fragment in [content, refusal.inspect(|_| self.refused = true)]
            .into_iter()
            .flatten()
        {
            let id = self.open_text(ids, out);
            out.push(frames::text_delta(id, &fragment));
            self.text.push_str(&fragment);
        }
        if let Some(fragments) = delta.tool_calls {
            for fragment in fragments {
                self.tracker
                    .process(fragment, |c| self.tool_chunks.push(c))?;
            }
            for chunk in &mut self.tool_chunks {
                // `streamText` marks the start of a call to a tool it does not have with
                // `dynamic: false` (the client keeps the part static).
                if let UiChunk::ToolInputStart {
                    tool_name, extra, ..
                } = chunk
                    && !known_tools.contains(tool_name.as_str())
                {
                    extra.dynamic = Some(false);
                }
            }
            out.extend(self.tool_chunks.drain(..).map(|c| frames::chunk(&c)));
        }
        Ok(())
    }

    /// Handles a provider chunk whose only delta is `content` ([`crate::fast_chunk`]): exactly
    /// what [`Step::on_chunk`] does with that chunk, without its owned types.
    pub fn on_text(&mut self, content: &str, ids: &mut TextIds, out: &mut Vec<Bytes>) {
        self.start(out);
        // An empty `content` still opens the text part, as in `on_chunk`.
        let id = self.open_text(ids, out);
        if !content.is_empty() {
            out.push(frames::text_delta(id, content));
            self.text.push_str(content);
        }
    }

    /// Ends the step once the provider stream is over; `known_tools` are the tools the model
    /// was offered.
    pub fn finish(
        mut self,
        known_tools: &HashSet<String>,
        out: &mut Vec<Bytes>,
    ) -> Result<StepOutcome, UpstreamError> {
        let Some(raw_finish) = self.finish else {
            return Err(UpstreamError::no_finish_reason());
        };
        self.start(out);
        if let Some(id) = self.text_id.take() {
            out.push(frames::chunk(&UiChunk::TextEnd {
                id,
                provider_metadata: None,
            }));
        }
        let calls: Vec<StepCall> = self
            .tracker
            .finish()
            .into_iter()
            .map(|call| parse_call(call.id, call.name, &call.arguments, known_tools))
            .collect();
        for call in &calls {
            match &call.invalid {
                None => out.push(frames::chunk(&UiChunk::ToolInputAvailable {
                    tool_call_id: call.id.clone(),
                    tool_name: call.name.clone(),
                    input: call.input.clone(),
                    extra: ToolChunkExtra::default(),
                })),
                Some(InvalidCall { client_text, .. }) => {
                    let dynamic = ToolChunkExtra {
                        dynamic: Some(true),
                        ..ToolChunkExtra::default()
                    };
                    // ai@7 sends `tool-input-error` alone (ai@6 followed it with a
                    // `tool-output-error` of the same text): the client's part ends there.
                    out.push(frames::chunk(&UiChunk::ToolInputError {
                        tool_call_id: call.id.clone(),
                        tool_name: call.name.clone(),
                        input: call.input.clone(),
                        error_text: client_text.clone(),
                        extra: dynamic,
                    }));
                }
            }
        }
        Ok(StepOutcome {
            text: self.text,
            calls,
            finish_reason: map_finish(&raw_finish, self.refused),
        })
    }

    fn start(&mut self, out: &mut Vec<Bytes>) {
        if !self.started {
            self.started = true;
            out.push(frames::chunk(&UiChunk::StartStep));
        }
    }

    fn open_text(&mut self, ids: &mut TextIds, out: &mut Vec<Bytes>) -> &str {
        self.text_id.get_or_insert_with(|| {
            let id = ids.reserve();
            out.push(frames::chunk(&UiChunk::TextStart {
                id: id.clone(),
                provider_metadata: None,
            }));
            id
        })
    }
}

/// `mapOpenAIFinishReason`.
fn map_finish(reason: &OpenAiFinish, refused: bool) -> FinishReason {
    match reason {
        OpenAiFinish::Stop if refused => FinishReason::ContentFilter,
        OpenAiFinish::Stop => FinishReason::Stop,
        OpenAiFinish::Length => FinishReason::Length,
        OpenAiFinish::ContentFilter => FinishReason::ContentFilter,
        OpenAiFinish::ToolCalls | OpenAiFinish::FunctionCall => FinishReason::ToolCalls,
    }
}

/// `parseToolCall`: empty arguments mean `{}`; an unknown tool or unparsable arguments make
/// an invalid call. The model reads the AI SDK's error as `String(error)` does (`NoSuchToolError`,
/// `InvalidToolInputError`, names included since ai@7), the client the documented phrase.
fn parse_call(id: String, name: String, arguments: &str, known: &HashSet<String>) -> StepCall {
    let parsed = if arguments.trim().is_empty() {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_str::<Value>(arguments)
    };
    let invalid = if !known.contains(&name) {
        let mut available: Vec<&str> = known.iter().map(String::as_str).collect();
        available.sort_unstable();
        let listed = if available.is_empty() {
            "No tools are available.".to_owned()
        } else {
            format!("Available tools: {}.", available.join(", "))
        };
        Some(InvalidCall {
            client_text: error_text::unknown_tool(&name),
            model_text: format!(
                "AI_NoSuchToolError: Model tried to call unavailable tool '{name}'. {listed}"
            ),
        })
    } else {
        parsed.as_ref().err().map(|e| InvalidCall {
            client_text: error_text::invalid_tool_input(&name),
            model_text: format!(
                "AI_InvalidToolInputError: Invalid input for tool {name}: AI_JSONParseError: JSON parsing failed: Text: {arguments}.\nError message: {e}"
            ),
        })
    };
    StepCall {
        id,
        name,
        input: parsed.unwrap_or_else(|_| Value::String(arguments.to_owned())),
        invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::sse::SseDecoder;
    use serde_json::json;

    fn chunk(value: Value) -> CreateChatCompletionStreamResponse {
        let mut full =
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"});
        full.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        serde_json::from_value(full).expect("a valid chunk")
    }

    fn decode(frames: &[Bytes]) -> Vec<Value> {
        let mut decoder = SseDecoder::new();
        frames
            .iter()
            .flat_map(|f| decoder.push(f))
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    fn known() -> HashSet<String> {
        ["get_spec", "search_specs"].map(String::from).into()
    }

    fn run(chunks: Vec<Value>) -> (Vec<Value>, Result<StepOutcome, UpstreamError>) {
        let mut step = Step::new();
        let mut ids = TextIds::default();
        let mut out = Vec::new();
        for c in chunks {
            step.on_chunk(chunk(c), &known(), &mut ids, &mut out)
                .unwrap();
        }
        let outcome = step.finish(&known(), &mut out);
        (decode(&out), outcome)
    }

    /// The same steps fed the same texts, once through the full types and once through the
    /// plain-text path, with other chunks between them: the same frames, text and outcome.
    #[test]
    fn on_text_is_on_chunk_for_a_content_only_chunk() {
        let texts = ["", "Hello", "", "line\n\"q\"", "日本 👋🏽"];
        let mut full = (Step::new(), TextIds::default(), Vec::new());
        let mut fast = (Step::new(), TextIds::default(), Vec::new());
        for (i, text) in texts.iter().enumerate() {
            if i == 2 {
                let role = json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]});
                for (step, ids, out) in [&mut full, &mut fast] {
                    step.on_chunk(chunk(role.clone()), &known(), ids, out)
                        .unwrap();
                }
            }
            let c = json!({"choices": [{"index": 0, "delta": {"content": text}}]});
            full.0
                .on_chunk(chunk(c), &known(), &mut full.1, &mut full.2)
                .unwrap();
            fast.0.on_text(text, &mut fast.1, &mut fast.2);
        }
        let finish = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        let mut ends = Vec::new();
        for (mut step, mut ids, mut out) in [full, fast] {
            step.on_chunk(chunk(finish.clone()), &known(), &mut ids, &mut out)
                .unwrap();
            let outcome = step.finish(&known(), &mut out).unwrap();
            ends.push((out, outcome.text, outcome.finish_reason));
        }
        assert_eq!(ends[0], ends[1]);
        assert_eq!(ends[0].1, "Helloline\n\"q\"日本 👋🏽");
    }

    #[test]
    fn awkward_text_stream() {
        let (chunks, outcome) = run(vec![
            json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": ""}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"choices": [{"index": 0, "delta": {}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}),
        ]);
        assert_eq!(
            chunks,
            [
                json!({"type": "start-step"}),
                json!({"type": "text-start", "id": "0"}),
                json!({"type": "text-delta", "id": "0", "delta": "Hel"}),
                json!({"type": "text-delta", "id": "0", "delta": "lo"}),
                json!({"type": "text-end", "id": "0"}),
            ]
        );
        let outcome = outcome.unwrap();
        assert_eq!(outcome.text, "Hello");
        assert_eq!(outcome.finish_reason, FinishReason::Stop);
        assert!(outcome.calls.is_empty());
    }

    #[test]
    fn tool_calls_finish_after_the_text_in_index_order() {
        let (chunks, outcome) = run(vec![
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null,
                "tool_calls": [{"index": 1, "id": "b", "type": "function", "function": {"name": "nope", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {
                "tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "get_spec", "arguments": "{\"id\""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":\"x\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "{\"q\":1}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        let types: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "start-step",
                "tool-input-start",
                "tool-input-start",
                "tool-input-delta",
                "tool-input-delta",
                "tool-input-delta",
                "tool-input-available",
                "tool-input-error",
            ]
        );
        assert_eq!(
            chunks[6],
            json!({"type": "tool-input-available", "toolCallId": "a", "toolName": "get_spec", "input": {"id": "x"}})
        );
        assert_eq!(
            chunks[1]["dynamic"],
            json!(false),
            "the unknown tool's start"
        );
        assert_eq!(chunks[2].get("dynamic"), None, "a known tool's start");
        assert_eq!(chunks[7]["dynamic"], json!(true));
        assert_eq!(chunks[7]["input"], json!({"q": 1}));
        assert_eq!(chunks[7]["errorText"], json!("unknown tool: nope"));
        let outcome = outcome.unwrap();
        assert_eq!(outcome.finish_reason, FinishReason::ToolCalls);
        assert_eq!(outcome.calls.len(), 2);
        let invalid = outcome.calls[1].invalid.as_ref().unwrap();
        assert_eq!(
            invalid.model_text,
            "AI_NoSuchToolError: Model tried to call unavailable tool 'nope'. Available tools: get_spec, search_specs."
        );
    }

    #[test]
    fn bad_arguments_make_an_invalid_call_and_refusals_filter_content() {
        let (_, outcome) = run(vec![
            json!({"choices": [{"index": 0, "delta": {"refusal": "no", "tool_calls": [
                {"index": 0, "id": "a", "function": {"name": "get_spec", "arguments": "{oops"}}]},
                "finish_reason": "stop"}]}),
        ]);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.finish_reason, FinishReason::ContentFilter);
        assert_eq!(outcome.text, "no");
        assert_eq!(outcome.calls[0].input, json!("{oops"));
        let invalid = outcome.calls[0].invalid.as_ref().unwrap();
        assert_eq!(invalid.client_text, "invalid input for tool get_spec");
        let model = &invalid.model_text;
        assert!(
            model.starts_with(
                "AI_InvalidToolInputError: Invalid input for tool get_spec: AI_JSONParseError: JSON parsing failed: Text: {oops."
            ),
            "{model}"
        );
    }

    #[test]
    fn a_stream_without_finish_reason_is_truncated() {
        let (_, outcome) = run(vec![
            json!({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
        ]);
        assert!(matches!(outcome, Err(UpstreamError::Truncated { .. })));
    }

    #[test]
    fn later_text_parts_get_fresh_ids() {
        let mut ids = TextIds::default();
        assert_eq!(ids.reserve(), "0");
        let next = ids.reserve();
        assert_eq!(next.len(), 16);
    }
}
