//! Every scenario of the catalogue through the rust-only backend, read with the contract
//! crate's parser: content, tool parts (inputs and outputs), step boundaries and finish.

mod common;

use common::{Expect, Options, Stack, directive};
use contract::error_text;
use contract::scenario::{
    BAD_TOOL_ARGUMENTS, CATALOGUE, Expected, KNOWN_SPEC_ID, MISSING_SPEC_ID, Scenario,
};
use contract::tools::ToolOutcome;
use mock_provider::script::text;
use serde_json::{Value, json};

async fn tool_output(stack: &Stack, name: &str, input: Value) -> ToolOutcome {
    stack.toolbox.execute(name, input).await
}

fn ok_output(outcome: ToolOutcome) -> Value {
    match outcome {
        ToolOutcome::Ok { output } => output,
        other => panic!("expected an ok tool outcome, got {other:?}"),
    }
}

fn title(output: &Value) -> String {
    output
        .pointer("/title")
        .or_else(|| output.pointer("/spec/title"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no title in {output}"))
        .to_owned()
}

#[tokio::test]
async fn text_long_and_unicode_forward_every_chunk_as_one_delta() {
    let stack = Stack::start(Options::default()).await;
    for (name, chunks, expected) in [
        ("text", 20, text::words(20)),
        ("long", 1000, text::words(1000)),
        ("unicode", 20, text::unicode(20)),
    ] {
        let answer = stack.chat(&directive(name, "")).await;
        answer.assert_completes(1, "stop");
        assert_eq!(
            answer.text_deltas(),
            expected,
            "{name}: deltas merged or split"
        );
        assert_eq!(answer.text_deltas().len(), chunks);
        assert_eq!(answer.text(), expected.concat(), "{name}");
        assert_eq!(
            answer.types()[..3],
            ["start", "start-step", "text-start"],
            "{name}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn tool_single_calls_get_spec_and_quotes_its_title() {
    let stack = Stack::start(Options::default()).await;
    let answer = stack.chat(&directive("tool-single", "")).await;
    answer.assert_completes(2, "stop");
    let expected = ok_output(tool_output(&stack, "get_spec", json!({"id": KNOWN_SPEC_ID})).await);
    let tools = answer.tool_parts();
    assert_eq!(
        tools,
        [json!({
            "type": "tool-get_spec",
            "toolCallId": "call_0_0",
            "state": "output-available",
            "input": {"id": KNOWN_SPEC_ID},
            "output": expected,
        })]
    );
    assert!(
        answer.text().contains(&title(&expected)),
        "{}",
        answer.text()
    );
    let parts = &answer.parts;
    let kinds: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["step-start", "tool-get_spec", "step-start", "text"]);
    stack.stop().await;
}

#[tokio::test]
async fn tool_parallel_runs_both_calls_and_quotes_both_results() {
    let stack = Stack::start(Options::default()).await;
    let answer = stack.chat(&directive("tool-parallel", "")).await;
    answer.assert_completes(2, "stop");
    let spec = ok_output(tool_output(&stack, "get_spec", json!({"id": KNOWN_SPEC_ID})).await);
    let search =
        ok_output(tool_output(&stack, "search_specs", json!({"query": "streaming"})).await);
    assert_eq!(
        answer.tool_parts(),
        [
            json!({"type": "tool-get_spec", "toolCallId": "call_0_0", "state": "output-available",
                   "input": {"id": KNOWN_SPEC_ID}, "output": spec}),
            json!({"type": "tool-search_specs", "toolCallId": "call_0_1", "state": "output-available",
                   "input": {"query": "streaming"}, "output": search}),
        ]
    );
    assert!(answer.text().contains(&title(&spec)), "{}", answer.text());
    // The argument fragments arrived interleaved and each was forwarded as it came.
    assert!(
        answer.count("tool-input-delta") >= 6,
        "{:?}",
        answer.types()
    );
    stack.stop().await;
}

#[tokio::test]
async fn tool_chain_takes_three_steps() {
    let stack = Stack::start(Options::default()).await;
    let answer = stack.chat(&directive("tool-chain", "")).await;
    answer.assert_completes(3, "stop");
    let tools = answer.tool_parts();
    assert_eq!(tools.len(), 2, "{tools:?}");
    assert_eq!(tools[0]["type"], "tool-list_specs");
    assert_eq!(tools[0]["input"], json!({}));
    let listed = ok_output(tool_output(&stack, "list_specs", json!({})).await);
    assert_eq!(tools[0]["output"], listed);
    assert_eq!(tools[1]["type"], "tool-get_spec");
    assert_eq!(tools[1]["state"], "output-available");
    let chained_id = tools[1]["input"]["id"].as_str().expect("an id").to_owned();
    let spec = ok_output(tool_output(&stack, "get_spec", json!({"id": chained_id})).await);
    assert_eq!(tools[1]["output"], spec);
    assert!(answer.text().contains(&title(&spec)), "{}", answer.text());
    stack.stop().await;
}

#[tokio::test]
async fn a_call_whose_arguments_do_not_parse_is_refused_and_the_model_told_why() {
    let stack = Stack::start(Options::default()).await;
    let answer = stack.chat(&directive("tool-bad-args", "")).await;
    answer.assert_completes(2, "stop");
    // The call keeps its arguments as they came; the client reads the documented phrase.
    assert_eq!(
        answer.tool_parts(),
        [
            json!({"type": "tool-get_spec", "toolCallId": "call_0_0", "state": "output-error",
                "input": BAD_TOOL_ARGUMENTS, "errorText": error_text::invalid_tool_input("get_spec")})
        ]
    );
    // The model is told the AI SDK's refusal; the mock quotes its first line.
    assert!(
        answer.text().contains(
            "get_spec was refused: AI_InvalidToolInputError: Invalid input for tool get_spec"
        ),
        "{}",
        answer.text()
    );
    stack.stop().await;
}

#[tokio::test]
async fn tool_error_is_a_result_the_model_quotes() {
    let stack = Stack::start(Options::default()).await;
    let answer = stack.chat(&directive("tool-error", "")).await;
    answer.assert_completes(2, "stop");
    let message = match tool_output(&stack, "get_spec", json!({"id": MISSING_SPEC_ID})).await {
        ToolOutcome::Error { message } => message,
        other => panic!("a missing spec must be a tool error, got {other:?}"),
    };
    assert_eq!(
        answer.tool_parts(),
        [
            json!({"type": "tool-get_spec", "toolCallId": "call_0_0", "state": "output-error",
                "input": {"id": MISSING_SPEC_ID}, "errorText": message})
        ]
    );
    // The model reads a tool error as `{"error": text}` (ai@7 with @ai-sdk/openai@4).
    assert!(
        answer
            .text()
            .contains(&json!({ "error": message }).to_string()),
        "{}",
        answer.text()
    );
    stack.stop().await;
}

#[tokio::test]
async fn fault_scenarios_end_with_one_error_chunk_then_done() {
    let stack = Stack::start(Options::idle(std::time::Duration::from_millis(300))).await;
    let cases = [
        ("http-429", "retry_after_s=0", "provider returned HTTP 429"),
        ("http-500", "", "provider returned HTTP 500"),
        (
            "malformed-chunk",
            "fail_at=5",
            "provider sent a malformed chunk",
        ),
        (
            "truncated",
            "fail_at=5",
            "provider stream ended unexpectedly",
        ),
        (
            "stall",
            "fail_at=5 stall_ms=3000",
            "provider sent nothing for 0.3 s",
        ),
    ];
    for (name, extra, error) in cases {
        let tag = format!("fault-{name}");
        let answer = stack
            .chat(&directive(name, &format!("{extra} tag={tag}")))
            .await;
        answer.assert_ends_in_error(error);
        let deltas = answer.text_deltas();
        match name {
            "http-429" | "http-500" => {
                assert_eq!(answer.types(), ["start", "error"], "{name}");
                // The AI SDK's default: two retries after the first attempt.
                let attempts = stack.mock.timeline().tagged(&tag).count();
                assert_eq!(attempts, 3, "{name}: attempts");
            }
            _ => assert_eq!(
                deltas,
                text::words(20)[..5],
                "{name}: deltas before the fault"
            ),
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn crash_and_panic_tools_are_tool_errors_and_the_answer_goes_on() {
    let stack = Stack::start(Options {
        fault_injection: true,
        ..Options::default()
    })
    .await;
    let crash = stack.chat(&directive("crash-tool", "")).await;
    crash.assert_completes(2, "stop");
    let tools = crash.tool_parts();
    assert_eq!(tools[0]["type"], "tool-__crash");
    assert_eq!(tools[0]["state"], "output-error");
    let crash_text = tools[0]["errorText"].as_str().unwrap();
    assert!(crash_text.contains("no JavaScript runtime"), "{crash_text}");
    assert!(crash.text().contains(crash_text), "the model saw the error");

    let panic = stack.chat(&directive("panic-tool", "")).await;
    panic.assert_completes(2, "stop");
    let tools = panic.tool_parts();
    assert_eq!(tools[0]["type"], "tool-__panic");
    assert_eq!(tools[0]["state"], "output-error");
    let panic_text = tools[0]["errorText"].as_str().unwrap();
    assert!(panic_text.starts_with("tool panicked: "), "{panic_text}");
    assert!(panic.text().contains(panic_text), "the model saw the error");
    stack.stop().await;
}

#[tokio::test]
async fn without_fault_injection_the_fault_tools_are_unknown_tools() {
    let stack = Stack::start(Options::default()).await;
    let answer = stack.chat(&directive("crash-tool", "")).await;
    answer.assert_completes(2, "stop");
    assert_eq!(
        answer.tool_parts(),
        // The part stays static, as `tool-input-start` made it, and keeps its input (ai@7).
        [
            json!({"type": "tool-__crash", "toolCallId": "call_0_0", "state": "output-error",
                "input": {}, "errorText": "unknown tool: __crash"})
        ]
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_conversation_with_earlier_tool_answers_goes_on() {
    let stack = Stack::start(Options::default()).await;
    let first_text = directive("tool-parallel", "");
    let first = stack.chat(&first_text).await;
    first.assert_completes(2, "stop");
    // The mock counts tool rounds since the last user message: a correctly converted history
    // makes the second turn start again at step 0.
    let body = common::second_turn_body(&first_text, &first, &directive("tool-single", ""));
    let second = stack.chat_body(&body).await;
    second.assert_completes(2, "stop");
    assert_eq!(second.tool_parts().len(), 1);
    // A history whose last tool call never got its output (the client stopped mid-answer) is
    // not fatal: the incomplete call is left out.
    let mut cut = body.clone();
    let parts = cut["messages"][1]["parts"].as_array_mut().unwrap();
    parts.truncate(2);
    parts[1]["state"] = json!("input-available");
    parts[1].as_object_mut().unwrap().remove("output");
    stack.chat_body(&cut).await.assert_completes(2, "stop");
    stack.stop().await;
}

/// Guards the table above against a scenario added to the catalogue without a test here.
#[test]
fn every_catalogue_scenario_is_covered() {
    let covered = [
        Scenario::Text,
        Scenario::Long,
        Scenario::Unicode,
        Scenario::ToolSingle,
        Scenario::ToolParallel,
        Scenario::ToolChain,
        Scenario::ToolError,
        Scenario::ToolBadArgs,
        Scenario::Http429,
        Scenario::Http500,
        Scenario::MalformedChunk,
        Scenario::Truncated,
        Scenario::Stall,
        Scenario::CrashTool,
        Scenario::PanicTool,
    ];
    for info in CATALOGUE {
        assert!(
            covered.contains(&info.scenario),
            "{} has no test",
            info.name
        );
        if info.expected == Expected::EndsInError {
            assert!(info.scenario.is_fault());
        }
    }
}
