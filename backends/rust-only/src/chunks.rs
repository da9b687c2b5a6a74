//! The provider's SSE body as chunks, read only as the chat loop asks for them.
//!
//! Mirrors async-openai's own decoding: `[DONE]` ends the stream, a `keepalive` event is
//! skipped, a chunk that does not parse is `JSONDeserialize`, a broken body is a
//! `StreamError`. Two shortcuts keep the common chunk cheap (docs/rust-hop.md#stage-timestamps),
//! each giving exactly what the general path gives: a read that is one whole `data:` frame is
//! taken in place instead of through the SSE decoder, and the plain text chunk is read without
//! async-openai's owned types ([`crate::fast_chunk`]).

use std::collections::VecDeque;

use async_openai::error::{OpenAIError, StreamError};
use async_openai::types::chat::CreateChatCompletionStreamResponse;
use bytes::Bytes;
use contract::sse::{SseDecoder, SseEvent};
use futures::{Stream, StreamExt};
use leanspec_core::stage_clock::{self, Stage};

use crate::fast_chunk;

/// One provider chunk: most are plain text, read without async-openai's owned types
/// ([`crate::fast_chunk`]); every other one in those types.
#[derive(Debug)]
pub enum ProviderChunk {
    /// A chunk whose only delta is this `content`.
    Text(String),
    Full(Box<CreateChatCompletionStreamResponse>),
}

/// A provider response's chunks, as [`crate::Provider::stream`] hands them to the tool loop.
pub type ProviderStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<ProviderChunk, OpenAIError>> + Send>>;

/// The provider's SSE body as completion chunks, read only as they are asked for (see the
/// module docs). Mirrors async-openai's own decoding: `[DONE]` ends the stream, a `keepalive`
/// event is skipped, a chunk that does not parse is `JSONDeserialize`, a broken body is a
/// `StreamError`.
pub(crate) fn chunks_on_demand(
    body: impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
) -> impl Stream<Item = Result<ProviderChunk, OpenAIError>> + Send {
    struct State<B> {
        body: std::pin::Pin<Box<B>>,
        decoder: SseDecoder,
        ready: VecDeque<SseEvent>,
        /// The decoder is at a frame boundary (its last read ended in a blank line), so a read
        /// that is one whole `data:` frame may skip it ([`fast_chunk::lone_data_frame`]).
        at_boundary: bool,
        done: bool,
    }
    let state = State {
        body: Box::pin(body),
        decoder: SseDecoder::new(),
        ready: VecDeque::new(),
        at_boundary: false,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(event) = st.ready.pop_front() {
                if event.data == "[DONE]" {
                    return None;
                }
                if event.event.as_deref() == Some("keepalive") {
                    continue;
                }
                let chunk = decode_chunk(&event.data);
                stage_clock::mark(Stage::JsonDecoded);
                return Some((chunk, st));
            }
            match st.body.next().await {
                Some(Ok(bytes)) => {
                    stage_clock::mark(Stage::BodyRead);
                    // Nearly every read is one chunk's frame: its data is read in place, without
                    // the decoder's event and its allocations (docs/rust-hop.md#stage-timestamps).
                    if st.at_boundary
                        && let Some(data) = fast_chunk::lone_data_frame(&bytes)
                    {
                        stage_clock::mark(Stage::SseDecoded);
                        if data == "[DONE]" {
                            return None;
                        }
                        let chunk = decode_chunk(data);
                        stage_clock::mark(Stage::JsonDecoded);
                        return Some((chunk, st));
                    }
                    let ready = &mut st.ready;
                    st.decoder.push_with(&bytes, |event| ready.push_back(event));
                    st.at_boundary = bytes.ends_with(b"\n\n");
                    stage_clock::mark(Stage::SseDecoded);
                }
                Some(Err(e)) => {
                    st.done = true;
                    let error = StreamError::EventStream(e.to_string());
                    return Some((Err(OpenAIError::StreamError(Box::new(error))), st));
                }
                None => return None,
            }
        }
    })
}

/// One event's data as a provider chunk: the plain text shape without async-openai's types,
/// anything else in them; data that is not a chunk is async-openai's `JSONDeserialize`.
fn decode_chunk(data: &str) -> Result<ProviderChunk, OpenAIError> {
    match fast_chunk::plain_text(data) {
        Some(text) => Ok(ProviderChunk::Text(text.into_owned())),
        None => serde_json::from_str(data)
            .map(|chunk| ProviderChunk::Full(Box::new(chunk)))
            .map_err(|e| OpenAIError::JSONDeserialize(e, data.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk frame as the provider sends it.
    const CHUNK: &[u8] = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n";

    #[tokio::test]
    async fn the_body_is_read_only_as_far_as_chunks_are_taken() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // An endless provider: it would fill memory if anything read ahead of the consumer.
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let body = futures::stream::repeat_with(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(Bytes::from_static(CHUNK))
        });
        let mut chunks = Box::pin(chunks_on_demand(body));
        for _ in 0..3 {
            let chunk = chunks.next().await.expect("a chunk").expect("it parses");
            assert!(
                matches!(chunk, ProviderChunk::Text(ref t) if t == "a"),
                "{chunk:?}"
            );
        }
        assert_eq!(
            pulled.load(Ordering::Relaxed),
            3,
            "one body read per chunk taken, none ahead"
        );
    }

    #[tokio::test]
    async fn done_ends_the_chunks_and_a_chunk_that_does_not_parse_is_an_error() {
        let body = futures::stream::iter([
            Ok(Bytes::from_static(b": keepalive\n\n")),
            Ok(Bytes::from_static(CHUNK)),
            Ok(Bytes::from_static(b"data: [DONE]\n\n")),
            Ok(Bytes::from_static(CHUNK)),
        ]);
        let got: Vec<_> = chunks_on_demand(body).collect().await;
        assert_eq!(got.len(), 1);
        assert!(got[0].is_ok());

        let bad = futures::stream::iter([Ok(Bytes::from_static(b"data: {not json\n\n"))]);
        let got: Vec<_> = chunks_on_demand(bad).collect().await;
        assert!(matches!(got[..], [Err(OpenAIError::JSONDeserialize(..))]));
    }

    /// What the provider's reads give through the SSE decoder alone (the reading before the
    /// in-place path): each event's chunk until `[DONE]`, keepalive events skipped.
    fn through_the_decoder(reads: &[&[u8]]) -> Vec<String> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for read in reads {
            for event in decoder.push(read) {
                if event.data == "[DONE]" {
                    return out;
                }
                if event.event.as_deref() != Some("keepalive") {
                    out.push(format!("{:?}", decode_chunk(&event.data)));
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn reads_taken_in_place_give_what_the_decoder_gives() {
        let chunk = |text: &str| {
            format!(
                "data: {{\"id\":\"c\",\"object\":\"o\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
            )
        };
        let (a, b, c) = (chunk("a"), chunk("b"), chunk("c"));
        let role = a.replace(r#""content""#, r#""role":"assistant","content""#);
        let cases: Vec<Vec<Vec<u8>>> = vec![
            // The common case: one frame per read, the first read through the decoder.
            vec![
                a.clone().into(),
                b.clone().into(),
                c.clone().into(),
                b"data: [DONE]\n\n".to_vec(),
            ],
            // A byte order mark is stripped only at the stream's start.
            vec![
                format!("\u{feff}{a}").into(),
                format!("\u{feff}{b}").into(),
                c.clone().into(),
            ],
            // A field line left pending by one read applies to the next read's data.
            vec![
                a.clone().into(),
                b"event: keepalive\n".to_vec(),
                b.clone().into(),
                c.clone().into(),
            ],
            vec![
                a.clone().into(),
                b"id: 7\n".to_vec(),
                b.clone().into(),
                c.clone().into(),
            ],
            // A frame split across reads, and a CR-LF split across reads.
            vec![
                a.clone().into(),
                b[..20].into(),
                b[20..].into(),
                c.clone().into(),
            ],
            vec![
                a.replace("\n\n", "\r").into(),
                format!("\n\r\n{b}").into(),
                c.clone().into(),
            ],
            vec![
                a.replace("\n\n", "\r\n\r").into(),
                b"\n".to_vec(),
                b.clone().into(),
            ],
            // Two frames in one read; comments; `data:` without its space; a multi-line event.
            vec![a.clone().into(), format!("{b}{c}").into(), a.clone().into()],
            vec![a.clone().into(), b": ping\n\n".to_vec(), b.clone().into()],
            vec![
                a.clone().into(),
                b.replacen("data: ", "data:", 1).into(),
                c.clone().into(),
            ],
            vec![
                a.clone().into(),
                b"data: {\"x\":\ndata: 1}\n\n".to_vec(),
                c.clone().into(),
            ],
            // Not UTF-8, not a chunk, the role chunk, and the end mid-stream.
            vec![
                a.clone().into(),
                b"data: \xff\xfe\n\n".to_vec(),
                c.clone().into(),
            ],
            vec![
                a.clone().into(),
                b"data: {not json\n\n".to_vec(),
                c.clone().into(),
            ],
            vec![role.clone().into(), role.into(), b.clone().into()],
            vec![a.clone().into(), b"data: [DONE]\n\n".to_vec(), b.into()],
        ];
        for reads in cases {
            let slices: Vec<&[u8]> = reads.iter().map(Vec::as_slice).collect();
            let body = futures::stream::iter(reads.clone().into_iter().map(|r| Ok(Bytes::from(r))));
            let got: Vec<String> = chunks_on_demand(body)
                .map(|c| format!("{c:?}"))
                .collect()
                .await;
            assert_eq!(got, through_the_decoder(&slices), "{reads:?}");
        }
    }
}
