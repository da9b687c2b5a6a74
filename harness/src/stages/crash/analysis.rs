//! From what the stage observed to a [`CrashOutcome`]: when the fault hit, how far it reached,
//! what new requests got, when the backend served again, and what the provider did for the
//! streams that died. Pure functions over recorded times (`CLOCK_MONOTONIC` nanoseconds, shared
//! by the harness and the mock provider), so every rule is tested without a backend.

use std::collections::BTreeMap;

use contract::results::{
    BlastRadius, BlastScope, CrashOutcome, Fault, ProviderWaste, RecoveryKind, StreamEnd,
};
use contract::timeline::{ChunkKind, Outcome, RequestTimeline};

use super::sampler::{ProbeOutcome, Samples};

/// The mock provider's accounting: one completion token per delta frame
/// (`mock-provider/src/script/mod.rs`, `completion_tokens`). A request cut short still reports
/// the usage of its whole scripted answer, so usage cannot price the frames actually sent.
const TOKENS_PER_DELTA: u64 = 1;
use crate::chat::{self, Sent};

/// Said of a stopped runtime that nothing in the backend noticed: a backend without a supervisor
/// of its own (napi: the runtime is the server's own process, so the server stops with it).
pub const HANG_UNNOTICED: &str = "nothing in the backend noticed the stopped runtime (no 503, \
     every new request hung): it has no supervisor of its own, so a deployment must add one \
     outside it, a liveness check that kills and restarts the process when /health goes \
     unanswered (docs/crash.md#hang-detection)";

/// A stream the stage had in flight, as it ended.
#[derive(Debug)]
pub struct Ended {
    pub tag: String,
    pub end: StreamEnd,
    /// Absent when the stage abandoned it still open at the end of the watch, or dropped it.
    pub sent: Option<Sent>,
    /// Its provider requests, oldest first.
    pub requests: Vec<RequestTimeline>,
}

impl Ended {
    /// When the client got its last delta, else when it sent the request (`None` when its
    /// answer was not kept: then the fault's moment stands in).
    fn progress_ns(&self) -> Option<u64> {
        let sent = self.sent.as_ref()?;
        let last = sent.answer.as_ref().ok().and_then(chat::last_delta_ns);
        Some(last.unwrap_or(sent.sent_ns))
    }
}

/// A fresh process started because the faulted one died (napi): its cold start.
#[derive(Debug, Clone, Copy)]
pub struct Replacement {
    pub ready_ms: f64,
    pub first_chat_ms: Option<f64>,
}

/// Everything one fault run observed.
#[derive(Debug)]
pub struct Observed {
    pub fault: Fault,
    pub injected_ns: u64,
    /// When the client dropped its chat (`client-disconnect`).
    pub dropped_ns: Option<u64>,
    pub watch_end_ns: u64,
    pub bystanders: Vec<Ended>,
    pub faulted: Option<Ended>,
    pub samples: Samples,
    pub server_exited: bool,
    pub survived: bool,
    pub replacement: Option<Result<Replacement, String>>,
    /// `None` when the server would not exit on SIGTERM (then nothing can be said).
    pub leftover_processes: Option<u32>,
    /// Things worth saying that no field holds (a forced stop, a failed replacement).
    pub notes: Vec<String>,
}

/// When the fault hit: the signal for runtime faults, the drop for a disconnect, and for a
/// fault carried by a request the moment the provider's timeline shows it (the tool call's
/// last fragment sent, the 500, the broken frame, the cut, the start of the silence). Falls back to
/// the injection when the timeline has no such moment.
pub fn fault_ns(o: &Observed) -> u64 {
    let requests = o.faulted.as_ref().map_or(&[][..], |f| &f.requests[..]);
    let first = requests.first();
    let at = match o.fault {
        Fault::KillRuntime
        | Fault::HangRuntime
        | Fault::SlowReader
        | Fault::StalledReader
        | Fault::LongStream => None,
        Fault::ClientDisconnect => o.dropped_ns,
        // The runtime runs the tool once its call is complete, which can be before the
        // provider's answer ends (and a runtime that dies then ends it early).
        Fault::CrashTool | Fault::PanicTool => {
            requests.iter().find(|r| r.step == 0).and_then(|r| {
                r.chunks
                    .iter()
                    .rfind(|c| c.kind == ChunkKind::ToolCall)
                    .map(|c| c.sent_ns)
            })
        }
        Fault::Http500 | Fault::Truncated => first.and_then(|r| r.end_ns),
        Fault::MalformedChunk => first.and_then(|r| {
            r.chunks
                .iter()
                .find(|c| c.kind == ChunkKind::Malformed)
                .map(|c| c.sent_ns)
        }),
        Fault::Stall => first.and_then(silence_start),
    };
    at.unwrap_or(o.injected_ns)
}

/// The send time of the frame before the longest scheduled gap.
fn silence_start(r: &RequestTimeline) -> Option<u64> {
    r.chunks
        .windows(2)
        .max_by_key(|w| w[1].scheduled_ns.saturating_sub(w[0].scheduled_ns))
        .map(|w| w[0].sent_ns)
}

pub fn outcome(o: &Observed) -> CrashOutcome {
    let fault_ns = fault_ns(o);
    let ms = |ns: u64| ns.saturating_sub(fault_ns) as f64 / 1e6;
    let mut out = CrashOutcome::measured();
    out.survived = Some(o.survived);
    out.watched_ms = Some(ms(o.watch_end_ns));
    out.leftover_processes = o.leftover_processes;
    out.faulted_stream = o.faulted.as_ref().map(|f| f.end);
    out.statuses = statuses(&o.samples, fault_ns);
    out.detect_ms = first_unavailable_ns(&o.samples, fault_ns).map(ms);
    out.recovery_chat_ms = o
        .samples
        .probes
        .iter()
        .find(|p| p.sent_ns >= fault_ns && p.outcome == ProbeOutcome::Completed)
        .map(|p| ms(p.answered_ns));
    let mut notes = o.notes.clone();
    let (recovery_ms, kind) = recovery(o, fault_ns, &mut notes);
    out.recovery_ms = recovery_ms;
    out.recovery_kind = Some(kind);
    if let Some(Ok(r)) = &o.replacement {
        out.recovery_chat_ms = r.first_chat_ms;
    }
    let (radius, late) = blast_radius(o, fault_ns);
    if late > 0 {
        notes.push(format!(
            "{late} stream(s) ended before the fault hit and are not counted as bystanders"
        ));
    }
    out.blast_radius = Some(radius);
    if o.fault == Fault::HangRuntime && out.detect_ms.is_none() && !o.server_exited {
        notes.push(HANG_UNNOTICED.into());
    }
    let waste = provider_waste(o, fault_ns);
    if o.fault == Fault::HangRuntime
        && let Some(detected) = first_unavailable_ns(&o.samples, fault_ns)
        && waste.wasted_chunks > 0
    {
        notes.push(hang_waste_note(o, waste.wasted_chunks, detected, fault_ns));
    }
    out.provider_cancelled =
        (waste.dead_streams > 0).then_some(waste.cancelled == waste.dead_streams);
    out.provider = Some(waste);
    out.note = (!notes.is_empty()).then(|| notes.join("; "));
    out
}

/// What the chats sent after the fault got -> how many.
fn statuses(samples: &Samples, fault_ns: u64) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for p in samples.probes.iter().filter(|p| p.sent_ns >= fault_ns) {
        *counts.entry(p.outcome.key()).or_default() += 1;
    }
    counts
}

/// The first 503 answered to a chat or a health request sent after the fault.
fn first_unavailable_ns(samples: &Samples, fault_ns: u64) -> Option<u64> {
    let chats = samples
        .probes
        .iter()
        .filter(|p| p.sent_ns >= fault_ns && matches!(p.outcome, ProbeOutcome::Unavailable { .. }))
        .map(|p| p.answered_ns);
    let health = samples
        .health
        .iter()
        .filter(|h| h.sent_ns >= fault_ns && h.status == Some(503))
        .map(|h| h.answered_ns);
    chats.chain(health).min()
}

/// `/health` 200 again after its last failure, and what kind of recovery that was.
fn recovery(o: &Observed, fault_ns: u64, notes: &mut Vec<String>) -> (Option<f64>, RecoveryKind) {
    if o.server_exited {
        return match &o.replacement {
            Some(Ok(r)) => (Some(r.ready_ms), RecoveryKind::ReplacementColdStart),
            Some(Err(e)) => {
                notes.push(format!("the replacement process did not start: {e}"));
                (None, RecoveryKind::ReplacementColdStart)
            }
            None => (None, RecoveryKind::NotRecovered),
        };
    }
    let after: Vec<_> = o
        .samples
        .health
        .iter()
        .filter(|h| h.sent_ns >= fault_ns)
        .collect();
    let Some(last_failure) = after.iter().rposition(|h| !h.ok()) else {
        return (Some(0.0), RecoveryKind::Unaffected);
    };
    let back = after[last_failure + 1..].first();
    match back {
        Some(h) if o.survived => (
            Some(h.answered_ns.saturating_sub(fault_ns) as f64 / 1e6),
            RecoveryKind::SelfHealed,
        ),
        _ if o.survived => {
            notes.push("served again only after the stage stopped watching".into());
            (None, RecoveryKind::SelfHealed)
        }
        _ => (None, RecoveryKind::NotRecovered),
    }
}

/// The other streams in flight when the fault hit, and how they ended; with the number of
/// streams that had already ended by then.
fn blast_radius(o: &Observed, fault_ns: u64) -> (BlastRadius, usize) {
    let in_flight = |e: &&Ended| {
        e.sent
            .as_ref()
            .is_none_or(|s| s.sent_ns < fault_ns && s.returned_ns >= fault_ns)
    };
    let bystanders: Vec<&Ended> = o.bystanders.iter().filter(in_flight).collect();
    let late = o.bystanders.len() - bystanders.len();
    let mut ends = BTreeMap::new();
    for e in &bystanders {
        *ends.entry(e.end.name().to_owned()).or_default() += 1;
    }
    let failed = bystanders
        .iter()
        .filter(|e| e.end != StreamEnd::Completed)
        .count();
    let faulted_failed = o
        .faulted
        .as_ref()
        .is_some_and(|f| f.end != StreamEnd::Completed);
    let scope = if !o.survived {
        BlastScope::Process
    } else if failed > 0 {
        BlastScope::Runtime
    } else if faulted_failed {
        BlastScope::Request
    } else {
        BlastScope::None
    };
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (
        BlastRadius {
            scope,
            bystanders: count(bystanders.len()),
            bystanders_failed: count(failed),
            bystander_ends: ends,
        },
        late,
    )
}

/// For every stream that did not complete: was its provider request still running, did the
/// backend cancel it (the mock saw its client go while the stage watched), and how many text
/// frames went out after the client's last delta.
fn provider_waste(o: &Observed, fault_ns: u64) -> ProviderWaste {
    let mut waste = ProviderWaste::default();
    let mut slowest: Option<f64> = None;
    for e in o.bystanders.iter().chain(&o.faulted) {
        if e.end == StreamEnd::Completed {
            continue;
        }
        let Some(last) = e.requests.iter().max_by_key(|r| r.arrival_ns) else {
            continue;
        };
        let reference = e.progress_ns().unwrap_or(fault_ns);
        let frames = text_after(&e.requests, reference);
        waste.wasted_chunks += frames;
        waste.wasted_tokens += frames * TOKENS_PER_DELTA;
        let cancelled_at = last
            .client_gone_ns
            .filter(|&t| last.outcome == Outcome::ClientGone && t <= o.watch_end_ns);
        let still_running = match last.outcome {
            Outcome::Rejected | Outcome::Truncated => false,
            Outcome::ClientGone | Outcome::InProgress => true,
            Outcome::Completed => frames > 0,
        };
        if !still_running {
            continue;
        }
        waste.dead_streams += 1;
        if let Some(gone) = cancelled_at {
            waste.cancelled += 1;
            let ended = match (&e.sent, e.end) {
                (Some(s), _) => s.returned_ns,
                (None, StreamEnd::Dropped) => fault_ns,
                (None, _) => o.watch_end_ns,
            };
            let ms = gone.saturating_sub(ended) as f64 / 1e6;
            slowest = Some(slowest.map_or(ms, |s| s.max(ms)));
        }
    }
    waste.cancel_ms_max = slowest;
    waste
}

/// How the wasted frames of a hang split at its detection: those sent while the runtime stood
/// stopped and unnoticed, which only faster detection could save, and those sent after it,
/// which a kill on detection should leave at about zero (docs/crash.md#hang-detection).
fn hang_waste_note(o: &Observed, wasted: u64, detected_ns: u64, fault_ns: u64) -> String {
    let after: u64 = o
        .bystanders
        .iter()
        .chain(&o.faulted)
        .filter(|e| e.end != StreamEnd::Completed)
        .map(|e| {
            text_after(
                &e.requests,
                detected_ns.max(e.progress_ns().unwrap_or(fault_ns)),
            )
        })
        .sum();
    format!(
        "of the {wasted} text frames the provider sent for nobody, {} went out before the hang \
         was detected ({:.0} ms after the stop) and {after} after",
        wasted.saturating_sub(after),
        detected_ns.saturating_sub(fault_ns) as f64 / 1e6
    )
}

/// Text frames sent after `reference`. Tool-call fragments are left out: the runtime consumes
/// them to run the tool, so a call that completed was not generated for nobody even when the
/// client never saw its last fragment.
fn text_after(requests: &[RequestTimeline], reference: u64) -> u64 {
    requests
        .iter()
        .flat_map(|r| r.text_chunks())
        .filter(|c| c.sent_ns > reference)
        .count() as u64
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
