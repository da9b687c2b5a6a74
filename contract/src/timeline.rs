//! The mock provider's timeline: what it received and sent, and when.
//!
//! The harness times each hop where it happens (docs/design.md#hops): a backend's request
//! path is the provider's arrival time minus the client's send time, chunk transit is the
//! client's receipt of text-delta k minus the provider's send of text chunk k. These are the
//! provider's half of those subtractions, as `GET /__mock/timeline` serves them. Every time is
//! nanoseconds of `CLOCK_MONOTONIC` ([`crate::clock::monotonic_ns`]).

use serde::{Deserialize, Serialize};

/// `GET /__mock/timeline[?tag=T]`: every request the provider still remembers, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub requests: Vec<RequestTimeline>,
}

/// One `POST /v1/chat/completions`, from arrival to its last byte (or to the client leaving).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTimeline {
    /// Unique per provider process, increasing in arrival order; also sent to the client as the
    /// `x-mock-request-id` response header.
    pub id: u64,
    /// The scenario played; `None` when the request was rejected before one was known.
    pub scenario: Option<String>,
    /// The directive's `tag`, if it had one.
    pub tag: Option<String>,
    /// The step of a multi-step tool scenario this request was (0 for the first call).
    pub step: u32,
    /// Whether the client asked for a streamed answer.
    pub stream: bool,
    /// The HTTP status answered (0 until the status is decided).
    pub status: u16,
    /// When the handler saw the request: after hyper parsed its head, before the body was read.
    pub arrival_ns: u64,
    /// Every frame sent, in order. For a non-streamed answer, the one JSON body.
    pub chunks: Vec<ChunkSend>,
    /// When the last frame was handed to the server, or the request otherwise ended.
    pub end_ns: Option<u64>,
    /// When the provider saw that the client had gone before the answer was complete.
    pub client_gone_ns: Option<u64>,
    pub outcome: Outcome,
    /// The usage the answer reports (also sent in the `include_usage` chunk).
    pub usage: Option<TokenUsage>,
    /// Why the request was rejected, for 4xx/5xx answers.
    pub error: Option<String>,
}

/// One frame handed to the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSend {
    pub kind: ChunkKind,
    /// When the schedule (time to first chunk, gaps, stall) said it was due.
    pub scheduled_ns: u64,
    /// When it was handed to the server, right before the write.
    pub sent_ns: u64,
}

impl ChunkSend {
    /// How late the frame went out against its schedule (negative if early, which the provider
    /// never does on purpose).
    pub fn lateness_ns(&self) -> i64 {
        let late = i128::from(self.sent_ns) - i128::from(self.scheduled_ns);
        late.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// What a frame carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkKind {
    /// Non-empty `delta.content`: becomes exactly one `text-delta` downstream.
    Text,
    /// A `delta.tool_calls` fragment.
    ToolCall,
    /// The chunk carrying `finish_reason`.
    Finish,
    /// The `include_usage` chunk (`choices: []`).
    Usage,
    /// `data: [DONE]`.
    Done,
    /// The deliberately broken line of `malformed-chunk`.
    Malformed,
    /// The whole body of a non-streamed answer.
    Completion,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still being answered.
    InProgress,
    /// The answer was sent in full (for a stream: through `[DONE]`).
    Completed,
    /// The answer was an HTTP error (400, 429, 500, ...), as the request or scenario asked.
    Rejected,
    /// `truncated`: the provider cut the connection on purpose.
    Truncated,
    /// The client went away (or the provider shut down) before the answer was complete.
    ClientGone,
}

/// Token usage as the OpenAI API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl RequestTimeline {
    /// The frames that carried text, in order: the k-th is the one that becomes the k-th
    /// `text-delta` downstream.
    pub fn text_chunks(&self) -> impl Iterator<Item = &ChunkSend> {
        self.chunks.iter().filter(|c| c.kind == ChunkKind::Text)
    }

    /// Whether the request has ended one way or another.
    pub fn is_settled(&self) -> bool {
        self.outcome != Outcome::InProgress
    }
}

impl Timeline {
    /// The requests carrying `tag`.
    pub fn tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a RequestTimeline> {
        self.requests
            .iter()
            .filter(move |r| r.tag.as_deref() == Some(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_snake_case_kinds_and_round_trips() {
        let request = RequestTimeline {
            id: 7,
            scenario: Some("text".into()),
            tag: Some("run-1".into()),
            step: 0,
            stream: true,
            status: 200,
            arrival_ns: 1_000,
            chunks: vec![ChunkSend {
                kind: ChunkKind::ToolCall,
                scheduled_ns: 2_000,
                sent_ns: 2_500,
            }],
            end_ns: Some(3_000),
            client_gone_ns: None,
            outcome: Outcome::ClientGone,
            usage: None,
            error: None,
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["chunks"][0]["kind"], "tool_call");
        assert_eq!(json["outcome"], "client_gone");
        assert_eq!(request.chunks[0].lateness_ns(), 500);
        let back: RequestTimeline = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
        let timeline = Timeline {
            requests: vec![back],
        };
        assert_eq!(timeline.tagged("run-1").count(), 1);
        assert_eq!(timeline.tagged("run-2").count(), 0);
    }
}
