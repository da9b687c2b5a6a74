//! async-openai, the strict client the rust-only backend uses, reads every scenario whose
//! provider stream is well-formed without a single chunk error, tool loops included.

mod common;

use std::collections::BTreeMap;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CompletionUsage, CreateChatCompletionRequest, FinishReason,
    FunctionCall,
};
use contract::scenario::{
    BAD_TOOL_ARGUMENTS, Directive, KNOWN_SPEC_ID, MISSING_SPEC_ID, PARALLEL_SEARCH_QUERY, Scenario,
};
use contract::tools::{CRASH_TOOL, GET_SPEC, LIST_SPECS, PANIC_TOOL, SEARCH_SPECS};
use futures::StreamExt;
use mock_provider::script::text;
use serde_json::{Value, json};

/// The title the fake `get_spec` returns; the answers must quote it.
const SPEC_TITLE: &str = "Chat sidecar architecture";
const SEARCH_TITLE: &str = "Streaming transport";
const FIRST_LISTED_ID: &str = "003-first-in-list";
const TOOL_ERROR_TEXT: &str = "spec not found: 999-no-such-spec";
/// The first line of what a client tells the model about a call it could not parse.
const REFUSAL_TEXT: &str = "invalid input for get_spec";
const CRASH_TEXT: &str = "the JS runtime exited while running __crash";
const PANIC_TEXT: &str = "tool panicked: injected panic";

fn client(mock: &mock_provider::MockHandle) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(mock.base_url())
            .with_api_key("test-key"),
    )
}

/// What one streamed step produced.
#[derive(Debug, Default)]
struct Step {
    text: String,
    calls: BTreeMap<u32, (String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<CompletionUsage>,
    roles: usize,
}

async fn stream_step(
    client: &Client<OpenAIConfig>,
    messages: &[ChatCompletionRequestMessage],
) -> Step {
    let request = CreateChatCompletionRequest {
        model: "mock-gpt".into(),
        messages: messages.to_vec(),
        stream_options: Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        }),
        ..Default::default()
    };
    let mut stream = client
        .chat()
        .create_stream(request)
        .await
        .expect("stream opens");
    let mut step = Step::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("async-openai accepts every chunk");
        if let Some(usage) = chunk.usage {
            assert!(chunk.choices.is_empty(), "the usage chunk has no choices");
            step.usage = Some(usage);
        }
        for choice in chunk.choices {
            let delta = choice.delta;
            step.roles += usize::from(delta.role.is_some());
            if let Some(t) = delta.content {
                assert!(!t.is_empty(), "text chunks are never empty");
                step.text.push_str(&t);
            }
            for call in delta.tool_calls.unwrap_or_default() {
                let entry = step.calls.entry(call.index).or_default();
                if let Some(id) = call.id {
                    entry.0 = id;
                }
                if let Some(f) = call.function {
                    if let Some(name) = f.name {
                        entry.1 = name;
                    }
                    entry.2.push_str(&f.arguments.unwrap_or_default());
                }
            }
            if choice.finish_reason.is_some() {
                step.finish = choice.finish_reason;
            }
        }
    }
    step
}

/// Plays the tool side: plausible results for each call, as a backend's tools would return.
fn tool_result(name: &str, arguments: &Value) -> String {
    match name {
        GET_SPEC if arguments["id"] == MISSING_SPEC_ID => TOOL_ERROR_TEXT.to_owned(),
        GET_SPEC => json!({"id": arguments["id"], "title": SPEC_TITLE, "status": "complete"}).to_string(),
        SEARCH_SPECS => json!({"query": arguments["query"], "results": [{"id": "007-sse", "title": SEARCH_TITLE}]}).to_string(),
        LIST_SPECS => json!({"specs": [{"id": FIRST_LISTED_ID, "title": "First"}, {"id": "004-second", "title": "Second"}]}).to_string(),
        CRASH_TOOL => CRASH_TEXT.to_owned(),
        PANIC_TOOL => PANIC_TEXT.to_owned(),
        other => panic!("the mock asked for an unknown tool {other}"),
    }
}

/// Runs a conversation to its end; returns every step.
async fn converse(client: &Client<OpenAIConfig>, prompt: &str) -> Vec<Step> {
    let mut messages = vec![ChatCompletionRequestMessage::User(
        ChatCompletionRequestUserMessage::from(prompt),
    )];
    let mut steps = Vec::new();
    for _ in 0..contract::MAX_STEPS {
        let step = stream_step(client, &messages).await;
        assert_eq!(step.roles, 1, "exactly the first chunk carries the role");
        let usage = step
            .usage
            .clone()
            .expect("include_usage sends a usage chunk");
        assert_eq!(
            usage.total_tokens,
            usage.prompt_tokens + usage.completion_tokens
        );
        if step.finish != Some(FinishReason::ToolCalls) {
            assert_eq!(step.finish, Some(FinishReason::Stop));
            steps.push(step);
            return steps;
        }
        let calls: Vec<_> = step.calls.values().cloned().collect();
        messages.push(ChatCompletionRequestMessage::Assistant(
            ChatCompletionRequestAssistantMessage {
                tool_calls: Some(
                    calls
                        .iter()
                        .map(|(id, name, arguments)| {
                            ChatCompletionMessageToolCalls::Function(
                                ChatCompletionMessageToolCall {
                                    id: id.clone(),
                                    function: FunctionCall {
                                        name: name.clone(),
                                        arguments: arguments.clone(),
                                    },
                                },
                            )
                        })
                        .collect(),
                ),
                ..Default::default()
            },
        ));
        for (id, name, arguments) in &calls {
            // A call whose arguments do not parse is refused, as the AI SDK refuses it: the
            // model is told so, over more than one line.
            let content = match serde_json::from_str::<Value>(arguments) {
                Ok(arguments) => tool_result(name, &arguments),
                Err(e) => format!("{REFUSAL_TEXT}\n{e}"),
            };
            messages.push(ChatCompletionRequestMessage::Tool(
                ChatCompletionRequestToolMessage {
                    content: content.into(),
                    tool_call_id: id.clone(),
                },
            ));
        }
        steps.push(step);
    }
    panic!(
        "the conversation did not end within {} steps",
        contract::MAX_STEPS
    );
}

fn prompt(scenario: Scenario) -> String {
    // Short delays keep the suite fast; the schedule itself is tested in timeline.rs.
    let mut d = Directive::new(scenario);
    d.params.ttft_ms = 2;
    d.params.gap_ms = 1;
    if scenario == Scenario::Stall {
        d.params.stall_ms = 20;
    }
    format!("Please answer. {}", d.render())
}

fn call_names(step: &Step) -> Vec<&str> {
    step.calls
        .values()
        .map(|(_, name, _)| name.as_str())
        .collect()
}

#[tokio::test]
async fn every_well_formed_scenario_parses_and_keeps_its_promise() {
    let mock = common::start().await;
    let client = client(&mock);
    for scenario in [
        Scenario::Text,
        Scenario::ToolSingle,
        Scenario::ToolParallel,
        Scenario::ToolChain,
        Scenario::ToolError,
        Scenario::ToolBadArgs,
        Scenario::Long,
        Scenario::Unicode,
        Scenario::Stall,
        Scenario::CrashTool,
        Scenario::PanicTool,
    ] {
        let steps = converse(&client, &prompt(scenario)).await;
        // The catalogue counts one step for the fault-injection scenarios (the backend is
        // expected to fail in it); a client that survives the tool gets the quoting answer.
        let expected_steps = match scenario {
            Scenario::CrashTool | Scenario::PanicTool => 2,
            _ => scenario.info().steps,
        };
        assert_eq!(steps.len() as u32, expected_steps, "{scenario}: step count");
        let answer = &steps.last().expect("at least one step").text;
        let contains = |needle: &str| {
            assert!(
                answer.contains(needle),
                "{scenario}: {answer:?} lacks {needle:?}"
            )
        };
        match scenario {
            Scenario::Text | Scenario::Stall => assert_eq!(*answer, text::words(20).concat()),
            Scenario::Long => assert_eq!(*answer, text::words(1000).concat()),
            Scenario::Unicode => {
                assert_eq!(*answer, text::unicode(20).concat());
                contains("👩‍👩‍👧‍👦");
                contains("e\u{301}");
            }
            Scenario::ToolSingle => {
                assert_eq!(call_names(&steps[0]), [GET_SPEC]);
                assert_eq!(
                    steps[0].calls[&0].2,
                    json!({"id": KNOWN_SPEC_ID}).to_string()
                );
                contains(&format!("\"{SPEC_TITLE}\""));
            }
            Scenario::ToolParallel => {
                assert_eq!(call_names(&steps[0]), [GET_SPEC, SEARCH_SPECS]);
                assert_eq!(
                    steps[0].calls[&1].2,
                    json!({"query": PARALLEL_SEARCH_QUERY}).to_string()
                );
                contains(SPEC_TITLE);
                contains(SEARCH_TITLE);
            }
            Scenario::ToolChain => {
                assert_eq!(call_names(&steps[0]), [LIST_SPECS]);
                assert_eq!(
                    steps[1].calls[&0].2,
                    json!({"id": FIRST_LISTED_ID}).to_string()
                );
                contains(SPEC_TITLE);
            }
            Scenario::ToolError => {
                assert_eq!(
                    steps[0].calls[&0].2,
                    json!({"id": MISSING_SPEC_ID}).to_string()
                );
                contains(TOOL_ERROR_TEXT);
            }
            Scenario::ToolBadArgs => {
                assert_eq!(steps[0].calls[&0].2, BAD_TOOL_ARGUMENTS);
                contains(&format!("get_spec was refused: {REFUSAL_TEXT}"));
                assert!(
                    !answer.contains("EOF"),
                    "{answer:?} quotes past the first line"
                );
            }
            Scenario::CrashTool => {
                assert_eq!(call_names(&steps[0]), [CRASH_TOOL]);
                contains(CRASH_TEXT);
            }
            Scenario::PanicTool => {
                assert_eq!(call_names(&steps[0]), [PANIC_TOOL]);
                contains(PANIC_TEXT);
            }
            _ => unreachable!("not in the list"),
        }
        let ids: Vec<&String> = steps
            .iter()
            .flat_map(|s| s.calls.values().map(|c| &c.0))
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            ids.len(),
            unique.len(),
            "{scenario}: tool call ids are unique"
        );
    }
    mock.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_runs_of_a_scenario_say_the_same_thing() {
    let mock = common::start().await;
    let client = client(&mock);
    let first = converse(&client, &prompt(Scenario::ToolParallel)).await;
    let second = converse(&client, &prompt(Scenario::ToolParallel)).await;
    assert_eq!(first.last().unwrap().text, second.last().unwrap().text);
    assert_eq!(first[0].calls, second[0].calls);
}

#[tokio::test]
async fn non_streamed_answers_parse_too() {
    let mock = common::start().await;
    let client = client(&mock);
    let ask = |text: String| CreateChatCompletionRequest {
        model: "mock-gpt".into(),
        messages: vec![ChatCompletionRequestMessage::User(
            ChatCompletionRequestUserMessage::from(text.as_str()),
        )],
        ..Default::default()
    };
    let answer = client
        .chat()
        .create(ask(prompt(Scenario::Text)))
        .await
        .expect("a completion");
    assert_eq!(answer.object, "chat.completion");
    assert_eq!(answer.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        answer.choices[0].message.content.as_deref(),
        Some(text::words(20).concat().as_str())
    );
    let usage = answer.usage.expect("usage");
    assert_eq!(usage.completion_tokens, 20);

    let tools = client
        .chat()
        .create(ask(prompt(Scenario::ToolParallel)))
        .await
        .expect("a completion");
    assert_eq!(
        tools.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
    let calls = tools.choices[0]
        .message
        .tool_calls
        .clone()
        .expect("tool calls");
    let names: Vec<String> = calls
        .iter()
        .map(|c| match c {
            ChatCompletionMessageToolCalls::Function(f) => f.function.name.clone(),
            ChatCompletionMessageToolCalls::Custom(_) => panic!("only function calls"),
        })
        .collect();
    assert_eq!(names, [GET_SPEC, SEARCH_SPECS]);
}
