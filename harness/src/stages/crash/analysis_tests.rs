//! The rules of [`super`] on recorded times, without a backend.

use contract::results::{BlastScope, Fault, RecoveryKind, StreamEnd};
use contract::timeline::{ChunkKind, ChunkSend, Outcome, RequestTimeline, TokenUsage};

use super::super::sampler::{HealthSample, Probe, ProbeOutcome, Samples};
use super::*;
use crate::chat::Sent;
use sut_kit::client::{Answer, Receipt};

const MS: u64 = 1_000_000;

/// A 200 stream whose deltas arrived at `delta_at` (ms), ending (or cut) at `end_ms`.
fn sent(delta_at: &[u64], end_ms: u64, done: bool) -> Sent {
    let mut body = Vec::new();
    let mut receipts = Vec::new();
    let mut push = |text: String, at_ms: u64| {
        body.extend_from_slice(text.as_bytes());
        receipts.push(Receipt {
            end: body.len(),
            at_ns: at_ms * MS,
        });
    };
    push("data: {\"type\":\"start\"}\n\n".into(), 0);
    for &at in delta_at {
        push(
            "data: {\"type\":\"text-delta\",\"id\":\"t\",\"delta\":\"a\"}\n\n".into(),
            at,
        );
    }
    if done {
        push("data: [DONE]\n\n".into(), end_ms);
    }
    Sent {
        answer: Ok(Answer {
            status: 200,
            headers: Default::default(),
            body,
            transport_error: (!done).then(|| "reset".to_owned()),
            sent_ns: 0,
            receipts,
        }),
        sent_ns: 0,
        returned_ns: end_ms * MS,
        timed_out: false,
    }
}

fn ended(tag: &str, end: StreamEnd, sent: Sent, requests: Vec<RequestTimeline>) -> Ended {
    Ended {
        tag: tag.into(),
        end,
        sent: Some(sent),
        requests,
    }
}

/// A provider request that sent one text frame at each of `text_ms`.
fn request(step: u32, text_ms: &[u64], outcome: Outcome, gone_ms: Option<u64>) -> RequestTimeline {
    let chunks = text_ms
        .iter()
        .map(|&t| ChunkSend {
            kind: ChunkKind::Text,
            scheduled_ns: t * MS,
            sent_ns: t * MS,
        })
        .collect::<Vec<_>>();
    RequestTimeline {
        id: u64::from(step),
        scenario: Some("text".into()),
        tag: None,
        step,
        stream: true,
        status: 200,
        arrival_ns: u64::from(step),
        end_ns: text_ms.last().map(|t| t * MS),
        client_gone_ns: gone_ms.map(|g| g * MS),
        outcome,
        usage: Some(TokenUsage {
            prompt_tokens: 5,
            completion_tokens: u32::try_from(text_ms.len()).unwrap(),
            total_tokens: 5,
        }),
        error: None,
        chunks,
    }
}

fn health(at_ms: &[(u64, u16)]) -> Vec<HealthSample> {
    at_ms
        .iter()
        .map(|&(t, status)| HealthSample {
            sent_ns: t * MS,
            answered_ns: t * MS + MS,
            status: Some(status),
        })
        .collect()
}

fn observed(fault: Fault) -> Observed {
    Observed {
        fault,
        injected_ns: 100 * MS,
        dropped_ns: None,
        watch_end_ns: 5_000 * MS,
        bystanders: Vec::new(),
        faulted: None,
        samples: Samples::default(),
        server_exited: false,
        survived: true,
        replacement: None,
        leftover_processes: Some(0),
        notes: Vec::new(),
    }
}

#[test]
fn the_fault_time_comes_from_where_the_fault_happened() {
    let mut o = observed(Fault::KillRuntime);
    assert_eq!(fault_ns(&o), 100 * MS);

    o.fault = Fault::MalformedChunk;
    let mut r = request(0, &[110, 160], Outcome::Completed, None);
    r.chunks.insert(
        1,
        ChunkSend {
            kind: ChunkKind::Malformed,
            scheduled_ns: 150 * MS,
            sent_ns: 151 * MS,
        },
    );
    o.faulted = Some(ended(
        "f",
        StreamEnd::ErrorChunk,
        sent(&[111], 152, true),
        vec![r],
    ));
    assert_eq!(fault_ns(&o), 151 * MS);

    o.fault = Fault::Stall;
    let stalled = request(0, &[110, 160, 6160, 6210], Outcome::Completed, None);
    o.faulted = Some(ended(
        "f",
        StreamEnd::ErrorChunk,
        sent(&[111], 2200, true),
        vec![stalled],
    ));
    assert_eq!(
        fault_ns(&o),
        160 * MS,
        "the silence starts after the frame at 160 ms"
    );

    o.fault = Fault::ClientDisconnect;
    o.dropped_ns = Some(600 * MS);
    assert_eq!(fault_ns(&o), 600 * MS);

    o.fault = Fault::CrashTool;
    o.faulted = Some(ended("f", StreamEnd::Cut, sent(&[], 300, false), vec![]));
    assert_eq!(fault_ns(&o), 100 * MS, "no timeline: the injection");
    let mut call = request(0, &[], Outcome::ClientGone, Some(190));
    call.chunks = [
        (120, ChunkKind::ToolCall),
        (130, ChunkKind::ToolCall),
        (131, ChunkKind::Finish),
    ]
    .map(|(t, kind)| ChunkSend {
        kind,
        scheduled_ns: t * MS,
        sent_ns: t * MS,
    })
    .to_vec();
    call.end_ns = Some(190 * MS);
    o.faulted = Some(ended(
        "f",
        StreamEnd::Cut,
        sent(&[], 300, false),
        vec![call],
    ));
    assert_eq!(
        fault_ns(&o),
        130 * MS,
        "the call complete, not the request's end"
    );
}

#[test]
fn statuses_and_detection_count_only_what_was_sent_after_the_fault() {
    let mut o = observed(Fault::KillRuntime);
    let probe = |sent_ms: u64, outcome| Probe {
        sent_ns: sent_ms * MS,
        answered_ns: sent_ms * MS + 2 * MS,
        outcome,
    };
    o.samples.probes = vec![
        probe(90, ProbeOutcome::Completed),
        probe(105, ProbeOutcome::Unavailable { retry_after: true }),
        probe(115, ProbeOutcome::Unavailable { retry_after: false }),
        probe(400, ProbeOutcome::Completed),
    ];
    o.samples.health = health(&[(101, 503), (300, 200)]);
    let out = outcome(&o);
    assert_eq!(out.statuses.get("503"), Some(&1));
    assert_eq!(out.statuses.get("503-without-retry-after"), Some(&1));
    assert_eq!(
        out.statuses.get("200"),
        Some(&1),
        "the probe before the fault is left out"
    );
    assert_eq!(out.detect_ms, Some(2.0), "health's 503 answered at 102 ms");
    assert_eq!(out.recovery_ms, Some(201.0));
    assert_eq!(out.recovery_kind, Some(RecoveryKind::SelfHealed));
    assert_eq!(out.recovery_chat_ms, Some(302.0));
}

#[test]
fn recovery_kinds() {
    let mut o = observed(Fault::PanicTool);
    o.samples.health = health(&[(110, 200), (120, 200)]);
    let out = outcome(&o);
    assert_eq!(
        (out.recovery_ms, out.recovery_kind),
        (Some(0.0), Some(RecoveryKind::Unaffected))
    );

    o.samples.health = health(&[(110, 200), (120, 0), (130, 200), (140, 503)]);
    o.survived = false;
    let out = outcome(&o);
    assert_eq!(
        (out.recovery_ms, out.recovery_kind),
        (None, Some(RecoveryKind::NotRecovered))
    );

    o.server_exited = true;
    o.replacement = Some(Ok(Replacement {
        ready_ms: 250.0,
        first_chat_ms: Some(400.0),
    }));
    let out = outcome(&o);
    assert_eq!(out.recovery_kind, Some(RecoveryKind::ReplacementColdStart));
    assert_eq!(
        (out.recovery_ms, out.recovery_chat_ms),
        (Some(250.0), Some(400.0))
    );
    o.replacement = Some(Err("no ready line".into()));
    let out = outcome(&o);
    assert_eq!(out.recovery_ms, None);
    assert!(out.note.unwrap().contains("no ready line"));
}

#[test]
fn blast_radius_counts_the_streams_in_flight_and_names_the_scope() {
    let mut o = observed(Fault::Truncated);
    let done = |end_ms| sent(&[50], end_ms, true);
    o.bystanders = vec![
        ended("a", StreamEnd::Completed, done(3000), vec![]),
        ended("b", StreamEnd::Completed, done(50), vec![]),
    ];
    o.faulted = Some(ended("f", StreamEnd::ErrorChunk, done(500), vec![]));
    let out = outcome(&o);
    let radius = out.blast_radius.unwrap();
    assert_eq!(
        (radius.bystanders, radius.bystanders_failed),
        (1, 0),
        "b ended before the fault"
    );
    assert_eq!(radius.scope, BlastScope::Request);
    assert!(out.note.unwrap().contains("1 stream(s) ended before"));

    o.bystanders
        .push(ended("c", StreamEnd::Cut, sent(&[50], 150, false), vec![]));
    o.bystanders.push(Ended {
        tag: "d".into(),
        end: StreamEnd::Hung,
        sent: None,
        requests: vec![],
    });
    let radius = outcome(&o).blast_radius.unwrap();
    assert_eq!(radius.scope, BlastScope::Runtime);
    assert_eq!(radius.bystander_ends.get("cut"), Some(&1));
    assert_eq!(radius.bystander_ends.get("hung"), Some(&1));
    o.survived = false;
    assert_eq!(outcome(&o).blast_radius.unwrap().scope, BlastScope::Process);
}

#[test]
fn provider_waste_tells_cancelled_from_orphaned_requests() {
    let mut o = observed(Fault::HangRuntime);
    // Last delta seen at 120 ms; the provider went on to 300 ms and finished: not cancelled.
    let orphan = request(0, &[110, 120, 200, 250, 300], Outcome::Completed, None);
    // Cancelled while watched, 5 ms after the client's stream ended at 130 ms.
    let cancelled = request(0, &[110, 120, 125], Outcome::ClientGone, Some(135));
    // The provider ended it itself: nothing to cancel.
    let rejected = request(0, &[], Outcome::Rejected, None);
    // Finished before the client's last delta: nothing was left to cancel.
    let finished = request(0, &[110, 120], Outcome::Completed, None);
    o.bystanders = vec![
        ended(
            "a",
            StreamEnd::ErrorChunk,
            sent(&[120], 8000, true),
            vec![orphan],
        ),
        ended(
            "b",
            StreamEnd::Cut,
            sent(&[120], 130, false),
            vec![cancelled],
        ),
        ended(
            "c",
            StreamEnd::ErrorChunk,
            sent(&[], 150, true),
            vec![rejected],
        ),
        ended(
            "d",
            StreamEnd::ErrorChunk,
            sent(&[120], 150, true),
            vec![finished],
        ),
    ];
    let out = outcome(&o);
    let waste = out.provider.unwrap();
    assert_eq!((waste.dead_streams, waste.cancelled), (2, 1));
    assert_eq!(waste.wasted_chunks, 4, "3 frames of a after 120 ms, 1 of b");
    assert_eq!(
        waste.wasted_tokens, 4,
        "one token per delta, as the mock counts"
    );
    assert_eq!(waste.cancel_ms_max, Some(5.0));
    assert_eq!(out.provider_cancelled, Some(false));

    // A hang-up the stage itself caused by stopping the backend is no cancellation.
    o.bystanders.remove(0);
    o.watch_end_ns = 132 * MS;
    let waste = outcome(&o).provider.unwrap();
    assert_eq!((waste.dead_streams, waste.cancelled), (1, 0));
}

#[test]
fn a_dropped_chat_wastes_what_the_provider_sent_after_the_drop() {
    let mut o = observed(Fault::ClientDisconnect);
    o.dropped_ns = Some(600 * MS);
    // Dropped at 600 ms; two frames went out before the provider saw it go at 720 ms.
    let request = request(0, &[550, 600, 650, 700], Outcome::ClientGone, Some(720));
    o.faulted = Some(Ended {
        tag: "f".into(),
        end: StreamEnd::Dropped,
        sent: None,
        requests: vec![request],
    });
    let out = outcome(&o);
    let waste = out.provider.unwrap();
    assert_eq!((waste.dead_streams, waste.cancelled), (1, 1));
    assert_eq!(waste.wasted_tokens, 2);
    assert_eq!(waste.cancel_ms_max, Some(120.0));
    assert_eq!(out.faulted_stream, Some(StreamEnd::Dropped));
    assert_eq!(out.blast_radius.unwrap().scope, BlastScope::Request);
}

#[test]
fn a_stopped_runtime_nobody_noticed_says_what_a_deployment_must_add() {
    let mut o = observed(Fault::HangRuntime);
    o.survived = false;
    o.samples.health = vec![HealthSample {
        sent_ns: 200 * MS,
        answered_ns: 2_200 * MS,
        status: None,
    }];
    let note = outcome(&o).note.unwrap_or_default();
    assert!(note.contains(HANG_UNNOTICED), "{note}");

    // A supervisor that answered 503 noticed it: no such note.
    o.samples.health = health(&[(200, 503), (900, 200)]);
    o.survived = true;
    assert!(outcome(&o).note.is_none_or(|n| !n.contains(HANG_UNNOTICED)));
}

#[test]
fn a_detected_hang_splits_its_waste_at_the_detection() {
    let mut o = observed(Fault::HangRuntime);
    // Stopped after the delta at 120 ms; detected by a 503 answered at 401 ms; the kill ended
    // the provider request 10 ms later, after one more frame.
    o.samples.health = health(&[(400, 503), (900, 200)]);
    let detected = o.samples.health[0].answered_ns;
    let mut frames: Vec<u64> = (120..=detected / MS).step_by(50).collect();
    frames.push(detected / MS + 5);
    let request = request(0, &frames, Outcome::ClientGone, Some(detected / MS + 10));
    o.bystanders = vec![ended(
        "a",
        StreamEnd::ErrorChunk,
        sent(&[120], detected / MS + 20, true),
        vec![request],
    )];
    let out = outcome(&o);
    let wasted = out.provider.unwrap().wasted_chunks;
    assert_eq!(
        wasted,
        frames.len() as u64 - 1,
        "every frame after the last delta"
    );
    let note = out.note.unwrap_or_default();
    assert!(
        note.contains(&format!(
            "{} went out before the hang was detected",
            wasted - 1
        )) && note.contains("and 1 after"),
        "{note}"
    );
}
