//! Cases about the API around the chat stream: health, the tool list, the rate limit.

use contract::api_error::ErrorCode;
use contract::scenario::Scenario;
use contract::tools::{CRASH_TOOL, GET_SPEC, LIST_SPECS, PANIC_TOOL, SEARCH_SPECS};
use serde_json::Value;

use crate::case_env::CaseEnv;
use crate::cases;
use crate::expect;
use sut_kit::client::{self, Answer};
use sut_kit::quote::shorten;

/// Chats allowed by the rate-limit case's instance (`--rate-limit 2/min`) before a 429.
pub const RATE_LIMIT_BURST: u32 = 2;

fn json_body(answer: &Answer) -> Result<Value, String> {
    serde_json::from_slice(&answer.body).map_err(|_| {
        format!(
            "the body is not JSON: {}",
            shorten(&String::from_utf8_lossy(&answer.body))
        )
    })
}

/// `GET {path}`, kept in `answers`; its JSON body when it answered 200.
async fn get_ok_json(
    env: &CaseEnv<'_>,
    path: &str,
    answers: &mut Vec<Answer>,
) -> Result<Value, String> {
    let answer = client::exchange(env.client.get(format!("{}{path}", env.base)))
        .await
        .map_err(|e| format!("{e:#}"))?;
    answers.push(answer.clone());
    if answer.status != 200 {
        return Err(format!("GET {path} answered {}", answer.status));
    }
    json_body(&answer)
}

/// `GET /health` answers 200 `{"status":"ok","backend":<name>}`.
pub async fn health(env: &CaseEnv<'_>, answers: &mut Vec<Answer>) -> Result<(), String> {
    let body = get_ok_json(env, "/health", answers).await?;
    if body["status"] != "ok" || body["backend"] != env.backend.as_str() {
        return Err(format!(
            "GET /health must be {{\"status\":\"ok\",\"backend\":{:?}}}; got {}",
            env.backend,
            shorten(&body.to_string())
        ));
    }
    Ok(())
}

/// `GET /api/tools` lists the three tools, each with a description and an object schema, and
/// no fault-injection tool unless the flag is given.
pub async fn tool_list(env: &CaseEnv<'_>, answers: &mut Vec<Answer>) -> Result<(), String> {
    let list: contract::tools::ToolList =
        serde_json::from_value(get_ok_json(env, "/api/tools", answers).await?)
            .map_err(|e| format!("GET /api/tools is not a tool list: {e}"))?;
    let names: Vec<&str> = list.tools.iter().map(|t| t.name.as_str()).collect();
    for want in [LIST_SPECS, GET_SPEC, SEARCH_SPECS] {
        if !names.contains(&want) {
            return Err(format!("GET /api/tools lacks {want}: {names:?}"));
        }
    }
    if let Some(fault) = names.iter().find(|n| [CRASH_TOOL, PANIC_TOOL].contains(n)) {
        return Err(format!(
            "{fault} is offered without --enable-fault-injection"
        ));
    }
    if let Some(t) = list
        .tools
        .iter()
        .find(|t| t.description.trim().is_empty() || t.input_schema["type"] != "object")
    {
        return Err(format!(
            "tool {} needs a description and an object input schema",
            t.name
        ));
    }
    Ok(())
}

/// On an instance limited to [`RATE_LIMIT_BURST`] chats a minute, the next chat gets 429 with
/// a `Retry-After` and the JSON error body.
pub async fn rate_limited(
    env: &CaseEnv<'_>,
    tag: &str,
    answers: &mut Vec<Answer>,
) -> Result<(), String> {
    let mut d = cases::directive(Scenario::Text, tag, env.quick);
    d.params.chunks = 1;
    let body = cases::single_turn(&format!("chat-{tag}"), d.render());
    for attempt in 1..=RATE_LIMIT_BURST + 1 {
        let answer = client::post_chat(&env.client, &env.base, &body)
            .await
            .map_err(|e| format!("{e:#}"))?;
        answers.push(answer.clone());
        if attempt <= RATE_LIMIT_BURST {
            if answer.status != 200 {
                return Err(format!(
                    "chat {attempt} of a burst of {RATE_LIMIT_BURST} answered {}",
                    answer.status
                ));
            }
            continue;
        }
        expect::error_answer(&answer, ErrorCode::RateLimited)?;
        let retry_after = answer
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if retry_after.is_none_or(|s| s == 0) {
            return Err(format!(
                "429 without a positive Retry-After: {:?}",
                answer.header("retry-after")
            ));
        }
    }
    Ok(())
}
