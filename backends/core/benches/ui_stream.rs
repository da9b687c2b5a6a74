//! Cost of turning one UI chunk into its SSE frame, the per-chunk work the shell adds.
//!
//! `cargo bench -p leanspec-core --bench ui_stream`

use std::hint::black_box;

use contract::ui_chunk::UiChunk;
use criterion::{Criterion, criterion_group, criterion_main};
use leanspec_core::ui_stream::encode_chunk;

fn bench_encode(c: &mut Criterion) {
    let delta = UiChunk::text_delta("txt-0", "a typical provider chunk of text ");
    c.bench_function("encode_chunk/text_delta", |b| {
        b.iter(|| encode_chunk(black_box(&delta)))
    });
    let unicode = UiChunk::text_delta("txt-0", "日本語のテキスト 👋🏽 with \"quotes\"\n");
    c.bench_function("encode_chunk/text_delta_unicode", |b| {
        b.iter(|| encode_chunk(black_box(&unicode)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench_encode
}
criterion_main!(benches);
