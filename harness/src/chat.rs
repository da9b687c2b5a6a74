//! One chat as the start and crash stages send it: a tagged directive paced as the stage wants,
//! sent with the test stack's client under a time limit, and how its stream ended
//! ([`StreamEnd`], judged by the test stack's checker).

use std::time::Duration;

use contract::clock::monotonic_ns;
use contract::results::StreamEnd;
use contract::scenario::{Directive, Scenario};
use contract::sse::SseEvent;

use conformance::cases;
use sut_kit::checker::read_stream;
use sut_kit::client::{self, Answer};

/// UI chunk types that carry content the provider generated (one per provider delta).
const DELTA_TYPES: [&str; 3] = ["text-delta", "tool-input-delta", "reasoning-delta"];

/// A directive for `scenario`, tagged, with no time to first chunk and the given pacing.
pub fn directive(scenario: Scenario, tag: &str, chunks: u32, gap_ms: u64) -> Directive {
    let mut d = Directive::new(scenario);
    d.params.ttft_ms = 0;
    d.params.gap_ms = gap_ms;
    d.params.chunks = chunks;
    d.params.tag = Some(tag.to_owned());
    d
}

/// The body `useChat` sends to open a chat with `directive` as the user's message.
pub fn body(directive: &Directive) -> serde_json::Value {
    let tag = directive.params.tag.as_deref().unwrap_or("chat");
    cases::single_turn(&format!("chat-{tag}"), directive.render())
}

/// A chat sent and read to its end, to where it broke, or to its time limit.
#[derive(Debug)]
pub struct Sent {
    /// `Err` when no answer began (refused, reset, or no head before the limit).
    pub answer: Result<Answer, String>,
    /// `CLOCK_MONOTONIC` when the request was handed over (also inside `answer`).
    pub sent_ns: u64,
    /// `CLOCK_MONOTONIC` when the client stopped reading.
    pub returned_ns: u64,
    /// The time limit ended it.
    pub timed_out: bool,
}

/// Sends `body` to `POST {base}/api/chat` and reads until the end or `limit` (a limit that
/// fires drops the connection, as a client that gives up would).
pub async fn send(
    client: &reqwest::Client,
    base: &str,
    body: &serde_json::Value,
    limit: Duration,
) -> Sent {
    let sent_ns = monotonic_ns();
    let request = client
        .post(format!("{base}/api/chat"))
        .json(body)
        .timeout(limit);
    let answer = client::exchange(request)
        .await
        .map_err(|e| format!("{e:#}"));
    let returned_ns = monotonic_ns();
    let limit_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    let failed = answer
        .as_ref()
        .map_or(true, |a| a.transport_error.is_some());
    Sent {
        answer,
        sent_ns,
        returned_ns,
        timed_out: failed && returned_ns.saturating_sub(sent_ns) >= limit_ns,
    }
}

/// How a chat's stream ended, as its client saw it.
pub fn end_of(sent: &Sent) -> StreamEnd {
    let answer = match &sent.answer {
        Ok(a) if a.status == 200 => a,
        Ok(_) => return StreamEnd::NotStarted,
        Err(_) if sent.timed_out => return StreamEnd::Hung,
        Err(_) => return StreamEnd::NotStarted,
    };
    if sent.timed_out {
        return StreamEnd::Hung;
    }
    let reading = read_stream(&answer.body);
    if !reading.done || answer.transport_error.is_some() {
        StreamEnd::Cut
    } else if !reading.errors.is_empty() {
        StreamEnd::ErrorChunk
    } else if reading.violations.is_empty() {
        StreamEnd::Completed
    } else {
        StreamEnd::Invalid
    }
}

/// When the client received the last delta of a stream (`None`: it received none).
pub fn last_delta_ns(answer: &Answer) -> Option<u64> {
    answer
        .timed_events()
        .into_iter()
        .filter(|t| is_delta(&t.event))
        .map(|t| t.at_ns)
        .next_back()
}

/// When the client received each delta of a stream, in order.
pub fn delta_times(answer: &Answer) -> Vec<u64> {
    answer
        .timed_events()
        .into_iter()
        .filter(|t| is_delta(&t.event))
        .map(|t| t.at_ns)
        .collect()
}

fn is_delta(event: &SseEvent) -> bool {
    serde_json::from_str::<serde_json::Value>(&event.data)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(|t| DELTA_TYPES.contains(&t)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sut_kit::client::Receipt;

    fn sent(status: u16, body: &str, transport_error: Option<&str>, timed_out: bool) -> Sent {
        let mut answer = Answer {
            status,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
            transport_error: transport_error.map(str::to_owned),
            sent_ns: 1,
            receipts: vec![],
        };
        answer.receipts = vec![Receipt {
            end: answer.body.len(),
            at_ns: 5,
        }];
        Sent {
            answer: Ok(answer),
            sent_ns: 1,
            returned_ns: 6,
            timed_out,
        }
    }

    const OPEN: &str = "data: {\"type\":\"start\"}\n\ndata: {\"type\":\"start-step\"}\n\ndata: {\"type\":\"text-start\",\"id\":\"t\"}\n\ndata: {\"type\":\"text-delta\",\"id\":\"t\",\"delta\":\"a\"}\n\n";

    #[test]
    fn classifies_how_a_stream_ended() {
        let done = format!(
            "{OPEN}data: {{\"type\":\"text-end\",\"id\":\"t\"}}\n\ndata: {{\"type\":\"finish-step\"}}\n\ndata: {{\"type\":\"finish\"}}\n\ndata: [DONE]\n\n"
        );
        assert_eq!(end_of(&sent(200, &done, None, false)), StreamEnd::Completed);
        let error =
            format!("{OPEN}data: {{\"type\":\"error\",\"errorText\":\"x\"}}\n\ndata: [DONE]\n\n");
        assert_eq!(
            end_of(&sent(200, &error, None, false)),
            StreamEnd::ErrorChunk
        );
        assert_eq!(
            end_of(&sent(200, OPEN, Some("reset"), false)),
            StreamEnd::Cut
        );
        assert_eq!(
            end_of(&sent(200, OPEN, Some("timed out"), true)),
            StreamEnd::Hung
        );
        assert_eq!(end_of(&sent(503, "{}", None, false)), StreamEnd::NotStarted);
        let broken =
            "data: {\"type\":\"text-delta\",\"id\":\"t\",\"delta\":\"a\"}\n\ndata: [DONE]\n\n";
        assert_eq!(end_of(&sent(200, broken, None, false)), StreamEnd::Invalid);
        let s = sent(200, OPEN, None, false);
        assert_eq!(last_delta_ns(s.answer.as_ref().unwrap()), Some(5));
    }
}
