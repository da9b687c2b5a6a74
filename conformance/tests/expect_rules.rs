//! What a scenario promises, judged on synthetic answers and provider timelines.

use conformance::expect;
use contract::scenario::{Directive, Scenario};
use contract::timeline::{ChunkKind, ChunkSend, Outcome, RequestTimeline};
use sut_kit::checker::read_stream;

fn served(text_chunks: usize) -> RequestTimeline {
    let send = |kind| ChunkSend {
        kind,
        scheduled_ns: 1,
        sent_ns: 2,
    };
    let mut chunks: Vec<ChunkSend> = (0..text_chunks).map(|_| send(ChunkKind::Text)).collect();
    chunks.push(send(ChunkKind::Finish));
    RequestTimeline {
        id: 1,
        scenario: Some("text".into()),
        tag: Some("t".into()),
        step: 0,
        stream: true,
        status: 200,
        arrival_ns: 0,
        chunks,
        end_ns: Some(3),
        client_gone_ns: None,
        outcome: Outcome::Completed,
        usage: None,
        error: None,
    }
}

fn text_answer(deltas: &[&str], finish: &str) -> Vec<u8> {
    let mut s = String::from(
        "data: {\"type\":\"start\"}\n\ndata: {\"type\":\"start-step\"}\n\ndata: {\"type\":\"text-start\",\"id\":\"0\"}\n\n",
    );
    for d in deltas {
        s.push_str(&format!(
            "data: {{\"type\":\"text-delta\",\"id\":\"0\",\"delta\":\"{d}\"}}\n\n"
        ));
    }
    s.push_str(
        "data: {\"type\":\"text-end\",\"id\":\"0\"}\n\ndata: {\"type\":\"finish-step\"}\n\n",
    );
    s.push_str(&format!(
        "data: {{\"type\":\"finish\",\"finishReason\":\"{finish}\"}}\n\ndata: [DONE]\n\n"
    ));
    s.into_bytes()
}

fn directive(chunks: u32) -> Directive {
    let mut d = Directive::new(Scenario::Text);
    d.params.chunks = chunks;
    d
}

#[test]
fn text_passes_when_every_chunk_is_one_delta_and_the_text_is_exact() {
    let reading = read_stream(&text_answer(&["a ", "b "], "stop"));
    assert_eq!(
        expect::completes(
            &directive(2),
            &reading,
            &[served(2)],
            Some("a b "),
            expect::SdkForms::Current
        ),
        Ok(())
    );
}

#[test]
fn merged_or_split_chunks_break_the_one_to_one_mapping() {
    let merged = read_stream(&text_answer(&["a b "], "stop"));
    let err = expect::completes(
        &directive(2),
        &merged,
        &[served(2)],
        Some("a b "),
        expect::SdkForms::Current,
    )
    .unwrap_err();
    assert!(
        err.contains("2 text chunks, the stream has 1 text-deltas"),
        "{err}"
    );
    let split = read_stream(&text_answer(&["a", " ", "b "], "stop"));
    let err = expect::completes(
        &directive(2),
        &split,
        &[served(2)],
        None,
        expect::SdkForms::Current,
    )
    .unwrap_err();
    assert!(
        err.contains("2 text chunks, the stream has 3 text-deltas"),
        "{err}"
    );
}

#[test]
fn wrong_text_finish_reason_or_step_count_fail() {
    let reading = read_stream(&text_answer(&["a ", "c "], "stop"));
    let err = expect::completes(
        &directive(2),
        &reading,
        &[served(2)],
        Some("a b "),
        expect::SdkForms::Current,
    )
    .unwrap_err();
    assert!(err.contains("text differs"), "{err}");
    let reading = read_stream(&text_answer(&["a ", "b "], "length"));
    let err = expect::completes(
        &directive(2),
        &reading,
        &[served(2)],
        None,
        expect::SdkForms::Current,
    )
    .unwrap_err();
    assert!(err.contains("finish reason Some(Length)"), "{err}");
    let reading = read_stream(&text_answer(&["a ", "b "], "stop"));
    let err = expect::completes(
        &directive(2),
        &reading,
        &[served(2), served(0)],
        None,
        expect::SdkForms::Current,
    )
    .unwrap_err();
    assert!(err.contains("served 2 requests for 1 steps"), "{err}");
}

#[test]
fn an_upstream_fault_ends_with_one_final_error_of_the_agreed_text() {
    let error = |text: &str| format!("data: {{\"type\":\"error\",\"errorText\":\"{text}\"}}\n\n");
    let with = |tail: &str| {
        read_stream(format!("data: {{\"type\":\"start\"}}\n\n{tail}data: [DONE]\n\n").as_bytes())
    };
    let want = expect::upstream_error_text(Scenario::Http500, 2);
    assert_eq!(want.as_deref(), Some("provider returned HTTP 500"));
    assert_eq!(
        expect::ends_in_error(&with(&error("provider returned HTTP 500")), want.as_deref()),
        Ok(())
    );
    let wrong = expect::ends_in_error(&with(&error("boom")), want.as_deref()).unwrap_err();
    assert!(
        wrong.contains("expected \"provider returned HTTP 500\""),
        "{wrong}"
    );
    let twice = format!(
        "{}{}",
        error("provider returned HTTP 500"),
        error("provider returned HTTP 500")
    );
    assert!(
        expect::ends_in_error(&with(&twice), want.as_deref())
            .unwrap_err()
            .contains("2 `error` chunks")
    );
    let not_last = format!(
        "{}data: {{\"type\":\"finish\"}}\n\n",
        error("provider returned HTTP 500")
    );
    assert!(
        expect::ends_in_error(&with(&not_last), want.as_deref())
            .unwrap_err()
            .contains("must be the last chunk")
    );
    let none = read_stream(&text_answer(&["a "], "stop"));
    assert!(
        expect::ends_in_error(&none, want.as_deref())
            .unwrap_err()
            .contains("expected an `error` chunk")
    );
    assert_eq!(
        expect::upstream_error_text(Scenario::Stall, 2).as_deref(),
        Some("provider sent nothing for 2 s")
    );
}
