//! UI messages (what `useChat` sends) to OpenAI chat messages (what the provider reads).
//!
//! This is the composition the AI SDK applies on the JS side, reproduced step by step so the
//! provider receives the same conversation from every architecture:
//!
//! 1. `convertToModelMessages(messages, { ignoreIncompleteToolCalls: true })` (`ai@6`,
//!    `src/ui/convert-to-model-messages.ts`): an assistant message is split into one block per
//!    `step-start`; each block becomes an assistant message (text + tool calls) followed by the
//!    results of its tool calls. Tool parts still waiting for their output (`input-streaming`,
//!    `input-available`, a preliminary output, an approval in flight) are dropped: the AI SDK
//!    would otherwise fail the whole request with `MissingToolResultsError`, and a history saved
//!    mid-answer must not make a conversation unusable.
//! 2. `convertToLanguageModelPrompt` drops empty text parts.
//! 3. `@ai-sdk/openai`'s `convertToOpenAIChatMessages`: a user message with one text part sends
//!    a plain string; assistant text parts are concatenated (`null` when there are tool calls and
//!    no text); tool call arguments are `JSON.stringify(input)` (`{}` unless the input is an
//!    object); a tool result is its string output as is, any other output as JSON, and an error
//!    as its error text. Reasoning parts are not sent back, as in the AI SDK.
//!
//! File and data parts are ignored: the chat UI of this project sends text only.

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestMessageContentPartText,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestSystemMessageContent,
    ChatCompletionRequestToolMessage, ChatCompletionRequestToolMessageContent,
    ChatCompletionRequestUserMessage, ChatCompletionRequestUserMessageContent,
    ChatCompletionRequestUserMessageContentPart, FunctionCall,
};
use contract::ui_message::{Role, ToolPart, ToolState, UiMessage, UiPart};
use serde_json::Value;

/// What the AI SDK tells the model when a tool call was denied without a reason.
const DENIED_WITHOUT_REASON: &str = "Tool call execution denied.";

/// Converts a whole `useChat` conversation into the provider's messages.
pub fn to_openai_messages(messages: &[UiMessage]) -> Vec<ChatCompletionRequestMessage> {
    let mut out = Vec::with_capacity(messages.len() + 2);
    for message in messages {
        match message.role {
            Role::System => out.push(system_message(message)),
            Role::User => out.push(user_message(message)),
            Role::Assistant => push_assistant_message(message, &mut out),
        }
    }
    out
}

fn system_message(message: &UiMessage) -> ChatCompletionRequestMessage {
    ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
        content: ChatCompletionRequestSystemMessageContent::Text(message.text()),
        name: None,
    })
}

fn user_message(message: &UiMessage) -> ChatCompletionRequestMessage {
    let mut texts: Vec<&str> = message
        .parts
        .iter()
        .filter_map(|part| match part {
            UiPart::Text { text, .. } if !text.is_empty() => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let content = if texts.len() == 1 {
        ChatCompletionRequestUserMessageContent::Text(texts.remove(0).to_owned())
    } else {
        ChatCompletionRequestUserMessageContent::Array(
            texts
                .into_iter()
                .map(|text| {
                    ChatCompletionRequestUserMessageContentPart::Text(
                        ChatCompletionRequestMessageContentPartText {
                            text: text.to_owned(),
                            prompt_cache_breakpoint: None,
                        },
                    )
                })
                .collect(),
        )
    };
    ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
        content,
        name: None,
    })
}

/// Whether a tool part carries a final result the model can be given, the filter of
/// `ignoreIncompleteToolCalls` (minus approvals, which this backend never requests).
fn is_complete(tool: &ToolPart) -> bool {
    match tool.state {
        ToolState::OutputAvailable => tool.preliminary != Some(true),
        ToolState::OutputError | ToolState::OutputDenied => true,
        ToolState::InputStreaming
        | ToolState::InputAvailable
        | ToolState::ApprovalRequested
        | ToolState::ApprovalResponded => false,
    }
}

/// One assistant UI message becomes one assistant message per step, each followed by the tool
/// messages that answer its calls.
fn push_assistant_message(message: &UiMessage, out: &mut Vec<ChatCompletionRequestMessage>) {
    let mut block: Vec<&UiPart> = Vec::new();
    for part in &message.parts {
        match part {
            UiPart::StepStart => {
                push_block(&block, out);
                block.clear();
            }
            UiPart::Tool(tool) if !is_complete(tool) => {}
            UiPart::Text { .. } | UiPart::Reasoning { .. } | UiPart::Tool(_) => block.push(part),
            UiPart::Other(_) => {}
        }
    }
    push_block(&block, out);
}

fn push_block(block: &[&UiPart], out: &mut Vec<ChatCompletionRequestMessage>) {
    if block.is_empty() {
        return;
    }
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut tools = Vec::new();
    for part in block {
        match part {
            UiPart::Text { text: t, .. } => text.push_str(t),
            UiPart::Tool(tool) => {
                tool_calls.push(ChatCompletionMessageToolCalls::Function(
                    ChatCompletionMessageToolCall {
                        id: tool.tool_call_id.clone(),
                        function: FunctionCall {
                            name: tool.tool_name.clone(),
                            arguments: tool_call_arguments(tool),
                        },
                    },
                ));
                if tool.provider_executed != Some(true) {
                    tools.push(&**tool);
                }
            }
            _ => {}
        }
    }
    let content = if tool_calls.is_empty() || !text.is_empty() {
        Some(ChatCompletionRequestAssistantMessageContent::Text(text))
    } else {
        None
    };
    #[allow(deprecated)] // `function_call` is deprecated upstream; it must still be spelled out.
    out.push(ChatCompletionRequestMessage::Assistant(
        ChatCompletionRequestAssistantMessage {
            content,
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            ..Default::default()
        },
    ));
    for tool in tools {
        out.push(ChatCompletionRequestMessage::Tool(
            ChatCompletionRequestToolMessage {
                content: ChatCompletionRequestToolMessageContent::Text(tool_result_content(tool)),
                tool_call_id: tool.tool_call_id.clone(),
            },
        ));
    }
}

/// `serializeToolCallArguments`: the provider only accepts a JSON object as arguments.
fn tool_call_arguments(tool: &ToolPart) -> String {
    let input = match (&tool.input, tool.state) {
        (None, ToolState::OutputError) => tool.raw_input.as_ref(),
        (input, _) => input.as_ref(),
    };
    match input {
        Some(object @ Value::Object(_)) => object.to_string(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => text.clone(),
            _ => "{}".to_owned(),
        },
        _ => "{}".to_owned(),
    }
}

/// What the model reads as the result of a tool call.
pub fn tool_result_content(tool: &ToolPart) -> String {
    match tool.state {
        ToolState::OutputError => error_content(tool.error_text.as_deref().unwrap_or_default()),
        // `convertToModelMessages` sends a denial as an error text too.
        ToolState::OutputDenied => error_content(
            tool.approval
                .as_ref()
                .and_then(|a| a.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or(DENIED_WITHOUT_REASON),
        ),
        _ => output_content(tool.output.as_ref().unwrap_or(&Value::Null)),
    }
}

/// A tool's error as tool-message content: `@ai-sdk/openai@4` sends an error result as the JSON
/// `{"error": text}` (its v3 sent the text alone).
pub fn error_content(text: &str) -> String {
    serde_json::json!({ "error": text }).to_string()
}

/// A tool's output as tool-message content: a string as is, anything else as JSON.
pub fn output_content(output: &Value) -> String {
    match output {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(value: Value) -> Vec<UiMessage> {
        serde_json::from_value(value).expect("valid UI messages")
    }

    fn wire(value: Value) -> Value {
        serde_json::to_value(to_openai_messages(&messages(value))).expect("serialisable")
    }

    #[test]
    fn user_and_system_text() {
        let got = wire(json!([
            {"id": "s", "role": "system", "parts": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]},
            {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hello"}]},
            {"id": "v", "role": "user", "parts": [{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
        ]));
        assert_eq!(
            got,
            json!([
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            ])
        );
    }

    #[test]
    fn steps_split_assistant_messages_and_tool_results_follow_their_calls() {
        let got = wire(json!([
            {"id": "u", "role": "user", "parts": [{"type": "text", "text": "go"}]},
            {"id": "a", "role": "assistant", "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "Looking.", "state": "done"},
                {"type": "tool-get_spec", "toolCallId": "c1", "state": "output-available",
                 "input": {"id": "001"}, "output": {"title": "T"}},
                {"type": "tool-search_specs", "toolCallId": "c2", "state": "output-error",
                 "input": {"query": "x"}, "errorText": "no such spec"},
                {"type": "step-start"},
                {"type": "tool-list_specs", "toolCallId": "c3", "state": "output-available",
                 "input": {}, "output": "plain text"},
                {"type": "step-start"},
                {"type": "reasoning", "text": "hmm"},
                {"type": "text", "text": "Done."},
            ]},
        ]));
        assert_eq!(
            got,
            json!([
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": "Looking.", "tool_calls": [
                    {"type": "function", "id": "c1", "function": {"name": "get_spec", "arguments": "{\"id\":\"001\"}"}},
                    {"type": "function", "id": "c2", "function": {"name": "search_specs", "arguments": "{\"query\":\"x\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "{\"title\":\"T\"}"},
                {"role": "tool", "tool_call_id": "c2", "content": "{\"error\":\"no such spec\"}"},
                {"role": "assistant", "tool_calls": [
                    {"type": "function", "id": "c3", "function": {"name": "list_specs", "arguments": "{}"}},
                ]},
                {"role": "tool", "tool_call_id": "c3", "content": "plain text"},
                {"role": "assistant", "content": "Done."},
            ])
        );
    }

    #[test]
    fn incomplete_tool_parts_are_dropped_not_fatal() {
        let got = wire(json!([
            {"id": "a", "role": "assistant", "parts": [
                {"type": "step-start"},
                {"type": "tool-get_spec", "toolCallId": "c1", "state": "input-streaming", "input": {"id": "0"}},
                {"type": "tool-get_spec", "toolCallId": "c2", "state": "input-available", "input": {"id": "0"}},
                {"type": "tool-get_spec", "toolCallId": "c3", "state": "output-available", "input": {}, "output": 1, "preliminary": true},
                {"type": "step-start"},
                {"type": "tool-get_spec", "toolCallId": "c4", "state": "input-available", "input": {"id": "0"}},
            ]},
            {"id": "u", "role": "user", "parts": [{"type": "text", "text": "again"}]},
        ]));
        assert_eq!(got, json!([{"role": "user", "content": "again"}]));
    }

    #[test]
    fn dynamic_tools_odd_inputs_and_denials() {
        let got = wire(json!([
            {"id": "a", "role": "assistant", "parts": [
                {"type": "dynamic-tool", "toolName": "free", "toolCallId": "d1", "state": "output-available",
                 "input": [1, 2], "output": null},
                {"type": "tool-get_spec", "toolCallId": "d2", "state": "output-error",
                 "rawInput": "{\"id\":", "errorText": "bad json"},
                {"type": "tool-get_spec", "toolCallId": "d3", "state": "output-denied",
                 "input": "{\"id\":\"7\"}"},
            ]},
        ]));
        assert_eq!(
            got,
            json!([
                {"role": "assistant", "tool_calls": [
                    {"type": "function", "id": "d1", "function": {"name": "free", "arguments": "{}"}},
                    {"type": "function", "id": "d2", "function": {"name": "get_spec", "arguments": "{}"}},
                    {"type": "function", "id": "d3", "function": {"name": "get_spec", "arguments": "{\"id\":\"7\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "d1", "content": "null"},
                {"role": "tool", "tool_call_id": "d2", "content": "{\"error\":\"bad json\"}"},
                {"role": "tool", "tool_call_id": "d3", "content": "{\"error\":\"Tool call execution denied.\"}"},
            ])
        );
    }

    #[test]
    fn an_assistant_block_of_empty_text_still_sends_an_empty_message() {
        let got = wire(json!([
            {"id": "a", "role": "assistant", "parts": [{"type": "text", "text": ""}]},
        ]));
        assert_eq!(got, json!([{"role": "assistant", "content": ""}]));
    }
}
