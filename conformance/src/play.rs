//! Playing one case against a running backend and judging it.

use contract::scenario::{Directive, Expected, Scenario};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_TYPE};
use serde_json::Value;

use crate::api_cases;
use crate::case_env::CaseEnv;
use crate::cases::{self, BadInput, Case, CaseKind};
use crate::expect;
use sut_kit::checker::{StreamReading, read_stream};
use sut_kit::client::{self, Answer};
use sut_kit::oracle::OracleReading;
use sut_kit::quote::shorten;

/// What a case concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Failed(String),
    Unsupported(String),
}

/// A verdict with the answers it was reached on (saved when the case failed).
#[derive(Debug)]
pub struct Played {
    pub verdict: Verdict,
    pub answers: Vec<Answer>,
}

/// A stream answer read both ways.
struct Read {
    reading: StreamReading,
    oracle: OracleReading,
}

/// Plays `case` (not a fault case: those need their own instance, see [`crate::suite`]).
pub async fn play(case: &Case, env: &CaseEnv<'_>, tag: &str) -> Played {
    let mut answers = Vec::new();
    let verdict = match run(case, env, tag, &mut answers).await {
        Ok(()) => Verdict::Ok,
        Err(NotOk::Failed(reason)) => Verdict::Failed(reason),
        Err(NotOk::Unsupported(reason)) => Verdict::Unsupported(reason),
    };
    Played { verdict, answers }
}

enum NotOk {
    Failed(String),
    Unsupported(String),
}

impl From<String> for NotOk {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

async fn run(
    case: &Case,
    env: &CaseEnv<'_>,
    tag: &str,
    answers: &mut Vec<Answer>,
) -> Result<(), NotOk> {
    match &case.kind {
        CaseKind::Scenario(s) => {
            let d = cases::directive(*s, tag, env.quick);
            turn(env, &d, vec![], answers).await?;
            Ok(())
        }
        CaseKind::RetryRecovers => {
            let mut d = cases::directive(Scenario::Http429, tag, env.quick);
            d.params.fail_times = Some(1);
            match turn(env, &d, vec![], answers).await {
                Ok(_) => Ok(()),
                Err(reason) => {
                    // Retrying is a choice a backend documents (the AI SDK's default is 2
                    // retries, `maxRetries: 0` is as valid): one attempt is a missing feature.
                    let attempts = env.mock.timeline(tag).await.len();
                    if attempts == 1 {
                        Err(NotOk::Unsupported(format!(
                            "the backend does not retry a provider 429 (one attempt): {reason}"
                        )))
                    } else {
                        Err(NotOk::Failed(format!(
                            "after {attempts} attempts: {reason}"
                        )))
                    }
                }
            }
        }
        CaseKind::MultiTurn(s) => {
            let first = cases::directive(*s, tag, env.quick);
            let read = turn(env, &first, vec![], answers)
                .await
                .map_err(|e| format!("turn 1: {e}"))?;
            let user = user_json(&first);
            // What useChat sends back: the message the AI SDK built, tool parts included.
            let assistant = read
                .oracle
                .message
                .clone()
                .ok_or_else(|| "turn 1 built no assistant message".to_owned())?;
            let follow_tag = format!("{tag}.2");
            let follow = cases::follow_up(&follow_tag);
            turn(env, &follow, vec![user, assistant], answers)
                .await
                .map_err(|e| format!("turn 2 (history with the assistant's tool parts): {e}"))?;
            Ok(())
        }
        CaseKind::BadInput(b) => {
            let answer = bad_input(env, *b).await?;
            answers.push(answer);
            Ok(expect::error_answer(&answers[0], b.code())?)
        }
        CaseKind::Headers => {
            let d = cases::directive(Scenario::Text, tag, env.quick);
            let body = cases::chat_request(&format!("chat-{tag}"), vec![user_json(&d)]);
            let request = env
                .client
                .post(format!("{}/api/chat", env.base))
                .header(ACCEPT_ENCODING, "gzip, deflate, br, zstd")
                .json(&body);
            let answer = client::exchange(request)
                .await
                .map_err(|e| format!("{e:#}"))?;
            answers.push(answer);
            Ok(expect::stream_headers(&answers[0])?)
        }
        CaseKind::Health => Ok(api_cases::health(env, answers).await?),
        CaseKind::ToolList => Ok(api_cases::tool_list(env, answers).await?),
        CaseKind::RateLimited => Ok(api_cases::rate_limited(env, tag, answers).await?),
        CaseKind::Fault(_) => Err(NotOk::Failed(
            "a fault case must run on its own instance".into(),
        )),
    }
}

fn user_json(d: &Directive) -> Value {
    let id = format!("u-{}", d.params.tag.as_deref().unwrap_or("0"));
    serde_json::to_value(cases::user_message(&id, d.render())).unwrap_or(Value::Null)
}

/// One request of a conversation (`history` + a user message carrying `d`), judged on the
/// stream rules and on the scenario's promise.
async fn turn(
    env: &CaseEnv<'_>,
    d: &Directive,
    mut history: Vec<Value>,
    answers: &mut Vec<Answer>,
) -> Result<Read, String> {
    let tag = d.params.tag.clone().unwrap_or_default();
    history.push(user_json(d));
    let body = cases::chat_request(&format!("chat-{tag}"), history);
    let answer = client::post_chat(&env.client, &env.base, &body)
        .await
        .map_err(|e| format!("{e:#}"))?;
    answers.push(answer.clone());
    expect::stream_headers(&answer)?;
    if let Some(e) = &answer.transport_error {
        return Err(format!("the connection broke mid-stream: {e}"));
    }
    let read = read_both(env, &answer.body).await?;
    expect::protocol(&read.reading, &read.oracle)?;
    let expected = if d.scenario == Scenario::Http429 && d.params.fail_times.is_some() {
        Expected::Completes
    } else {
        d.scenario.info().expected
    };
    match expected {
        Expected::Completes => {
            let timeline = env.mock.timeline(&tag).await;
            let text = env.mock.expected_text(d);
            expect::completes(d, &read.reading, &timeline, text.as_deref(), env.sdk_forms)?;
            tool_outputs_match_rest(env, &read.reading).await?;
        }
        Expected::EndsInError => {
            let want = expect::upstream_error_text(d.scenario, cases::IDLE_TIMEOUT_S);
            expect::ends_in_error(&read.reading, want.as_deref())?;
        }
        Expected::BackendFault => {}
    }
    Ok(read)
}

/// A tool's output is exactly the body of the REST route doing the same operation
/// (docs/architecture.md), so the model sees what a REST client would.
async fn tool_outputs_match_rest(env: &CaseEnv<'_>, reading: &StreamReading) -> Result<(), String> {
    use client::url_encode;
    for part in &reading.parts {
        if part["state"] != "output-available" {
            continue;
        }
        let input = &part["input"];
        let path = match part["type"].as_str().unwrap_or("") {
            "tool-get_spec" => format!(
                "/api/specs/{}",
                url_encode(input["id"].as_str().unwrap_or(""))
            ),
            "tool-search_specs" => format!(
                "/api/search?q={}",
                url_encode(input["query"].as_str().unwrap_or(""))
            ),
            "tool-list_specs" => match input["status"].as_str() {
                Some(status) => format!("/api/specs?status={}", url_encode(status)),
                None => "/api/specs".to_owned(),
            },
            _ => continue,
        };
        let rest = client::get_json(&env.client, &env.base, &path)
            .await
            .map_err(|e| format!("{e:#}"))?;
        if rest != part["output"] {
            return Err(format!(
                "the {} output differs from GET {path}: {} vs {}",
                part["type"].as_str().unwrap_or("tool"),
                sut_kit::quote::shorten(&part["output"].to_string()),
                sut_kit::quote::shorten(&rest.to_string())
            ));
        }
    }
    Ok(())
}

async fn read_both(env: &CaseEnv<'_>, body: &[u8]) -> Result<Read, String> {
    let reading = read_stream(body);
    let oracle = env
        .oracle
        .read(body)
        .await
        .map_err(|e| format!("oracle: {e:#}"))?;
    Ok(Read { reading, oracle })
}

async fn bad_input(env: &CaseEnv<'_>, b: BadInput) -> Result<Answer, String> {
    let chat = format!("{}/api/chat", env.base);
    let c = &env.client;
    let json_post = |body: Vec<u8>| {
        c.post(&chat)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    };
    let request = match b {
        BadInput::MalformedJson => json_post(br#"{"id":"x","messages":["#.to_vec()),
        BadInput::InvalidMessages => json_post(
            br#"{"id":"x","messages":[{"id":"m1","role":"wizard","parts":"none"}],"trigger":"submit-message"}"#
                .to_vec(),
        ),
        BadInput::NoMessages => json_post(br#"{"id":"x","messages":[]}"#.to_vec()),
        BadInput::UnknownRoute => c.get(format!("{}/api/no-such-route", env.base)),
        BadInput::WrongMethod => c.get(&chat),
        BadInput::UnknownSpec => c.get(format!(
            "{}/api/specs/{}",
            env.base,
            contract::scenario::MISSING_SPEC_ID
        )),
        BadInput::TooLarge => {
            let text = "x".repeat(contract::MAX_BODY_BYTES + 1);
            let body = cases::single_turn("too-large", text);
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            return client::post_oversized(&env.base, "/api/chat", &bytes)
                .await
                .map_err(|e| format!("{e:#}"));
        }
        BadInput::NotJson => c
            .post(&chat)
            .header(CONTENT_TYPE, "text/plain")
            .body("[[scenario:text]]"),
    };
    client::exchange(request)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// The fault tool ran, with fault injection on, and its effect reached the client: a panic as
/// the tool error `tool panicked: ...` (docs/architecture.md), a crash as a tool error or an
/// `error` chunk. "unknown tool" means the flag did not enable the fault tools.
fn fault_trace(scenario: Scenario, reading: &StreamReading) -> Result<(), String> {
    let tool = match scenario {
        Scenario::PanicTool => contract::tools::PANIC_TOOL,
        _ => contract::tools::CRASH_TOOL,
    };
    let part = reading.parts.iter().find(|p| {
        p["type"] == format!("tool-{tool}").as_str()
            || (p["type"] == "dynamic-tool" && p["toolName"] == tool)
    });
    let error_text = part.and_then(|p| p["errorText"].as_str()).unwrap_or("");
    if error_text.starts_with("unknown tool") {
        return Err(format!(
            "{tool} is unknown with --enable-fault-injection: {error_text}"
        ));
    }
    match scenario {
        Scenario::PanicTool if !error_text.contains("panicked") => Err(format!(
            "{tool} must end as the tool error `tool panicked: ...`; got {}",
            part.map_or_else(
                || "no such tool call".to_owned(),
                |p| shorten(&p.to_string())
            )
        )),
        _ if error_text.is_empty() && reading.errors.is_empty() => Err(format!(
            "the fault left no trace: no tool error for {tool} and no error chunk"
        )),
        _ => Ok(()),
    }
}

/// Judges a fault case's answer. A fault that takes the backend down is what the architecture
/// does, measured by the crash study: UNSUPPORTED with what happened, never FAILED. A backend
/// that survives must still answer with a well-formed stream.
pub async fn judge_fault(
    env: &CaseEnv<'_>,
    scenario: Scenario,
    answer: Result<Answer, String>,
    survived: bool,
) -> Verdict {
    let fate = if survived {
        "the backend kept running"
    } else {
        "the backend process died"
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return Verdict::Unsupported(format!("no answer ({e}); {fate}")),
    };
    if answer.status != 200 {
        return Verdict::Unsupported(format!("answered HTTP {}; {fate}", answer.status));
    }
    if let Some(e) = &answer.transport_error {
        return Verdict::Unsupported(format!("the stream broke off ({e}); {fate}"));
    }
    let read = match read_both(env, &answer.body).await {
        Ok(r) => r,
        Err(e) => return Verdict::Failed(e),
    };
    if let Err(e) = expect::protocol(&read.reading, &read.oracle) {
        return if survived {
            Verdict::Failed(e)
        } else {
            Verdict::Unsupported(format!("{e}; {fate}"))
        };
    }
    match fault_trace(scenario, &read.reading) {
        Ok(()) => {}
        Err(e) => return Verdict::Failed(e),
    }
    Verdict::Ok
}
