//! OpenAI chunks and completions, built with async-openai's own types (through
//! `contract::openai`) so the strict async-openai client accepts every one: `id`, `object`,
//! `created`, `model` always present, `finish_reason` only from OpenAI's set.

use bytes::Bytes;
use contract::openai::{
    CHUNK_OBJECT, COMPLETION_OBJECT, ChatChoice, ChatChoiceStream, ChatCompletionMessageToolCall,
    ChatCompletionMessageToolCallChunk, ChatCompletionMessageToolCalls,
    ChatCompletionResponseMessage, ChatCompletionStreamResponseDelta, CompletionUsage,
    CreateChatCompletionResponse, CreateChatCompletionStreamResponse, FinishReason, FunctionCall,
    FunctionCallStream, FunctionType, Role,
};
use contract::sse::{DONE_FRAME, encode_data};
use contract::timeline::TokenUsage;
use serde::Serialize;

use crate::script::{Delta, Script};

/// The line `malformed-chunk` sends: a `data:` frame whose payload starts like a chunk and is
/// not JSON.
pub const MALFORMED_FRAME: &[u8] =
    b"data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"choices\":[{\n\n";

/// Stands for the text in the template of text chunks; never appears in a real answer.
const TEXT_MARK: &str = "\u{1}mock-text\u{1}";

/// The fields every chunk of one answer shares.
#[derive(Debug, Clone)]
pub struct ChunkFactory {
    id: String,
    created: u32,
    model: String,
    /// A text chunk's frame before and after its JSON-quoted text: the chunk serialized once
    /// with a placeholder, so the hot path (tens of thousands of chunks a second) only quotes
    /// the text and produces the very bytes the full serialization would.
    text_template: Option<(Vec<u8>, Vec<u8>)>,
}

impl ChunkFactory {
    pub fn new(request_id: u64, created: u32, model: String) -> Self {
        let mut factory = Self {
            id: format!("chatcmpl-mock-{request_id}"),
            created,
            model,
            text_template: None,
        };
        let sample = frame(&factory.delta(&Delta::Text(TEXT_MARK.to_owned()), false));
        let mark = serde_json::to_string(TEXT_MARK).unwrap_or_default();
        factory.text_template = sample
            .windows(mark.len())
            .position(|w| w == mark.as_bytes())
            .map(|at| (sample[..at].to_vec(), sample[at + mark.len()..].to_vec()));
        factory
    }

    /// The frame of the chunk carrying `delta`, the same bytes as
    /// `frame(&self.delta(delta, first))`.
    pub fn delta_frame(&self, delta: &Delta, first: bool) -> Bytes {
        match (delta, &self.text_template, first) {
            (Delta::Text(text), Some((before, after)), false) => {
                // Quoted straight into the frame: sized exactly for text that needs no escapes
                // (the mock's words), so a text chunk costs one allocation.
                let mut out = Vec::with_capacity(before.len() + text.len() + 2 + after.len());
                out.extend_from_slice(before);
                if serde_json::to_writer(&mut out, text).is_err() {
                    // Writing a string into a Vec cannot fail; the general path stays correct.
                    return frame(&self.delta(delta, first));
                }
                out.extend_from_slice(after);
                Bytes::from(out)
            }
            _ => frame(&self.delta(delta, first)),
        }
    }

    fn chunk(&self, choices: Vec<ChatChoiceStream>) -> CreateChatCompletionStreamResponse {
        CreateChatCompletionStreamResponse {
            id: self.id.clone(),
            object: CHUNK_OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices,
            ..Default::default()
        }
    }

    /// The chunk carrying `delta`; the first chunk of an answer also carries the role.
    pub fn delta(&self, delta: &Delta, first: bool) -> CreateChatCompletionStreamResponse {
        let mut out = ChatCompletionStreamResponseDelta {
            role: first.then_some(Role::Assistant),
            ..Default::default()
        };
        match delta {
            Delta::Text(text) => out.content = Some(text.clone()),
            Delta::ToolCall(f) => {
                out.tool_calls = Some(vec![ChatCompletionMessageToolCallChunk {
                    index: f.index,
                    id: f.start.as_ref().map(|s| s.id.clone()),
                    r#type: f.start.as_ref().map(|_| FunctionType::Function),
                    function: Some(FunctionCallStream {
                        name: f.start.as_ref().map(|s| s.name.clone()),
                        arguments: Some(f.arguments.clone()),
                    }),
                }]);
            }
        }
        self.chunk(vec![ChatChoiceStream {
            index: 0,
            delta: out,
            ..Default::default()
        }])
    }

    /// The chunk that ends the choice: an empty delta and the finish reason.
    pub fn finish(&self, reason: FinishReason) -> CreateChatCompletionStreamResponse {
        self.chunk(vec![ChatChoiceStream {
            index: 0,
            finish_reason: Some(reason),
            ..Default::default()
        }])
    }

    /// The `include_usage` chunk: no choices, only usage.
    pub fn usage(&self, usage: TokenUsage) -> CreateChatCompletionStreamResponse {
        CreateChatCompletionStreamResponse {
            usage: Some(completion_usage(usage)),
            ..self.chunk(Vec::new())
        }
    }

    /// The whole answer, for a request with `stream: false`.
    pub fn completion(&self, script: &Script, usage: TokenUsage) -> CreateChatCompletionResponse {
        let text = script.full_text();
        let tool_calls = assemble_tool_calls(script);
        let message = ChatCompletionResponseMessage {
            role: Role::Assistant,
            content: (!text.is_empty()).then_some(text),
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            ..Default::default()
        };
        CreateChatCompletionResponse {
            id: self.id.clone(),
            object: COMPLETION_OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChatChoice {
                index: 0,
                message,
                finish_reason: Some(script.finish),
                logprobs: None,
            }],
            usage: Some(completion_usage(usage)),
            ..Default::default()
        }
    }
}

fn completion_usage(u: TokenUsage) -> CompletionUsage {
    CompletionUsage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
        ..Default::default()
    }
}

/// Joins each call's fragments back into one call, for the non-streamed answer.
fn assemble_tool_calls(script: &Script) -> Vec<ChatCompletionMessageToolCalls> {
    let mut calls: Vec<ChatCompletionMessageToolCall> = Vec::new();
    for delta in &script.deltas {
        let Delta::ToolCall(f) = delta else { continue };
        let index = f.index as usize;
        if calls.len() <= index {
            calls.resize_with(index + 1, Default::default);
        }
        let call = &mut calls[index];
        if let Some(start) = &f.start {
            call.id.clone_from(&start.id);
            call.function.name.clone_from(&start.name);
        }
        call.function.arguments.push_str(&f.arguments);
    }
    calls
        .into_iter()
        .map(|c| {
            ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                id: c.id,
                function: FunctionCall {
                    name: c.function.name,
                    arguments: c.function.arguments,
                },
            })
        })
        .collect()
}

/// `data: <json>\n\n`.
pub fn frame<T: Serialize>(value: &T) -> Bytes {
    // These types serialize infallibly (no maps with non-string keys, no failing impls).
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut out = Vec::with_capacity(json.len() + 8);
    encode_data(&json, &mut out);
    Bytes::from(out)
}

/// `data: [DONE]\n\n`.
pub fn done_frame() -> Bytes {
    Bytes::from_static(DONE_FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{ToolCallFragment, ToolCallStart};
    use serde_json::Value;

    fn json(b: &Bytes) -> Value {
        let s = std::str::from_utf8(b).unwrap();
        let payload = s
            .strip_prefix("data: ")
            .unwrap()
            .strip_suffix("\n\n")
            .unwrap();
        serde_json::from_str(payload).unwrap()
    }

    #[test]
    fn chunks_are_spec_complete() {
        let f = ChunkFactory::new(3, 1_700_000_000, "mock-gpt".into());
        let c = json(&frame(&f.delta(&Delta::Text("hi".into()), true)));
        assert_eq!(c["id"], "chatcmpl-mock-3");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["created"], 1_700_000_000);
        assert_eq!(c["model"], "mock-gpt");
        assert_eq!(c["choices"][0]["index"], 0);
        assert_eq!(c["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(c["choices"][0]["delta"]["content"], "hi");
        let later = json(&frame(&f.delta(&Delta::Text("x".into()), false)));
        assert_eq!(later["choices"][0]["delta"]["role"], Value::Null);
        let fin = json(&frame(&f.finish(FinishReason::ToolCalls)));
        assert_eq!(fin["choices"][0]["finish_reason"], "tool_calls");
        let usage = TokenUsage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
        };
        let u = json(&frame(&f.usage(usage)));
        assert_eq!(u["choices"], serde_json::json!([]));
        assert_eq!(u["usage"]["total_tokens"], 3);
    }

    #[test]
    fn the_text_fast_path_writes_the_same_bytes_as_full_serialization() {
        let f = ChunkFactory::new(42, 1_700_000_000, "m\"odel".into());
        assert!(f.text_template.is_some());
        for text in [
            "plain ",
            "quote \" and \\ back",
            "line\nbreak",
            "漢字 👩‍👩‍👧‍👦 e\u{301}",
            "\u{1}",
        ] {
            for first in [false, true] {
                let delta = Delta::Text(text.into());
                assert_eq!(
                    f.delta_frame(&delta, first),
                    frame(&f.delta(&delta, first)),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn later_tool_fragments_carry_only_index_and_arguments() {
        let f = ChunkFactory::new(1, 0, "m".into());
        let start = ToolCallFragment {
            index: 1,
            start: Some(ToolCallStart {
                id: "call_0_1".into(),
                name: "get_spec".into(),
            }),
            arguments: String::new(),
        };
        let c = json(&frame(&f.delta(&Delta::ToolCall(start), false)));
        let call = &c["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["index"], 1);
        assert_eq!(call["id"], "call_0_1");
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_spec");
        assert_eq!(call["function"]["arguments"], "");
        let piece = ToolCallFragment {
            index: 1,
            start: None,
            arguments: "{\"id\"".into(),
        };
        let c = json(&frame(&f.delta(&Delta::ToolCall(piece), false)));
        let call = c["choices"][0]["delta"]["tool_calls"][0]
            .as_object()
            .unwrap();
        let keys: Vec<&str> = call.keys().map(String::as_str).collect();
        assert_eq!(keys, ["function", "index"]);
        assert_eq!(
            call["function"],
            serde_json::json!({"arguments": "{\"id\""})
        );
    }
}
