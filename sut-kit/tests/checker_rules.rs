//! Each rule of the stream checker, on a minimal stream that breaks it.

use sut_kit::checker::read_stream;

fn stream(chunks: &[&str], done: bool) -> Vec<u8> {
    let mut out = String::new();
    for c in chunks {
        out.push_str(&format!("data: {c}\n\n"));
    }
    if done {
        out.push_str("data: [DONE]\n\n");
    }
    out.into_bytes()
}

const START: &str = r#"{"type":"start"}"#;
const STEP: &str = r#"{"type":"start-step"}"#;
const END_STEP: &str = r#"{"type":"finish-step"}"#;
const FINISH: &str = r#"{"type":"finish","finishReason":"stop"}"#;
const TEXT_START: &str = r#"{"type":"text-start","id":"t"}"#;
const DELTA: &str = r#"{"type":"text-delta","id":"t","delta":"hi"}"#;
const TEXT_END: &str = r#"{"type":"text-end","id":"t"}"#;

fn violations(chunks: &[&str], done: bool) -> Vec<String> {
    read_stream(&stream(chunks, done)).violations
}

fn assert_violation(chunks: &[&str], done: bool, expected: &str) {
    let v = violations(chunks, done);
    assert!(
        v.iter().any(|x| x.contains(expected)),
        "expected {expected:?} in {v:?}"
    );
}

#[test]
fn a_well_formed_text_answer_passes_and_is_read() {
    let reading = read_stream(&stream(
        &[
            START, STEP, TEXT_START, DELTA, DELTA, TEXT_END, END_STEP, FINISH,
        ],
        true,
    ));
    assert!(reading.violations.is_empty(), "{:?}", reading.violations);
    assert_eq!(reading.text(), "hihi");
    assert_eq!(reading.text_deltas_per_step, [2]);
    assert!(reading.done);
}

#[test]
fn framing_rules() {
    assert_violation(
        &[START, STEP, END_STEP, FINISH],
        false,
        "does not end with [DONE]",
    );
    let mut bytes = stream(&[START, STEP, END_STEP, FINISH], true);
    bytes.extend_from_slice(b"data: {\"type\":\"start\"}\n\n");
    assert!(
        read_stream(&bytes)
            .violations
            .iter()
            .any(|v| v.contains("after [DONE]"))
    );
    assert_violation(
        &[START, "{not json", FINISH],
        true,
        "is not a UI message chunk",
    );
    let mut cut = stream(&[START, STEP], false);
    cut.extend_from_slice(b"data: {\"type\":\"te");
    assert!(
        read_stream(&cut)
            .violations
            .iter()
            .any(|v| v.contains("middle of a frame"))
    );
    assert_violation(&[], true, "holds no chunk");
}

#[test]
fn order_rules() {
    assert_violation(&[STEP, END_STEP, FINISH], true, "must open with `start`");
    assert_violation(
        &[START, START, STEP, END_STEP, FINISH],
        true,
        "a second `start`",
    );
    assert_violation(
        &[START, TEXT_START, DELTA, TEXT_END, FINISH],
        true,
        "outside a step",
    );
    assert_violation(
        &[START, STEP, STEP, END_STEP, FINISH],
        true,
        "inside an open step",
    );
    assert_violation(&[START, END_STEP, FINISH], true, "without `start-step`");
    assert_violation(&[START, STEP, FINISH], true, "`finish` inside an open step");
    assert_violation(
        &[START, STEP, END_STEP, FINISH, STEP],
        true,
        "comes after `finish`",
    );
    assert_violation(
        &[START, STEP, END_STEP],
        true,
        "the last chunk is `finish-step`",
    );
}

#[test]
fn text_rules() {
    assert_violation(
        &[START, STEP, DELTA, END_STEP, FINISH],
        true,
        "outside its text-start/text-end",
    );
    assert_violation(
        &[
            START, STEP, TEXT_START, TEXT_START, TEXT_END, END_STEP, FINISH,
        ],
        true,
        "started twice",
    );
    assert_violation(
        &[START, STEP, TEXT_END, END_STEP, FINISH],
        true,
        "which is not open",
    );
    assert_violation(
        &[START, STEP, TEXT_START, DELTA, END_STEP, FINISH],
        true,
        "still open",
    );
}

#[test]
fn tool_rules() {
    let input_start = r#"{"type":"tool-input-start","toolCallId":"c1","toolName":"get_spec"}"#;
    let input_delta = r#"{"type":"tool-input-delta","toolCallId":"c1","inputTextDelta":"{}"}"#;
    let available =
        r#"{"type":"tool-input-available","toolCallId":"c1","toolName":"get_spec","input":{}}"#;
    let output = r#"{"type":"tool-output-available","toolCallId":"c1","output":{"ok":true}}"#;
    let good = [
        START,
        STEP,
        input_start,
        input_delta,
        available,
        output,
        END_STEP,
        FINISH,
    ];
    let reading = read_stream(&stream(&good, true));
    assert!(reading.violations.is_empty(), "{:?}", reading.violations);
    assert_eq!(reading.parts[1]["state"], "output-available");

    assert_violation(
        &[START, STEP, input_delta, END_STEP, FINISH],
        true,
        "without an open tool-input-start",
    );
    assert_violation(
        &[START, STEP, output, END_STEP, FINISH],
        true,
        "output for unknown toolCallId `c1`",
    );
    assert_violation(
        &[START, STEP, input_start, output, END_STEP, FINISH],
        true,
        "before its tool-input-available",
    );
    assert_violation(
        &[START, STEP, input_start, available, END_STEP, FINISH],
        true,
        "never got its result",
    );
    assert_violation(
        &[START, STEP, available, output, output, END_STEP, FINISH],
        true,
        "second final output",
    );
    let renamed =
        r#"{"type":"tool-input-available","toolCallId":"c1","toolName":"search_specs","input":{}}"#;
    assert_violation(
        &[START, STEP, input_start, renamed, output, END_STEP, FINISH],
        true,
        "but its input names",
    );
}

/// ai@7 ends a refused call with its `tool-input-error`; ai@6 (the `node20-ai6` stack) repeated
/// it as a `tool-output-error` with the same text, which is that repetition and not a second
/// result; any other output after it is.
#[test]
fn a_refused_input_is_the_result_and_only_its_repetition_may_follow() {
    let refused = r#"{"type":"tool-input-error","toolCallId":"c1","toolName":"get_spec","input":"{","errorText":"invalid input for tool get_spec"}"#;
    let repeated = r#"{"type":"tool-output-error","toolCallId":"c1","errorText":"invalid input for tool get_spec"}"#;
    let other = r#"{"type":"tool-output-error","toolCallId":"c1","errorText":"something else"}"#;
    for chunks in [
        &[START, STEP, refused, END_STEP, FINISH][..],
        &[START, STEP, refused, repeated, END_STEP, FINISH][..],
    ] {
        let v = violations(chunks, true);
        assert!(v.is_empty(), "{v:?}");
    }
    assert_violation(
        &[START, STEP, refused, other, END_STEP, FINISH],
        true,
        "second final output",
    );
    assert_violation(
        &[START, STEP, refused, repeated, repeated, END_STEP, FINISH],
        true,
        "second final output",
    );
}

#[test]
fn an_error_ends_a_stream_without_the_completion_rules() {
    let error = r#"{"type":"error","errorText":"provider returned HTTP 500"}"#;
    let reading = read_stream(&stream(&[START, STEP, TEXT_START, DELTA, error], true));
    assert!(reading.violations.is_empty(), "{:?}", reading.violations);
    assert_eq!(reading.errors, ["provider returned HTTP 500"]);
}
