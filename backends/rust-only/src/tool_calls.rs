//! Streamed tool-call fragments, accumulated by `index` the way `@ai-sdk/provider-utils`'
//! `StreamingToolCallTracker` does for `@ai-sdk/openai`'s chat model.
//!
//! What the client sees follows that tracker: `tool-input-start` as soon as a call's first
//! fragment (the one with its name) arrives, then every argument fragment as one
//! `tool-input-delta` as it arrives (the first fragment's arguments only when non-empty, later
//! ones even when empty), and the complete calls only when the provider's stream has ended,
//! ordered by index.

use std::collections::{HashMap, HashSet};

use async_openai::types::chat::ChatCompletionMessageToolCallChunk;
use contract::ui_chunk::{ToolChunkExtra, UiChunk};

use crate::ids;

/// A tool call whose fragments have all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedCall {
    pub id: String,
    pub name: String,
    /// The raw argument text, as the model streamed it.
    pub arguments: String,
}

#[derive(Debug)]
struct TrackedCall {
    call: FinishedCall,
    index: u32,
    wire_id: Option<String>,
}

/// The provider started a tool call the tracker cannot make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider started tool call {index} without a function name")]
pub struct NamelessToolCall {
    pub index: u32,
}

/// Accumulates one step's tool-call fragments.
#[derive(Debug, Default)]
pub struct ToolCallTracker {
    calls: Vec<TrackedCall>,
    /// The latest call seen at each index.
    by_index: HashMap<u32, usize>,
    used_ids: HashSet<String>,
}

impl ToolCallTracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Takes one fragment; hands the chunks it produces to `emit`.
    pub fn process(
        &mut self,
        fragment: ChatCompletionMessageToolCallChunk,
        mut emit: impl FnMut(UiChunk),
    ) -> Result<(), NamelessToolCall> {
        let (name, arguments) = match fragment.function {
            Some(f) => (f.name, f.arguments),
            None => (None, None),
        };
        let wire_id = fragment.id.filter(|id| !id.trim().is_empty());
        let named = name.as_deref().is_some_and(|n| !n.trim().is_empty());

        let existing = self.by_index.get(&fragment.index).copied();
        // A provider that reuses an index for a second call marks the new call with a new id
        // and a name; anything else at a known index continues the call there.
        let starts_new_call = match existing {
            Some(at) => {
                named && wire_id.is_some() && self.calls[at].wire_id.as_ref() != wire_id.as_ref()
            }
            None => true,
        };

        if !starts_new_call {
            if let (Some(at), Some(arguments)) = (existing, arguments) {
                let call = &mut self.calls[at].call;
                call.arguments.push_str(&arguments);
                emit(UiChunk::ToolInputDelta {
                    tool_call_id: call.id.clone(),
                    input_text_delta: arguments,
                });
            }
            return Ok(());
        }

        let Some(name) = name else {
            return Err(NamelessToolCall {
                index: fragment.index,
            });
        };
        if !named {
            // A blank name cannot start a usable call: ignored, as the AI SDK does.
            return Ok(());
        }
        let id = self.unique_id(wire_id.as_deref());
        emit(UiChunk::ToolInputStart {
            tool_call_id: id.clone(),
            tool_name: name.clone(),
            extra: ToolChunkExtra::default(),
        });
        let arguments = arguments.unwrap_or_default();
        if !arguments.is_empty() {
            emit(UiChunk::ToolInputDelta {
                tool_call_id: id.clone(),
                input_text_delta: arguments.clone(),
            });
        }
        self.by_index.insert(fragment.index, self.calls.len());
        self.calls.push(TrackedCall {
            call: FinishedCall {
                id,
                name,
                arguments,
            },
            index: fragment.index,
            wire_id,
        });
        Ok(())
    }

    /// The step's calls, in index order (ties in arrival order).
    pub fn finish(mut self) -> Vec<FinishedCall> {
        // A stable sort keeps arrival order between calls that share an index.
        self.calls.sort_by_key(|c| c.index);
        self.calls.into_iter().map(|c| c.call).collect()
    }

    /// The provider's id when it is new, else a generated one (`tool-call-<n>` style
    /// suffixes are never needed: generated ids are random).
    fn unique_id(&mut self, wire_id: Option<&str>) -> String {
        if let Some(id) = wire_id
            && self.used_ids.insert(id.to_owned())
        {
            return id.to_owned();
        }
        loop {
            let id = ids::generate();
            if self.used_ids.insert(id.clone()) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_openai::types::chat::FunctionCallStream;

    fn fragment(
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        args: Option<&str>,
    ) -> ChatCompletionMessageToolCallChunk {
        ChatCompletionMessageToolCallChunk {
            index,
            id: id.map(str::to_owned),
            r#type: None,
            function: Some(FunctionCallStream {
                name: name.map(str::to_owned),
                arguments: args.map(str::to_owned),
            }),
        }
    }

    fn run(
        fragments: Vec<ChatCompletionMessageToolCallChunk>,
    ) -> (Vec<UiChunk>, Vec<FinishedCall>) {
        let mut tracker = ToolCallTracker::new();
        let mut chunks = Vec::new();
        for f in fragments {
            tracker
                .process(f, |c| chunks.push(c))
                .expect("valid fragments");
        }
        (chunks, tracker.finish())
    }

    fn types(chunks: &[UiChunk]) -> Vec<String> {
        chunks
            .iter()
            .map(|c| match c {
                UiChunk::ToolInputStart { tool_call_id, .. } => format!("start {tool_call_id}"),
                UiChunk::ToolInputDelta {
                    tool_call_id,
                    input_text_delta,
                } => format!("delta {tool_call_id} {input_text_delta}"),
                other => other.type_name().to_owned(),
            })
            .collect()
    }

    #[test]
    fn interleaved_tiny_fragments_accumulate_by_index() {
        let (chunks, calls) = run(vec![
            fragment(1, Some("b"), Some("search_specs"), Some("")),
            fragment(0, Some("a"), Some("get_spec"), Some("{\"i")),
            fragment(1, None, None, Some("{\"q")),
            fragment(0, None, None, Some("d\":\"1\"}")),
            fragment(1, None, None, Some("\":\"x\"}")),
            fragment(0, None, None, Some("")),
        ]);
        assert_eq!(
            types(&chunks),
            [
                "start b",
                "start a",
                "delta a {\"i",
                "delta b {\"q",
                "delta a d\":\"1\"}",
                "delta b \":\"x\"}",
                "delta a ",
            ]
        );
        assert_eq!(
            calls,
            [
                FinishedCall {
                    id: "a".into(),
                    name: "get_spec".into(),
                    arguments: "{\"id\":\"1\"}".into()
                },
                FinishedCall {
                    id: "b".into(),
                    name: "search_specs".into(),
                    arguments: "{\"q\":\"x\"}".into()
                },
            ]
        );
    }

    #[test]
    fn missing_or_repeated_ids_are_generated_and_a_reused_index_starts_a_new_call() {
        let (chunks, calls) = run(vec![
            fragment(0, None, Some("list_specs"), Some("{}")),
            fragment(0, Some("x"), Some("get_spec"), Some("{}")),
            fragment(1, Some("x"), Some("get_spec"), None),
        ]);
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].id.len(), 16);
        assert_eq!(calls[1].id, "x");
        assert_ne!(calls[2].id, "x");
        assert_eq!(chunks.len(), 5);
    }

    #[test]
    fn a_call_without_a_name_is_an_error_and_a_blank_name_is_ignored() {
        let mut tracker = ToolCallTracker::new();
        let mut sink = |_| {};
        assert_eq!(
            tracker.process(fragment(3, Some("a"), None, Some("{}")), &mut sink),
            Err(NamelessToolCall { index: 3 })
        );
        assert_eq!(
            tracker.process(fragment(0, Some("a"), Some(" "), Some("{}")), &mut sink),
            Ok(())
        );
        assert!(tracker.is_empty());
    }
}
