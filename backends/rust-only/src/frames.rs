//! UI message stream frames: one `data: <json>\n\n` per chunk, one allocation each, by the
//! shell's own encoder (`leanspec_core::ui_stream`), so every backend frames alike.
//!
//! The hot path is the text delta, one per provider chunk. [`text_delta`] serialises it from
//! borrowed strings, without building a `UiChunk`; every other chunk goes through
//! [`contract::ui_chunk::UiChunk`], and a test pins the fast path to the contract's
//! serialisation.

use bytes::Bytes;
use contract::ui_chunk::UiChunk;
use leanspec_core::ui_stream::{done_frame, encode_chunk, encode_frame};
use serde::Serialize;

/// The frame of any chunk.
pub fn chunk(chunk: &UiChunk) -> Bytes {
    encode_chunk(chunk)
}

/// The frame of a `text-delta`, identical to `chunk(&UiChunk::text_delta(id, delta))`.
pub fn text_delta(id: &str, delta: &str) -> Bytes {
    #[derive(Serialize)]
    struct TextDelta<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a str,
        delta: &'a str,
    }
    encode_frame(&TextDelta {
        kind: "text-delta",
        id,
        delta,
    })
}

/// The frame that ends every UI message stream.
pub fn done() -> Bytes {
    done_frame()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::sse::SseDecoder;

    fn decode(frame: &Bytes) -> UiChunk {
        let events = SseDecoder::new().push(frame);
        assert_eq!(events.len(), 1, "one frame, one event");
        UiChunk::from_json(&events[0].data).expect("a valid chunk")
    }

    #[test]
    fn the_fast_text_delta_is_the_contract_serialisation() {
        for delta in [
            "",
            "plain",
            "quote \" back\\slash",
            "line\nbreak\r\t",
            "日本語 👋🏽 é\u{1}",
        ] {
            let fast = text_delta("0", delta);
            let reference = chunk(&UiChunk::text_delta("0", delta));
            assert_eq!(fast, reference, "{delta:?}");
            assert_eq!(decode(&fast), UiChunk::text_delta("0", delta));
        }
    }

    #[test]
    fn a_huge_frame_is_built_whole() {
        // Larger than the scratch buffer the encoder keeps between frames (64 KiB).
        let delta = "x".repeat(256 * 1024);
        let frame = text_delta("0", &delta);
        assert_eq!(decode(&frame), UiChunk::text_delta("0", delta));
        assert_eq!(
            decode(&text_delta("0", "small")),
            UiChunk::text_delta("0", "small")
        );
    }

    #[test]
    fn frames_end_with_a_blank_line_and_done_is_the_sentinel() {
        let frame = chunk(&UiChunk::StartStep);
        assert_eq!(&frame[..], b"data: {\"type\":\"start-step\"}\n\n");
        assert_eq!(&done()[..], b"data: [DONE]\n\n");
    }
}
