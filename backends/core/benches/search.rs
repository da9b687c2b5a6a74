//! Search latency on a generated 10,000-spec corpus, the size of the scale runs.
//!
//! `cargo bench -p leanspec-core --bench search`

use std::hint::black_box;

use contract::scenario::PARALLEL_SEARCH_QUERY;
use criterion::{Criterion, criterion_group, criterion_main};
use leanspec_core::SpecStore;
use leanspec_core::corpus_gen::generate_corpus;
use leanspec_core::spec_api::search_specs;

const CORPUS_SIZE: usize = 10_000;

fn bench_search(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    generate_corpus(dir.path(), CORPUS_SIZE, 42).expect("corpus");
    let store = SpecStore::load(dir.path()).expect("load");
    assert_eq!(store.len(), CORPUS_SIZE);

    let mut group = c.benchmark_group("search_10k");
    for query in [
        PARALLEL_SEARCH_QUERY,
        "retry policy under load",
        "chat sidecar architecture",
    ] {
        group.bench_function(query, |b| {
            b.iter(|| search_specs(black_box(&store), black_box(query)).expect("search"))
        });
    }
    // The index alone, without building the JSON answer and snippets.
    group.bench_function("index_only/streaming", |b| {
        b.iter(|| {
            black_box(&store)
                .search(black_box(PARALLEL_SEARCH_QUERY), 20)
                .total
        })
    });
    // What the index replaces: a scan of every spec per query, as the first version did.
    group.bench_function("scan_baseline/streaming", |b| {
        b.iter(|| {
            store
                .list(None)
                .iter()
                .filter_map(|summary| store.get(&summary.id))
                .filter(|spec| {
                    let query = black_box(PARALLEL_SEARCH_QUERY);
                    spec.summary.title.to_lowercase().contains(query)
                        || spec
                            .summary
                            .tags
                            .iter()
                            .any(|t| t.to_lowercase().contains(query))
                        || spec.body.to_lowercase().contains(query)
                })
                .count()
        })
    });
    group.finish();

    c.bench_function("load_and_index_10k", |b| {
        b.iter(|| SpecStore::load(black_box(dir.path())).expect("load"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench_search
}
criterion_main!(benches);
