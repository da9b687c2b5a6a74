//! What the provider says for one request, before any timing: the scripts of the scenarios.
//!
//! A [`Script`] is the list of deltas (text pieces or tool-call fragments), the finish reason
//! and the fault to inject, decided from the directive and the conversation so far. The stream
//! ([`crate::stream`]) puts it on the clock; [`crate::chunks`] turns it into OpenAI JSON.
//!
//! - [`text`]: the deterministic text of `text`, `long`, `unicode` and of answers;
//! - [`tools`]: the multi-step tool scenarios, one step per request;
//! - [`quote`]: reading tool results back out of the conversation.

pub mod quote;
pub mod text;
pub mod tools;

use contract::openai::FinishReason;
use contract::scenario::{Directive, Scenario};

use crate::request::ChatRequest;

/// One piece of an answer; each is one stream chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// Non-empty text (`delta.content`).
    Text(String),
    /// One fragment of a tool call (`delta.tool_calls[0]`).
    ToolCall(ToolCallFragment),
}

/// A tool-call fragment. The first fragment of a call carries its id and name (and empty
/// arguments); the later ones carry only the index and a piece of the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallFragment {
    pub index: u32,
    pub start: Option<ToolCallStart>,
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallStart {
    pub id: String,
    pub name: String,
}

/// A deliberate misbehaviour, placed after `at` deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A `data:` line that is not JSON, sent just before delta `at` at that delta's time; the
    /// stream then goes on normally to `[DONE]`, so a client that tolerated the line would see
    /// every delta (and one that stops shows exactly where it stopped).
    Malformed { at: u32 },
    /// The connection is aborted when delta `at` is due: no more chunks, no `[DONE]`.
    Truncate { at: u32 },
    /// Nothing is sent for `stall_ns` before delta `at`; the rest of the schedule shifts.
    Stall { at: u32, stall_ns: u64 },
}

/// Everything a request's answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub deltas: Vec<Delta>,
    pub finish: FinishReason,
    pub fault: Option<Fault>,
    /// Which step of a multi-step scenario this is (0 for the first call).
    pub step: u32,
}

impl Script {
    /// An answer made of text pieces only.
    pub fn text(pieces: Vec<String>, step: u32) -> Self {
        Self {
            deltas: pieces.into_iter().map(Delta::Text).collect(),
            finish: FinishReason::Stop,
            fault: None,
            step,
        }
    }

    /// Tokens the answer reports as completion tokens: one per delta, as a real stream sends
    /// about one token per chunk.
    pub fn completion_tokens(&self) -> u32 {
        u32::try_from(self.deltas.len()).unwrap_or(u32::MAX)
    }

    /// The whole text, for a non-streamed answer.
    pub fn full_text(&self) -> String {
        self.deltas
            .iter()
            .filter_map(|d| match d {
                Delta::Text(t) => Some(t.as_str()),
                Delta::ToolCall(_) => None,
            })
            .collect()
    }
}

/// The script for `directive` given the conversation in `request`. `http-429` and `http-500`
/// answer with an error before any script (see the handler) and play `text` once they let a
/// request through.
pub fn build(directive: &Directive, request: &ChatRequest) -> Script {
    let params = &directive.params;
    let n = params.chunks;
    let with_fault = |fault| Script {
        fault: Some(fault),
        ..Script::text(text::words(n), 0)
    };
    match directive.scenario {
        Scenario::Text | Scenario::Long | Scenario::Http429 | Scenario::Http500 => {
            Script::text(text::words(n), 0)
        }
        Scenario::Unicode => Script::text(text::unicode(n), 0),
        Scenario::MalformedChunk => with_fault(Fault::Malformed {
            at: params.fail_index(),
        }),
        Scenario::Truncated => with_fault(Fault::Truncate {
            at: params.fail_index(),
        }),
        Scenario::Stall => with_fault(Fault::Stall {
            at: params.fail_index(),
            stall_ns: params.stall_ms.saturating_mul(1_000_000),
        }),
        Scenario::ToolSingle
        | Scenario::ToolParallel
        | Scenario::ToolChain
        | Scenario::ToolError
        | Scenario::ToolBadArgs
        | Scenario::CrashTool
        | Scenario::PanicTool => tools::step(directive.scenario, n, &request.tool_rounds()),
    }
}
