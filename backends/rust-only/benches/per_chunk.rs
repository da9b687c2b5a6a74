//! CPU cost of one provider text chunk inside the backend, without the network: parsing the
//! chunk into async-openai's type (what its client does per event), and the tool loop's own
//! work (the UI chunk and its frame). The end-to-end figure is `harness bench`'s.
//!
//! `cargo bench -p backend-rust-only --bench per_chunk`

use std::collections::HashSet;
use std::hint::black_box;

use async_openai::types::chat::CreateChatCompletionStreamResponse;
use backend_rust_only::frames;
use backend_rust_only::step::{Step, TextIds};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// A text chunk as the mock provider (and OpenAI) sends it.
const CHUNK_JSON: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764130000,"model":"mock-gpt","choices":[{"index":0,"delta":{"content":"bravo12 "},"finish_reason":null}]}"#;

fn parse() -> CreateChatCompletionStreamResponse {
    serde_json::from_str(CHUNK_JSON).expect("a valid chunk")
}

fn bench_per_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_text_chunk");
    group.bench_function("parse (async-openai type)", |b| {
        b.iter(|| {
            black_box(serde_json::from_str::<CreateChatCompletionStreamResponse>(
                black_box(CHUNK_JSON),
            ))
        })
    });
    group.bench_function("frame only", |b| {
        b.iter(|| black_box(frames::text_delta(black_box("0"), black_box("bravo12 "))))
    });
    let known = HashSet::new();
    let mut ids = TextIds::default();
    let mut step = Step::new();
    let mut out: Vec<Bytes> = Vec::with_capacity(8);
    step.on_chunk(parse(), &known, &mut ids, &mut out)
        .expect("first chunk");
    out.clear();
    group.bench_function("step (chunk to frame)", |b| {
        b.iter_batched(
            parse,
            |chunk| {
                step.on_chunk(chunk, &known, &mut ids, &mut out)
                    .expect("a text chunk");
                out.clear();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_per_chunk);
criterion_main!(benches);
