//! Reads a UI message stream the way the AI SDK's client must be able to, and says where it
//! breaks the client's rules.
//!
//! A state machine over the chunks: `start` first; content only inside a step; a `text-delta`
//! only between its `text-start` and `text-end`; `tool-input-delta` only after its
//! `tool-input-start`; a tool output only for a call whose input is known, and only once; steps
//! balanced; `finish` (or `error`) last; `[DONE]` at the end and nothing after it. While it
//! checks, it builds the final message as `processUIMessageStream` would (see [`crate::message`]),
//! so the Rust reading can be compared with the AI SDK's own.

use std::collections::{BTreeMap, BTreeSet};

use contract::sse::SseDecoder;
use contract::ui_chunk::{FinishReason, UiChunk};

use crate::message::MessageBuilder;
use crate::quote::shorten;

/// Everything the checker learned from one answer.
#[derive(Debug, Clone, Default)]
pub struct StreamReading {
    pub chunks: Vec<UiChunk>,
    /// The final assistant message's parts, projected (see [`crate::message`]).
    pub parts: Vec<serde_json::Value>,
    pub finish_reason: Option<FinishReason>,
    /// `errorText` of every `error` chunk.
    pub errors: Vec<String>,
    /// `[DONE]` ended the stream.
    pub done: bool,
    /// Broken rules, in the order met; empty for a conforming stream.
    pub violations: Vec<String>,
    /// Text deltas per step (index = step number - 1).
    pub text_deltas_per_step: Vec<usize>,
}

impl StreamReading {
    pub fn steps(&self) -> usize {
        self.text_deltas_per_step.len()
    }

    pub fn chunk_types(&self) -> Vec<String> {
        self.chunks
            .iter()
            .map(|c| c.type_name().to_owned())
            .collect()
    }

    /// How many chunks of type `kind` the stream holds.
    pub fn count(&self, kind: &str) -> usize {
        self.chunks.iter().filter(|c| c.type_name() == kind).count()
    }

    /// The text of every `text-delta`, in order.
    pub fn text_deltas(&self) -> Vec<String> {
        self.chunks
            .iter()
            .filter_map(|c| match c {
                UiChunk::TextDelta { delta, .. } => Some(delta.clone()),
                _ => None,
            })
            .collect()
    }

    /// The final message's text, its text parts joined.
    pub fn text(&self) -> String {
        crate::message::text_of(&self.parts)
    }

    /// The final message's tool parts (static `tool-<name>` and `dynamic-tool`).
    pub fn tool_parts(&self) -> Vec<serde_json::Value> {
        self.parts
            .iter()
            .filter(|p| {
                p["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("tool-") || t == "dynamic-tool")
            })
            .cloned()
            .collect()
    }

    /// The first broken rule, with how many more there are; `Ok` for a conforming stream.
    pub fn conforms(&self) -> Result<(), String> {
        let Some(first) = self.violations.first() else {
            return Ok(());
        };
        match self.violations.len() - 1 {
            0 => Err(first.clone()),
            more => Err(format!("{first} (and {more} more)")),
        }
    }
}

#[derive(Debug, Default)]
struct ToolCall {
    name: String,
    input_known: bool,
    streaming: bool,
    has_output: bool,
    /// The errorText of its `tool-input-error`, when its input was refused.
    input_error: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    started: bool,
    in_step: bool,
    finished: bool,
    open_text: BTreeSet<String>,
    open_reasoning: BTreeSet<String>,
    tools: BTreeMap<String, ToolCall>,
}

/// Reads a whole answer body.
pub fn read_stream(raw: &[u8]) -> StreamReading {
    let mut reading = StreamReading::default();
    let mut state = State::default();
    let mut builder = MessageBuilder::default();
    let mut decoder = SseDecoder::new();
    let events = decoder.push(raw);
    if decoder.has_partial_frame() {
        reading
            .violations
            .push("the stream ends in the middle of a frame".into());
    }
    for (index, event) in events.iter().enumerate() {
        if reading.done {
            reading.violations.push(format!(
                "frame {index} comes after [DONE]: {}",
                shorten(&event.data)
            ));
            break;
        }
        if event.is_done() {
            reading.done = true;
            continue;
        }
        let chunk = match UiChunk::from_json(&event.data) {
            Ok(chunk) => chunk,
            Err(e) => {
                reading.violations.push(format!(
                    "frame {index} is not a UI message chunk ({e}): {}",
                    shorten(&event.data)
                ));
                continue;
            }
        };
        if let Err(v) = check(&mut state, &mut reading, &chunk) {
            reading
                .violations
                .push(format!("chunk {index} ({}): {v}", chunk.type_name()));
        }
        builder.apply(&chunk);
        reading.chunks.push(chunk);
    }
    finish_checks(&state, &mut reading);
    reading.parts = builder.into_parts();
    reading
}

/// Checks one chunk against the rules and the state the chunks before it left.
fn check(state: &mut State, reading: &mut StreamReading, chunk: &UiChunk) -> Result<(), String> {
    check_place(state, chunk)?;
    match chunk {
        UiChunk::Start { .. } => {
            state.started = true;
            Ok(())
        }
        UiChunk::StartStep | UiChunk::FinishStep => check_step(state, reading, chunk),
        UiChunk::TextStart { .. } | UiChunk::TextDelta { .. } | UiChunk::TextEnd { .. } => {
            check_text(state, reading, chunk)
        }
        UiChunk::ReasoningStart { .. }
        | UiChunk::ReasoningDelta { .. }
        | UiChunk::ReasoningEnd { .. } => check_reasoning(state, chunk),
        UiChunk::Finish { finish_reason, .. } => {
            state.finished = true;
            reading.finish_reason = *finish_reason;
            if state.in_step {
                return Err("`finish` inside an open step (no `finish-step`)".into());
            }
            Ok(())
        }
        UiChunk::Error { error_text } => {
            reading.errors.push(error_text.clone());
            Ok(())
        }
        UiChunk::ToolInputStart { .. }
        | UiChunk::ToolInputDelta { .. }
        | UiChunk::ToolInputAvailable { .. }
        | UiChunk::ToolInputError { .. }
        | UiChunk::ToolOutputAvailable { .. }
        | UiChunk::ToolOutputError { .. }
        | UiChunk::ToolOutputDenied { .. }
        | UiChunk::ToolApprovalRequest { .. } => check_tool(state, chunk),
        _ => Ok(()),
    }
}

/// Where a chunk may stand at all: nothing after `finish`, `start` first and once, content
/// only inside a step.
fn check_place(state: &mut State, chunk: &UiChunk) -> Result<(), String> {
    if state.finished {
        return Err("comes after `finish`; only [DONE] may follow it".into());
    }
    let is_start = matches!(chunk, UiChunk::Start { .. });
    if !state.started && !is_start {
        state.started = true;
        return Err("the stream must open with `start`".into());
    }
    if is_start && state.started {
        return Err("a second `start`".into());
    }
    let needs_step = !matches!(
        chunk,
        UiChunk::Start { .. }
            | UiChunk::StartStep
            | UiChunk::FinishStep
            | UiChunk::Finish { .. }
            | UiChunk::Error { .. }
            | UiChunk::Abort { .. }
            | UiChunk::MessageMetadata { .. }
            // Custom data parts may be written at any point of a message.
            | UiChunk::Data(_)
    );
    if needs_step && !state.in_step {
        return Err("content outside a step (no open `start-step`)".into());
    }
    Ok(())
}

/// `start-step` / `finish-step`: balanced, and no text part left open across a step's end.
fn check_step(
    state: &mut State,
    reading: &mut StreamReading,
    chunk: &UiChunk,
) -> Result<(), String> {
    if matches!(chunk, UiChunk::StartStep) {
        if state.in_step {
            return Err("`start-step` inside an open step".into());
        }
        state.in_step = true;
        reading.text_deltas_per_step.push(0);
        return Ok(());
    }
    if !state.in_step {
        return Err("`finish-step` without `start-step`".into());
    }
    state.in_step = false;
    state.open_reasoning.clear();
    match std::mem::take(&mut state.open_text).into_iter().next() {
        Some(id) => Err(format!("text part `{id}` still open (no `text-end`)")),
        None => Ok(()),
    }
}

/// A text part: started once, deltas only while open, ended once.
fn check_text(
    state: &mut State,
    reading: &mut StreamReading,
    chunk: &UiChunk,
) -> Result<(), String> {
    match chunk {
        UiChunk::TextStart { id, .. } if !state.open_text.insert(id.clone()) => {
            Err(format!("text part `{id}` started twice"))
        }
        UiChunk::TextDelta { id, .. } if !state.open_text.contains(id) => Err(format!(
            "text-delta for `{id}` outside its text-start/text-end"
        )),
        UiChunk::TextDelta { .. } => {
            if let Some(n) = reading.text_deltas_per_step.last_mut() {
                *n += 1;
            }
            Ok(())
        }
        UiChunk::TextEnd { id, .. } if !state.open_text.remove(id) => {
            Err(format!("text-end for `{id}`, which is not open"))
        }
        _ => Ok(()),
    }
}

/// A reasoning part: deltas and its end only while it is open.
fn check_reasoning(state: &mut State, chunk: &UiChunk) -> Result<(), String> {
    match chunk {
        UiChunk::ReasoningStart { id, .. } => {
            state.open_reasoning.insert(id.clone());
            Ok(())
        }
        UiChunk::ReasoningDelta { id, .. } | UiChunk::ReasoningEnd { id, .. }
            if !state.open_reasoning.contains(id) =>
        {
            Err(format!("reasoning part `{id}` is not open"))
        }
        UiChunk::ReasoningEnd { id, .. } => {
            state.open_reasoning.remove(id);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A tool call: started once, input deltas while streaming, input known once and under one
/// name, then one final output.
fn check_tool(state: &mut State, chunk: &UiChunk) -> Result<(), String> {
    match chunk {
        UiChunk::ToolInputStart {
            tool_call_id,
            tool_name,
            ..
        } => {
            if state.tools.contains_key(tool_call_id) {
                return Err(format!("tool call `{tool_call_id}` started twice"));
            }
            let call = ToolCall {
                name: tool_name.clone(),
                streaming: true,
                ..ToolCall::default()
            };
            state.tools.insert(tool_call_id.clone(), call);
            Ok(())
        }
        UiChunk::ToolInputDelta { tool_call_id, .. } => match state.tools.get(tool_call_id) {
            Some(call) if call.streaming => Ok(()),
            _ => Err(format!(
                "tool-input-delta for `{tool_call_id}` without an open tool-input-start"
            )),
        },
        UiChunk::ToolInputAvailable {
            tool_call_id,
            tool_name,
            ..
        } => tool_input(state, tool_call_id, tool_name),
        // ai@7 ends an invalid call with its `tool-input-error` (ai@6 followed it with a
        // `tool-output-error`, which ai@7 no longer sends): it is that call's result.
        UiChunk::ToolInputError {
            tool_call_id,
            tool_name,
            error_text,
            ..
        } => {
            tool_input(state, tool_call_id, tool_name)?;
            tool_output(state, tool_call_id, false)?;
            if let Some(call) = state.tools.get_mut(tool_call_id) {
                call.input_error = Some(error_text.clone());
            }
            Ok(())
        }
        // ai@6 (the `node20-ai6` comparison stack, docs/runtimes.md#stacks) repeats a refused
        // input's error as a `tool-output-error` with the same text: the client's message ends
        // the same, so that repetition, and only that, is not a second result.
        UiChunk::ToolOutputError {
            tool_call_id,
            error_text,
            ..
        } if state
            .tools
            .get(tool_call_id)
            .is_some_and(|c| c.input_error.as_ref() == Some(error_text)) =>
        {
            if let Some(call) = state.tools.get_mut(tool_call_id) {
                call.input_error = None;
            }
            Ok(())
        }
        UiChunk::ToolOutputAvailable {
            tool_call_id,
            preliminary,
            ..
        } => tool_output(state, tool_call_id, preliminary.unwrap_or(false)),
        UiChunk::ToolOutputError { tool_call_id, .. } => tool_output(state, tool_call_id, false),
        UiChunk::ToolOutputDenied { tool_call_id }
        | UiChunk::ToolApprovalRequest { tool_call_id, .. }
            if !state.tools.contains_key(tool_call_id) =>
        {
            Err(format!("unknown toolCallId `{tool_call_id}`"))
        }
        _ => Ok(()),
    }
}

/// `tool-input-available` or `tool-input-error`.
fn tool_input(state: &mut State, id: &str, name: &str) -> Result<(), String> {
    let call = state.tools.entry(id.to_owned()).or_default();
    if call.input_known {
        return Err(format!("input of tool call `{id}` given twice"));
    }
    if !call.name.is_empty() && call.name != name {
        return Err(format!(
            "tool call `{id}` started as `{}` but its input names `{name}`",
            call.name
        ));
    }
    call.name = name.to_owned();
    call.input_known = true;
    call.streaming = false;
    Ok(())
}

fn tool_output(state: &mut State, id: &str, preliminary: bool) -> Result<(), String> {
    let Some(call) = state.tools.get_mut(id) else {
        return Err(format!("output for unknown toolCallId `{id}`"));
    };
    if !call.input_known {
        return Err(format!(
            "output for tool call `{id}` before its tool-input-available"
        ));
    }
    if call.has_output {
        return Err(format!("tool call `{id}` got a second final output"));
    }
    call.has_output = !preliminary;
    Ok(())
}

fn finish_checks(state: &State, reading: &mut StreamReading) {
    let v = &mut reading.violations;
    if !reading.done {
        v.push("the stream does not end with [DONE]".into());
    }
    if reading.chunks.is_empty() {
        v.push("the stream holds no chunk".into());
        return;
    }
    let last = reading.chunks.last().map(UiChunk::type_name).unwrap_or("");
    if !matches!(last, "finish" | "error" | "abort") {
        v.push(format!(
            "the last chunk is `{last}`; a stream ends with `finish` (or `error`)"
        ));
    }
    let failed = !reading.errors.is_empty() || last == "abort";
    if !failed {
        if state.in_step {
            v.push("a step is still open at the end (no `finish-step`)".into());
        }
        for (id, call) in &state.tools {
            if !call.has_output {
                v.push(format!(
                    "tool call `{id}` ({}) never got its result",
                    if call.name.is_empty() {
                        "?"
                    } else {
                        &call.name
                    }
                ));
            }
        }
    }
}
