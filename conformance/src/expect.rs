//! Judging an answer: the stream's rules, agreement with the AI SDK's reading, and what the
//! scenario promises (content, tool calls, steps, finish reason, 1:1 text-delta mapping).

use contract::api_error::{ErrorBody, ErrorCode};
use contract::error_text;
use contract::scenario::{
    BAD_TOOL_ARGUMENTS, Directive, KNOWN_SPEC_ID, MISSING_SPEC_ID, PARALLEL_SEARCH_QUERY, Scenario,
};
use contract::timeline::RequestTimeline;
use contract::tools::{GET_SPEC, LIST_SPECS, SEARCH_SPECS};
use contract::ui_chunk::FinishReason;
use serde_json::{Value, json};

use sut_kit::checker::StreamReading;
use sut_kit::client::Answer;
use sut_kit::message::{first_difference, project};
use sut_kit::oracle::OracleReading;
use sut_kit::quote::shorten;

/// The headers docs/design.md#the-chat-stream fixes for a UI message stream, as (name, required value).
const STREAM_HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/event-stream"),
    ("x-vercel-ai-ui-message-stream", "v1"),
    ("x-accel-buffering", "no"),
    ("cache-control", "no-cache"),
];

/// A 200 stream with the fixed headers and no compression.
pub fn stream_headers(answer: &Answer) -> Result<(), String> {
    if answer.status != 200 {
        return Err(format!(
            "HTTP {} instead of 200: {}",
            answer.status,
            shorten(&String::from_utf8_lossy(&answer.body))
        ));
    }
    for (name, want) in STREAM_HEADERS {
        match answer.header(name) {
            Some(v) if v.split(';').next().is_some_and(|v| v.trim() == *want) => {}
            Some(v) => return Err(format!("header {name}: {v:?}, expected {want:?}")),
            None => return Err(format!("header {name} is missing (expected {want:?})")),
        }
    }
    match answer.header("content-encoding") {
        None | Some("identity") => Ok(()),
        Some(enc) => Err(format!(
            "the stream is compressed (content-encoding: {enc}), which buffers frames"
        )),
    }
}

/// The stream obeys the client's rules, and the Rust and AI SDK readings agree.
pub fn protocol(reading: &StreamReading, oracle: &OracleReading) -> Result<(), String> {
    reading.conforms()?;
    // The SDK reports error chunks verbatim; anything else it reports is a rule it enforced.
    let rejected: Vec<&String> = oracle
        .errors
        .iter()
        .filter(|e| !reading.errors.contains(e))
        .collect();
    if let Some(e) = rejected.first() {
        return Err(format!("the AI SDK client rejected the stream: {e}"));
    }
    if oracle.done != reading.done {
        return Err(format!(
            "readings differ on [DONE]: Rust {}, the AI SDK {}",
            reading.done, oracle.done
        ));
    }
    if oracle.chunk_types != reading.chunk_types() {
        return Err(format!(
            "readings differ on the chunks: Rust {:?}, the AI SDK {:?}",
            shorten(&reading.chunk_types().join(",")),
            shorten(&oracle.chunk_types.join(","))
        ));
    }
    match first_difference(&reading.parts, &project(&oracle.parts())) {
        Some(diff) => Err(format!("the final messages differ: {diff}")),
        None => Ok(()),
    }
}

/// The client text docs/architecture.md#error-text fixes for an upstream fault, the same in
/// every backend (`contract::error_text`).
pub fn upstream_error_text(scenario: Scenario, idle_timeout_s: u64) -> Option<String> {
    Some(match scenario {
        Scenario::Http429 => error_text::provider_status(429),
        Scenario::Http500 => error_text::provider_status(500),
        Scenario::MalformedChunk => error_text::PROVIDER_MALFORMED.to_owned(),
        Scenario::Truncated => error_text::PROVIDER_TRUNCATED.to_owned(),
        Scenario::Stall => error_text::provider_idle(idle_timeout_s),
        _ => return None,
    })
}

/// The upstream fault ended the stream with exactly one `error` chunk, last, carrying the
/// agreed text (and [DONE] after it, which [`protocol`] checked).
pub fn ends_in_error(reading: &StreamReading, expected_text: Option<&str>) -> Result<(), String> {
    let Some(text) = reading.errors.first() else {
        return Err(format!(
            "expected an `error` chunk for the upstream fault; the stream ended with finish reason {:?}",
            reading.finish_reason
        ));
    };
    if reading.errors.len() > 1 {
        return Err(format!(
            "{} `error` chunks; an upstream fault ends the stream with one",
            reading.errors.len()
        ));
    }
    let last = reading
        .chunks
        .last()
        .map(|c| c.type_name().to_owned())
        .unwrap_or_default();
    if last != "error" {
        return Err(format!(
            "`{last}` follows the `error` chunk; the error must be the last chunk"
        ));
    }
    match expected_text {
        Some(want) if text != want => Err(format!("errorText {text:?}, expected {want:?}")),
        _ if text.trim().is_empty() => Err("the `error` chunk has an empty errorText".into()),
        _ => Ok(()),
    }
}

/// The answer completed as the scenario promises.
pub fn completes(
    directive: &Directive,
    reading: &StreamReading,
    timeline: &[RequestTimeline],
    expected_text: Option<&str>,
    forms: SdkForms,
) -> Result<(), String> {
    if let Some(e) = reading.errors.first() {
        return Err(format!("unexpected error chunk: {}", shorten(e)));
    }
    if reading.finish_reason != Some(FinishReason::Stop) {
        return Err(format!(
            "finish reason {:?}, expected stop",
            reading.finish_reason
        ));
    }
    let steps = directive.scenario.info().steps as usize;
    if reading.steps() != steps {
        return Err(format!("{} steps, expected {steps}", reading.steps()));
    }
    one_delta_per_chunk(reading, timeline)?;
    if let Some(want) = expected_text
        && reading.text() != want
    {
        return Err(format!(
            "the text differs from what the provider sent: got {:?}, expected {:?}",
            shorten(&reading.text()),
            shorten(want)
        ));
    }
    tools(directive.scenario, reading, forms)
}

/// Each provider text chunk became exactly one text-delta, step by step.
fn one_delta_per_chunk(
    reading: &StreamReading,
    timeline: &[RequestTimeline],
) -> Result<(), String> {
    let served: Vec<&RequestTimeline> = timeline.iter().filter(|r| r.status == 200).collect();
    if served.len() != reading.steps() {
        return Err(format!(
            "the provider served {} requests for {} steps",
            served.len(),
            reading.steps()
        ));
    }
    for (i, (request, deltas)) in served.iter().zip(&reading.text_deltas_per_step).enumerate() {
        let sent = request.text_chunks().count();
        if sent != *deltas {
            return Err(format!(
                "step {}: the provider sent {sent} text chunks, the stream has {deltas} text-deltas (must be 1:1)",
                i + 1
            ));
        }
    }
    Ok(())
}

fn tool_parts(reading: &StreamReading) -> Vec<&Value> {
    reading
        .parts
        .iter()
        .filter(|p| p["type"].as_str().is_some_and(|t| t.starts_with("tool-")))
        .collect()
}

fn expect_call(part: &Value, name: &str, input: &Value, state: &str) -> Result<(), String> {
    let got = (
        part["type"].as_str(),
        &part["input"],
        part["state"].as_str(),
    );
    if got != (Some(&*format!("tool-{name}")), input, Some(state)) {
        return Err(format!(
            "expected a {name} call with input {input} in state {state}; got {}",
            shorten(&part.to_string())
        ));
    }
    Ok(())
}

/// Which AI SDK's words the model may read for a tool error and a refused call: they changed
/// with the ai@7 upgrade, and only a target on a stack with an SDK of its own (the `node20-ai6`
/// comparison stack, docs/runtimes.md#stacks) may use the earlier ones, so a default-stack
/// backend that drifted to them still fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkForms {
    /// The default stack's: `@ai-sdk/openai@4` and ai@7.
    Current,
    /// The current forms or those of the SDK before them (`@ai-sdk/openai@3`, ai@6).
    CurrentOrEarlier,
}

fn tools(scenario: Scenario, reading: &StreamReading, forms: SdkForms) -> Result<(), String> {
    let parts = tool_parts(reading);
    let count = |n: usize| {
        if parts.len() == n {
            Ok(())
        } else {
            Err(format!("{} tool parts, expected {n}", parts.len()))
        }
    };
    let text = reading.text();
    let quotes = |what: &str, quoted: &str| {
        if text.contains(quoted) {
            Ok(())
        } else {
            Err(format!(
                "the answer does not quote the {what} {quoted:?}: {}",
                shorten(&text)
            ))
        }
    };
    match scenario {
        Scenario::ToolSingle => {
            count(1)?;
            expect_call(
                parts[0],
                GET_SPEC,
                &json!({"id": KNOWN_SPEC_ID}),
                "output-available",
            )?;
            quotes("spec title", &title(&parts[0]["output"])?)
        }
        Scenario::ToolParallel => {
            count(2)?;
            let (get, search) = if parts[0]["type"] == json!(format!("tool-{GET_SPEC}")) {
                (parts[0], parts[1])
            } else {
                (parts[1], parts[0])
            };
            expect_call(
                get,
                GET_SPEC,
                &json!({"id": KNOWN_SPEC_ID}),
                "output-available",
            )?;
            expect_call(
                search,
                SEARCH_SPECS,
                &json!({"query": PARALLEL_SEARCH_QUERY}),
                "output-available",
            )?;
            quotes("spec title", &title(&get["output"])?)
        }
        Scenario::ToolChain => {
            count(2)?;
            let list = parts[0];
            if list["type"] != json!(format!("tool-{LIST_SPECS}"))
                || list["state"] != json!("output-available")
            {
                return Err(format!(
                    "the first call must be a completed {LIST_SPECS}: {}",
                    shorten(&list.to_string())
                ));
            }
            let id = parts[1]["input"]["id"].as_str().unwrap_or_default();
            if !list["output"].to_string().contains(&format!("\"{id}\"")) || id.is_empty() {
                return Err(format!(
                    "get_spec asked for {id:?}, which the list_specs result does not hold"
                ));
            }
            expect_call(parts[1], GET_SPEC, &json!({"id": id}), "output-available")?;
            quotes("spec title", &title(&parts[1]["output"])?)
        }
        Scenario::ToolError => {
            count(1)?;
            expect_call(
                parts[0],
                GET_SPEC,
                &json!({"id": MISSING_SPEC_ID}),
                "output-error",
            )?;
            let error = parts[0]["errorText"].as_str().unwrap_or_default();
            if error.is_empty() {
                return Err("the tool error has no errorText".into());
            }
            // The model reads a tool error as `@ai-sdk/openai@4` sends it, `{"error": text}`; on
            // the earlier stack, as `@ai-sdk/openai@3` did, the text alone.
            let current = quotes("tool error", &json!({ "error": error }).to_string());
            match forms {
                SdkForms::Current => current,
                SdkForms::CurrentOrEarlier => {
                    current.or_else(|json_form| quotes("tool error", error).map_err(|_| json_form))
                }
            }
        }
        Scenario::ToolBadArgs => {
            count(1)?;
            // The call keeps the arguments as they came, and the client reads the documented
            // phrase; the model is told the AI SDK's own refusal, whose first line the mock quotes.
            expect_call(
                parts[0],
                GET_SPEC,
                &json!(BAD_TOOL_ARGUMENTS),
                "output-error",
            )?;
            let error = parts[0]["errorText"].as_str().unwrap_or_default();
            if error != error_text::invalid_tool_input(GET_SPEC) {
                return Err(format!(
                    "the refused call's errorText is {error:?}, expected {:?}",
                    error_text::invalid_tool_input(GET_SPEC)
                ));
            }
            // ai@7 tells the model `String(error)`, the error's name first; ai@6, on the earlier
            // stack, told it the message alone.
            let refusal = format!("Invalid input for tool {GET_SPEC}");
            let current = quotes(
                "refusal",
                &format!("get_spec was refused: AI_InvalidToolInputError: {refusal}"),
            );
            match forms {
                SdkForms::Current => current,
                SdkForms::CurrentOrEarlier => current.or_else(|ai7_form| {
                    quotes("refusal", &format!("get_spec was refused: {refusal}"))
                        .map_err(|_| ai7_form)
                }),
            }
        }
        _ => count(0),
    }
}

/// The shallowest `title` of a tool output, as the mock provider quotes it.
fn title(output: &Value) -> Result<String, String> {
    let mut queue = std::collections::VecDeque::from([output]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(obj) => {
                if let Some(Value::String(t)) = obj.get("title") {
                    return Ok(t.clone());
                }
                queue.extend(obj.values());
            }
            Value::Array(items) => queue.extend(items),
            _ => {}
        }
    }
    Err(format!(
        "the tool output holds no title: {}",
        shorten(&output.to_string())
    ))
}

/// The JSON error body every backend answers bad input with (docs/design.md#error-bodies): the
/// status and the code that goes with it, `content-type: application/json`, and a message.
pub fn error_answer(answer: &Answer, code: ErrorCode) -> Result<(), String> {
    let status = code.status();
    let body = answer.body_text();
    if answer.status != status {
        return Err(format!(
            "HTTP {}, expected {status}: {}",
            answer.status,
            shorten(&body)
        ));
    }
    let content_type = answer.header("content-type").unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some("application/json") {
        return Err(format!(
            "the {status} answer's content-type is {content_type:?}, not application/json"
        ));
    }
    let parsed: ErrorBody = serde_json::from_str(&body).map_err(|_| {
        format!(
            "the {status} body is not {{\"error\":{{\"code\",\"message\"}}}}: {}",
            shorten(&body)
        )
    })?;
    if parsed.error.code != code {
        return Err(format!(
            "the {status} body's code is {:?}, expected {code:?}",
            parsed.error.code
        ));
    }
    if parsed.error.message.trim().is_empty() {
        return Err(format!("the {status} body's message is empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sut_kit::checker::read_stream;

    /// A tool-error answer: the failed `get_spec` call, then a step whose text is `said`.
    fn tool_error_answer(error: &str, said: &str) -> StreamReading {
        let chunks = [
            json!({"type": "start"}),
            json!({"type": "start-step"}),
            json!({"type": "tool-input-start", "toolCallId": "c1", "toolName": GET_SPEC}),
            json!({"type": "tool-input-available", "toolCallId": "c1", "toolName": GET_SPEC,
                   "input": {"id": MISSING_SPEC_ID}}),
            json!({"type": "tool-output-error", "toolCallId": "c1", "errorText": error}),
            json!({"type": "finish-step"}),
            json!({"type": "start-step"}),
            json!({"type": "text-start", "id": "0"}),
            json!({"type": "text-delta", "id": "0", "delta": said}),
            json!({"type": "text-end", "id": "0"}),
            json!({"type": "finish-step"}),
            json!({"type": "finish", "finishReason": "stop"}),
        ];
        let mut sse: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        sse.push_str("data: [DONE]\n\n");
        read_stream(sse.as_bytes())
    }

    #[test]
    fn only_a_target_on_the_earlier_stack_may_quote_a_tool_error_as_plain_text() {
        let error = "spec 999 not found";
        let plain = tool_error_answer(error, &format!("The tool said: {error}"));
        let json_form = json!({ "error": error }).to_string();
        let current = tool_error_answer(error, &format!("The tool said: {json_form}"));

        assert_eq!(
            tools(Scenario::ToolError, &current, SdkForms::Current),
            Ok(())
        );
        let err = tools(Scenario::ToolError, &plain, SdkForms::Current).unwrap_err();
        assert!(err.contains("does not quote the tool error"), "{err}");
        assert_eq!(
            tools(Scenario::ToolError, &plain, SdkForms::CurrentOrEarlier),
            Ok(())
        );
    }
}
