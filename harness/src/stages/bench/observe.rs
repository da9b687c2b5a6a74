//! One measured conversation: what the client saw (read from the one client's timed answer),
//! joined with what the provider recorded, into the samples of each hop
//! (docs/design.md#measuring):
//! - request path = provider arrival − client send;
//! - chunk transit = client receipt of text k − provider send of text chunk k;
//! - tool turnaround = provider arrival of step n+1 − provider end of step n;
//! - TTFT = client receipt of the first text − client send; end-to-end = receipt of the end.

use contract::timeline::RequestTimeline;
use serde_json::Value;
use sut_kit::client::Answer;

/// How a target's stream carries text: the UI message stream of a backend, or the provider's
/// own OpenAI stream on the direct path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    UiMessages,
    OpenAi,
}

/// What the client saw of one conversation.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub sent_ns: u64,
    /// Each text chunk, in order: when its frame arrived and what it said.
    pub texts: Vec<(u64, String)>,
    /// When the end of the stream (`[DONE]`) arrived.
    pub done_ns: Option<u64>,
    /// Why the conversation does not count as completed, if it does not.
    pub failure: Option<String>,
}

impl Observation {
    /// Reads an answer: status, text frames, `[DONE]`, error chunks.
    pub fn read(answer: &Answer, kind: StreamKind) -> Self {
        let mut seen = Self {
            sent_ns: answer.sent_ns,
            ..Self::default()
        };
        if answer.status != 200 {
            seen.failure = Some(format!("HTTP {}", answer.status));
            return seen;
        }
        for timed in answer.timed_events() {
            let data = &timed.event.data;
            if timed.event.is_done() {
                seen.done_ns = Some(timed.at_ns);
                continue;
            }
            match text_of(data, kind) {
                Frame::Text(text) => seen.texts.push((timed.at_ns, text)),
                Frame::Error(text) => {
                    seen.failure.get_or_insert(format!("error chunk: {text}"));
                }
                Frame::Other => {}
            }
        }
        if let Some(e) = &answer.transport_error {
            seen.failure.get_or_insert(format!("the stream broke: {e}"));
        }
        if seen.done_ns.is_none() {
            seen.failure.get_or_insert("no [DONE]".to_owned());
        }
        seen
    }

    pub fn completed(&self) -> bool {
        self.failure.is_none()
    }
}

enum Frame {
    Text(String),
    Error(String),
    Other,
}

/// Classifies one frame. The prefix test keeps the common case (a backend's text-delta) to one
/// parse; frames that are not JSON count as "other", the checker's business, not the bench's.
fn text_of(data: &str, kind: StreamKind) -> Frame {
    let Ok(value) = serde_json::from_str::<Value>(data) else {
        return Frame::Other;
    };
    match kind {
        StreamKind::UiMessages => match value["type"].as_str() {
            Some("text-delta") => Frame::Text(value["delta"].as_str().unwrap_or("").to_owned()),
            Some("error") => Frame::Error(value["errorText"].as_str().unwrap_or("").to_owned()),
            _ => Frame::Other,
        },
        StreamKind::OpenAi => {
            if let Some(error) = value.get("error") {
                return Frame::Error(error.to_string());
            }
            match value["choices"][0]["delta"]["content"].as_str() {
                Some(text) if !text.is_empty() => Frame::Text(text.to_owned()),
                _ => Frame::Other,
            }
        }
    }
}

/// The samples one conversation gives, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub request_path: Option<u64>,
    pub chunk_transit: Vec<u64>,
    pub ttft: Option<u64>,
    pub e2e: Option<u64>,
    pub tool_turnaround: Vec<u64>,
    /// Text chunks the provider sent that the client never saw.
    pub lost_chunks: u64,
    /// Text chunks the client saw in another position than the provider sent them.
    pub reordered_chunks: u64,
    /// How late each frame left the provider against its schedule.
    pub mock_lateness: Vec<u64>,
}

/// Joins an observation with the provider's records of the same conversation (every step,
/// any order). `expected` is the text the provider sends, chunk by chunk, when the scenario
/// fixes it: the sequence check.
pub fn join(
    seen: &Observation,
    requests: &[RequestTimeline],
    expected: Option<&[String]>,
) -> Samples {
    let mut steps: Vec<&RequestTimeline> = requests.iter().collect();
    steps.sort_by_key(|r| (r.step, r.arrival_ns));
    let mut samples = Samples {
        ttft: seen
            .texts
            .first()
            .map(|(at, _)| at.saturating_sub(seen.sent_ns)),
        e2e: seen.done_ns.map(|at| at.saturating_sub(seen.sent_ns)),
        request_path: steps
            .first()
            .map(|r| r.arrival_ns.saturating_sub(seen.sent_ns)),
        ..Samples::default()
    };
    let sent: Vec<u64> = steps
        .iter()
        .flat_map(|r| r.text_chunks().map(|c| c.sent_ns))
        .collect();
    samples.chunk_transit = seen
        .texts
        .iter()
        .zip(&sent)
        .map(|((got, _), sent)| got.saturating_sub(*sent))
        .collect();
    samples.lost_chunks = sent.len().saturating_sub(seen.texts.len()) as u64;
    if let Some(expected) = expected {
        samples.reordered_chunks = seen
            .texts
            .iter()
            .enumerate()
            .filter(|(k, (_, text))| {
                expected.get(*k) != Some(text) && expected.iter().any(|e| e == text)
            })
            .count() as u64;
    }
    samples.tool_turnaround = steps
        .windows(2)
        .filter_map(|pair| Some(pair[1].arrival_ns.saturating_sub(pair[0].end_ns?)))
        .collect();
    samples.mock_lateness = steps
        .iter()
        .flat_map(|r| r.chunks.iter().map(|c| c.lateness_ns().max(0) as u64))
        .collect();
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::timeline::{ChunkKind, ChunkSend, Outcome};

    fn request(step: u32, arrival: u64, texts: &[u64], end: u64) -> RequestTimeline {
        RequestTimeline {
            id: u64::from(step),
            scenario: Some("text".into()),
            tag: Some("t".into()),
            step,
            stream: true,
            status: 200,
            arrival_ns: arrival,
            chunks: texts
                .iter()
                .map(|&t| ChunkSend {
                    kind: ChunkKind::Text,
                    scheduled_ns: t - 10,
                    sent_ns: t,
                })
                .collect(),
            end_ns: Some(end),
            client_gone_ns: None,
            outcome: Outcome::Completed,
            usage: None,
            error: None,
        }
    }

    #[test]
    fn each_hop_is_timed_where_it_happens() {
        let seen = Observation {
            sent_ns: 1_000,
            texts: vec![(5_500, "a ".into()), (6_700, "b ".into())],
            done_ns: Some(7_000),
            failure: None,
        };
        // Two steps, out of order: step 1 carries the text.
        let requests = [
            request(1, 4_000, &[5_000, 6_000], 6_500),
            request(0, 1_300, &[], 3_000),
        ];
        let expected = ["a ".to_owned(), "b ".to_owned()];
        let s = join(&seen, &requests, Some(&expected));
        assert_eq!(s.request_path, Some(300));
        assert_eq!(s.chunk_transit, [500, 700]);
        assert_eq!(s.ttft, Some(4_500));
        assert_eq!(s.e2e, Some(6_000));
        assert_eq!(s.tool_turnaround, [1_000]);
        assert_eq!((s.lost_chunks, s.reordered_chunks), (0, 0));
        assert_eq!(s.mock_lateness, [10, 10]);
    }

    #[test]
    fn lost_and_reordered_chunks_are_counted() {
        let seen = Observation {
            sent_ns: 0,
            texts: vec![(100, "b ".into()), (200, "a ".into())],
            done_ns: Some(300),
            failure: None,
        };
        let requests = [request(0, 1, &[50, 60, 70], 80)];
        let expected = ["a ".to_owned(), "b ".to_owned(), "c ".to_owned()];
        let s = join(&seen, &requests, Some(&expected));
        assert_eq!((s.lost_chunks, s.reordered_chunks), (1, 2));
    }

    #[test]
    fn frames_of_both_stream_kinds() {
        let ui = r#"{"type":"text-delta","id":"0","delta":"hi"}"#;
        assert!(matches!(text_of(ui, StreamKind::UiMessages), Frame::Text(t) if t == "hi"));
        let err = r#"{"type":"error","errorText":"provider returned HTTP 500"}"#;
        assert!(matches!(
            text_of(err, StreamKind::UiMessages),
            Frame::Error(_)
        ));
        let openai = r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#;
        assert!(matches!(text_of(openai, StreamKind::OpenAi), Frame::Text(t) if t == "hi"));
        let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
        assert!(matches!(text_of(role, StreamKind::OpenAi), Frame::Other));
        assert!(matches!(
            text_of("not json", StreamKind::OpenAi),
            Frame::Other
        ));
    }
}
