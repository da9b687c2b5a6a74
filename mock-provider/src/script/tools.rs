//! The tool scenarios. The mock keeps no state between requests: the step is the number of
//! tool rounds (assistant messages with `tool_calls`) since the last user message, and the
//! results it quotes are the `tool` messages of the latest round.

use contract::openai::FinishReason;
use contract::scenario::{
    BAD_TOOL_ARGUMENTS, KNOWN_SPEC_ID, MISSING_SPEC_ID, PARALLEL_SEARCH_QUERY, Scenario,
};
use contract::tools::{CRASH_TOOL, GET_SPEC, LIST_SPECS, PANIC_TOOL, SEARCH_SPECS};
use serde_json::json;

use super::quote::{describe, first_spec_id, raw};
use super::{Delta, Script, ToolCallFragment, ToolCallStart, text};
use crate::request::ToolRound;

/// Arguments are cut into pieces of at most this many characters, about what a real provider
/// streams per token, so every call arrives in several fragments.
const ARGUMENT_FRAGMENT_CHARS: usize = 8;

/// A call the model makes in this step.
struct Call {
    name: &'static str,
    arguments: String,
}

fn call(name: &'static str, arguments: serde_json::Value) -> Call {
    Call {
        name,
        arguments: arguments.to_string(),
    }
}

/// The script of step `rounds.len()` of a tool scenario; `chunks` sizes the final answer.
pub fn step(scenario: Scenario, chunks: u32, rounds: &[ToolRound]) -> Script {
    let step = u32::try_from(rounds.len()).unwrap_or(u32::MAX);
    let last = rounds.last();
    let result = |name: &str| last.and_then(|r| r.result_of(name));
    let answer = |quote: String| Script::text(text::answer(&quote, chunks), step);
    match (scenario, step) {
        (Scenario::ToolSingle, 0) => calls(step, vec![get_spec(KNOWN_SPEC_ID)]),
        (Scenario::ToolSingle, _) => answer(format!("{}.", describe(GET_SPEC, result(GET_SPEC)))),
        (Scenario::ToolParallel, 0) => calls(
            step,
            vec![
                get_spec(KNOWN_SPEC_ID),
                call(SEARCH_SPECS, json!({ "query": PARALLEL_SEARCH_QUERY })),
            ],
        ),
        (Scenario::ToolParallel, _) => answer(format!(
            "{}; {}.",
            describe(GET_SPEC, result(GET_SPEC)),
            describe(SEARCH_SPECS, result(SEARCH_SPECS))
        )),
        (Scenario::ToolChain, 0) => calls(step, vec![call(LIST_SPECS, json!({}))]),
        (Scenario::ToolChain, 1) => {
            let listed = result(LIST_SPECS);
            match listed.and_then(first_spec_id) {
                Some(id) => calls(step, vec![get_spec(&id)]),
                // Without an id there is nothing to chain; answering with what came back
                // shows the conformance suite what the list looked like.
                None => answer(format!("{}; it names no spec id.", raw(LIST_SPECS, listed))),
            }
        }
        (Scenario::ToolChain, _) => answer(format!("{}.", describe(GET_SPEC, result(GET_SPEC)))),
        (Scenario::ToolError, 0) => calls(step, vec![get_spec(MISSING_SPEC_ID)]),
        (Scenario::ToolError, _) => answer(format!(
            "get_spec failed: {}",
            result(GET_SPEC).unwrap_or("(no result came back)")
        )),
        (Scenario::ToolBadArgs, 0) => calls(
            step,
            vec![Call {
                name: GET_SPEC,
                arguments: BAD_TOOL_ARGUMENTS.to_owned(),
            }],
        ),
        (Scenario::ToolBadArgs, _) => answer(format!(
            "get_spec was refused: {}",
            result(GET_SPEC)
                .map_or_else(|| "(no result came back)".to_owned(), first_line_of_error)
        )),
        (Scenario::CrashTool, 0) => calls(step, vec![call(CRASH_TOOL, json!({}))]),
        (Scenario::CrashTool, _) => answer(raw(CRASH_TOOL, result(CRASH_TOOL))),
        (Scenario::PanicTool, 0) => calls(step, vec![call(PANIC_TOOL, json!({}))]),
        (Scenario::PanicTool, _) => answer(raw(PANIC_TOOL, result(PANIC_TOOL))),
        // Not a tool scenario: the caller never asks, but a text answer is the safe reply.
        _ => Script::text(text::words(chunks), step),
    }
}

/// The first line of a refused call's error as the model reads it (`{"error": text}`, as
/// `@ai-sdk/openai@4` sends a tool error, or the bare text). The lines after it hold the JSON
/// parser's own message, which differs between JavaScript's and Rust's parsers.
fn first_line_of_error(result: &str) -> String {
    let text = match serde_json::from_str::<serde_json::Value>(result) {
        Ok(serde_json::Value::Object(o)) => match o.get("error") {
            Some(serde_json::Value::String(e)) => e.clone(),
            _ => result.to_owned(),
        },
        _ => result.to_owned(),
    };
    text.lines().next().unwrap_or_default().to_owned()
}

fn get_spec(id: &str) -> Call {
    call(GET_SPEC, json!({ "id": id }))
}

/// A step that makes `calls`: each call's fragments (start, then argument pieces) are
/// interleaved round-robin with the other calls', as providers do for parallel calls.
fn calls(step: u32, calls: Vec<Call>) -> Script {
    let mut queues: Vec<std::vec::IntoIter<ToolCallFragment>> = calls
        .into_iter()
        .enumerate()
        .map(|(n, c)| fragments(step, n as u32, c).into_iter())
        .collect();
    let mut deltas = Vec::new();
    loop {
        let before = deltas.len();
        for queue in &mut queues {
            if let Some(fragment) = queue.next() {
                deltas.push(Delta::ToolCall(fragment));
            }
        }
        if deltas.len() == before {
            break;
        }
    }
    Script {
        deltas,
        finish: FinishReason::ToolCalls,
        fault: None,
        step,
    }
}

/// The fragments of call `index`: a start carrying the id (`call_<step>_<index>`, unique within
/// a conversation turn), type and name with empty arguments, then the arguments in pieces.
fn fragments(step: u32, index: u32, call: Call) -> Vec<ToolCallFragment> {
    let mut out = vec![ToolCallFragment {
        index,
        start: Some(ToolCallStart {
            id: format!("call_{step}_{index}"),
            name: call.name.to_owned(),
        }),
        arguments: String::new(),
    }];
    let chars: Vec<char> = call.arguments.chars().collect();
    // At least two pieces, so even `{}` arrives split.
    let size = ARGUMENT_FRAGMENT_CHARS.min(chars.len().div_ceil(2)).max(1);
    out.extend(chars.chunks(size).map(|piece| ToolCallFragment {
        index,
        start: None,
        arguments: piece.iter().collect(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ToolCall;

    fn round(name: &str, result: &str) -> ToolRound {
        ToolRound {
            calls: vec![(
                ToolCall {
                    id: "call_0_0".into(),
                    name: name.into(),
                    arguments: "{}".into(),
                },
                Some(result.into()),
            )],
        }
    }

    fn arguments_by_index(script: &Script) -> Vec<(String, String)> {
        let mut calls: Vec<(String, String)> = Vec::new();
        for d in &script.deltas {
            let Delta::ToolCall(f) = d else {
                panic!("text in a tool step")
            };
            if let Some(s) = &f.start {
                assert!(f.arguments.is_empty());
                calls.push((s.name.clone(), String::new()));
            }
            calls[f.index as usize].1.push_str(&f.arguments);
        }
        calls
    }

    #[test]
    fn parallel_calls_arrive_interleaved_in_several_fragments() {
        let s = step(Scenario::ToolParallel, 20, &[]);
        assert_eq!(s.finish, FinishReason::ToolCalls);
        let indexes: Vec<u32> = s
            .deltas
            .iter()
            .map(|d| match d {
                Delta::ToolCall(f) => f.index,
                Delta::Text(_) => 99,
            })
            .collect();
        assert_eq!(&indexes[..4], &[0, 1, 0, 1]);
        let calls = arguments_by_index(&s);
        assert_eq!(
            calls[0],
            ("get_spec".into(), format!(r#"{{"id":"{KNOWN_SPEC_ID}"}}"#))
        );
        assert_eq!(
            calls[1],
            ("search_specs".into(), r#"{"query":"streaming"}"#.into())
        );
        assert!(indexes.iter().filter(|&&i| i == 0).count() >= 3);
    }

    #[test]
    fn even_empty_arguments_come_in_pieces() {
        let s = step(Scenario::ToolChain, 20, &[]);
        assert_eq!(s.deltas.len(), 3, "start, `{{`, `}}`");
        assert_eq!(
            arguments_by_index(&s)[0],
            ("list_specs".into(), "{}".into())
        );
    }

    #[test]
    fn chain_takes_the_id_from_the_list_and_then_quotes_the_title() {
        let listed = round(LIST_SPECS, r#"{"specs":[{"id":"042-x","title":"X"}]}"#);
        let s = step(Scenario::ToolChain, 5, std::slice::from_ref(&listed));
        assert_eq!(arguments_by_index(&s)[0].1, r#"{"id":"042-x"}"#);
        assert_eq!(s.step, 1);
        let got = round(GET_SPEC, r#"{"id":"042-x","title":"The X spec"}"#);
        let s = step(Scenario::ToolChain, 5, &[listed, got]);
        assert_eq!(s.finish, FinishReason::Stop);
        assert_eq!(s.deltas.len(), 5);
        assert!(
            s.full_text().contains("\"The X spec\""),
            "{}",
            s.full_text()
        );
    }

    #[test]
    fn a_refused_call_is_quoted_to_the_end_of_its_first_line() {
        let s = step(Scenario::ToolBadArgs, 3, &[]);
        assert_eq!(arguments_by_index(&s)[0].1, BAD_TOOL_ARGUMENTS);
        let told = r#"{"error":"Invalid input for tool get_spec: bad.\nError message: EOF"}"#;
        let s = step(Scenario::ToolBadArgs, 3, &[round(GET_SPEC, told)]);
        assert_eq!(s.finish, FinishReason::Stop);
        assert!(
            s.full_text()
                .starts_with("get_spec was refused: Invalid input for tool get_spec: bad."),
            "{}",
            s.full_text()
        );
        assert!(!s.full_text().contains("EOF"), "{}", s.full_text());
        let s = step(
            Scenario::ToolBadArgs,
            3,
            &[round(GET_SPEC, "plain\nsecond")],
        );
        assert!(s.full_text().starts_with("get_spec was refused: plain"));
        assert!(!s.full_text().contains("second"));
    }

    #[test]
    fn answers_quote_raw_results_that_are_not_json() {
        let s = step(
            Scenario::ToolError,
            3,
            &[round(GET_SPEC, "spec 999 not found")],
        );
        assert!(s.full_text().contains("spec 999 not found"));
        let s = step(Scenario::ToolChain, 3, &[round(LIST_SPECS, "<<garbage")]);
        assert_eq!(s.finish, FinishReason::Stop);
        assert!(s.full_text().contains("<<garbage"));
        let s = step(Scenario::CrashTool, 3, &[round(CRASH_TOOL, "runtime died")]);
        assert!(s.full_text().starts_with("__crash returned: runtime died"));
    }
}
