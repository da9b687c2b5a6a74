//! The final assistant message a client builds from a stream, as `processUIMessageStream`
//! (`ai/src/ui/process-ui-message-stream.ts`) builds it, and the projection both readings are
//! compared on.
//!
//! The projection keeps what a user sees and what the next request sends back (part types,
//! text and its state, tool call ids, states, inputs, outputs, error texts, step boundaries)
//! and drops what neither depends on (provider metadata, partial input of a streaming call,
//! which the SDK parses with its own partial-JSON repair).

use serde_json::{Map, Value, json};

use contract::ui_chunk::UiChunk;

/// Builds the parts of the message from chunks, in the AI SDK client's way.
#[derive(Debug, Default)]
pub struct MessageBuilder {
    parts: Vec<Value>,
    /// Active text and reasoning parts: chunk id -> part index.
    active_text: Vec<(String, usize)>,
    active_reasoning: Vec<(String, usize)>,
}

impl MessageBuilder {
    pub fn apply(&mut self, chunk: &UiChunk) {
        match chunk {
            UiChunk::TextStart { id, .. } => {
                self.active_text.push((id.clone(), self.parts.len()));
                self.parts
                    .push(json!({"type": "text", "text": "", "state": "streaming"}));
            }
            UiChunk::TextDelta { id, delta, .. } => self.append(false, id, delta),
            UiChunk::TextEnd { id, .. } => self.end(false, id),
            UiChunk::ReasoningStart { id, .. } => {
                self.active_reasoning.push((id.clone(), self.parts.len()));
                self.parts
                    .push(json!({"type": "reasoning", "text": "", "state": "streaming"}));
            }
            UiChunk::ReasoningDelta { id, delta, .. } => self.append(true, id, delta),
            UiChunk::ReasoningEnd { id, .. } => self.end(true, id),
            UiChunk::StartStep => self.parts.push(json!({"type": "step-start"})),
            UiChunk::FinishStep => {
                self.active_text.clear();
                self.active_reasoning.clear();
            }
            UiChunk::ToolInputStart {
                tool_call_id,
                tool_name,
                extra,
            } => {
                if let Some(part) = self.tool_in_step(tool_call_id, tool_name, extra.dynamic) {
                    set(part, "state", json!("input-streaming"));
                    part.remove("input");
                }
            }
            UiChunk::ToolInputAvailable {
                tool_call_id,
                tool_name,
                input,
                extra,
            } => {
                if let Some(part) = self.tool_in_step(tool_call_id, tool_name, extra.dynamic) {
                    set(part, "state", json!("input-available"));
                    set(part, "input", input.clone());
                }
            }
            UiChunk::ToolInputError {
                tool_call_id,
                tool_name,
                input,
                error_text,
                extra,
            } => {
                if let Some(part) = self.tool_in_step(tool_call_id, tool_name, extra.dynamic) {
                    set(part, "state", json!("output-error"));
                    set(part, "errorText", json!(error_text));
                    // ai@7 keeps the bad input as `input` for every tool (ai@6 moved a static
                    // tool's to `rawInput`, which the projection dropped).
                    set(part, "input", input.clone());
                }
            }
            UiChunk::ToolOutputAvailable {
                tool_call_id,
                output,
                ..
            } => {
                if let Some(part) = self.tool_anywhere(tool_call_id) {
                    set(part, "state", json!("output-available"));
                    set(part, "output", output.clone());
                }
            }
            UiChunk::ToolOutputError {
                tool_call_id,
                error_text,
                ..
            } => {
                if let Some(part) = self.tool_anywhere(tool_call_id) {
                    set(part, "state", json!("output-error"));
                    set(part, "errorText", json!(error_text));
                }
            }
            UiChunk::ToolOutputDenied { tool_call_id } => {
                if let Some(part) = self.tool_anywhere(tool_call_id) {
                    set(part, "state", json!("output-denied"));
                }
            }
            UiChunk::ToolApprovalRequest { tool_call_id, .. } => {
                if let Some(part) = self.tool_anywhere(tool_call_id) {
                    set(part, "state", json!("approval-requested"));
                }
            }
            UiChunk::SourceUrl { .. } | UiChunk::SourceDocument { .. } | UiChunk::File { .. } => {
                self.parts
                    .push(serde_json::to_value(chunk).unwrap_or(Value::Null));
            }
            UiChunk::Data(raw) => self.data(raw),
            _ => {}
        }
    }

    /// The projected parts of the final message.
    pub fn into_parts(self) -> Vec<Value> {
        project(&self.parts)
    }

    fn append(&mut self, reasoning: bool, id: &str, delta: &str) {
        let active = if reasoning {
            &self.active_reasoning
        } else {
            &self.active_text
        };
        if let Some(&(_, i)) = active.iter().find(|(a, _)| a == id)
            && let Some(Value::String(text)) = self.parts[i].get_mut("text")
        {
            text.push_str(delta);
        }
    }

    fn end(&mut self, reasoning: bool, id: &str) {
        let active = if reasoning {
            &mut self.active_reasoning
        } else {
            &mut self.active_text
        };
        if let Some(pos) = active.iter().position(|(a, _)| a == id) {
            let (_, i) = active.remove(pos);
            if let Some(part) = self.parts[i].as_object_mut() {
                set(part, "state", json!("done"));
            }
        }
    }

    fn step_start(&self) -> usize {
        self.parts
            .iter()
            .rposition(|p| p.get("type") == Some(&json!("step-start")))
            .map_or(0, |i| i + 1)
    }

    /// The tool part of the current step for `id`, created if absent.
    fn tool_in_step(
        &mut self,
        id: &str,
        name: &str,
        dynamic: Option<bool>,
    ) -> Option<&mut Map<String, Value>> {
        let from = self.step_start();
        let found = (from..self.parts.len()).find(|&i| is_tool(&self.parts[i], id));
        let index = found.unwrap_or_else(|| {
            let part = if dynamic == Some(true) {
                json!({"type": "dynamic-tool", "toolName": name, "toolCallId": id})
            } else {
                json!({"type": format!("tool-{name}"), "toolCallId": id})
            };
            self.parts.push(part);
            self.parts.len() - 1
        });
        self.parts[index].as_object_mut()
    }

    fn tool_anywhere(&mut self, id: &str) -> Option<&mut Map<String, Value>> {
        let from = self.step_start();
        let in_step = (from..self.parts.len()).find(|&i| is_tool(&self.parts[i], id));
        let index = in_step.or_else(|| self.parts.iter().rposition(|p| is_tool(p, id)))?;
        self.parts[index].as_object_mut()
    }

    fn data(&mut self, raw: &Value) {
        if raw.get("transient") == Some(&Value::Bool(true)) {
            return;
        }
        let id = raw.get("id");
        let existing = id.and_then(|id| {
            self.parts
                .iter_mut()
                .find(|p| p.get("type") == raw.get("type") && p.get("id") == Some(id))
        });
        match existing {
            Some(part) => {
                if let (Some(obj), Some(data)) = (part.as_object_mut(), raw.get("data")) {
                    set(obj, "data", data.clone());
                }
            }
            None => self.parts.push(raw.clone()),
        }
    }
}

fn is_tool(part: &Value, id: &str) -> bool {
    let tool_type = part
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("tool-") || t == "dynamic-tool");
    tool_type && part.get("toolCallId").and_then(Value::as_str) == Some(id)
}

fn set(part: &mut Map<String, Value>, key: &str, value: Value) {
    part.insert(key.to_owned(), value);
}

/// The comparable view of a message's parts (of either reading).
pub fn project(parts: &[Value]) -> Vec<Value> {
    parts.iter().map(project_part).collect()
}

fn project_part(part: &Value) -> Value {
    let Some(obj) = part.as_object() else {
        return part.clone();
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let keep: &[&str] = match kind {
        "text" | "reasoning" => &["type", "text", "state"],
        "step-start" => &["type"],
        "dynamic-tool" => &[
            "type",
            "toolName",
            "toolCallId",
            "state",
            "input",
            "output",
            "errorText",
        ],
        k if k.starts_with("tool-") => &[
            "type",
            "toolCallId",
            "state",
            "input",
            "output",
            "errorText",
        ],
        _ => {
            let mut all = obj.clone();
            all.remove("providerMetadata");
            return Value::Object(all);
        }
    };
    let streaming_input = obj.get("state") == Some(&json!("input-streaming"));
    let mut out = Map::new();
    for key in keep {
        if *key == "input" && streaming_input {
            continue;
        }
        if let Some(v) = obj.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// The concatenated text of the text parts.
pub fn text_of(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|p| p.get("type") == Some(&json!("text")))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
}

/// The parts of a UIMessage (none when there is no message).
pub fn parts_of(message: Option<&Value>) -> Vec<Value> {
    message
        .and_then(|m| m.get("parts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A whole UIMessage without what differs between two runs of the same answer: its id, random
/// per run.
pub fn without_id(message: Option<&Value>) -> Value {
    let mut message = message.cloned().unwrap_or(Value::Null);
    if let Some(object) = message.as_object_mut() {
        object.remove("id");
    }
    message
}

/// Where two projected part lists first differ, in words; `None` when they agree.
pub fn first_difference(rust: &[Value], node: &[Value]) -> Option<String> {
    for (i, (a, b)) in rust.iter().zip(node).enumerate() {
        if a != b {
            return Some(format!(
                "part {i}: Rust read {}, the AI SDK read {}",
                crate::quote::shorten(&a.to_string()),
                crate::quote::shorten(&b.to_string())
            ));
        }
    }
    (rust.len() != node.len()).then(|| {
        format!(
            "Rust read {} parts, the AI SDK read {}",
            rust.len(),
            node.len()
        )
    })
}
