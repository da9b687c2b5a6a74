//! The generated 10,000-spec corpus: it loads, contains the scenario spec, and search returns
//! ranked results through the tools. Latency is measured by `benches/search.rs`, not here.

mod common;

use contract::scenario::{KNOWN_SPEC_ID, PARALLEL_SEARCH_QUERY};
use contract::tools::{GET_SPEC, LIST_SPECS, SEARCH_SPECS, ToolOutcome};
use leanspec_core::corpus_gen::{KNOWN_SPEC_TEXT, generate_corpus};
use leanspec_core::spec_api::DEFAULT_LIST_LIMIT;
use leanspec_core::{SpecStore, Toolbox};
use serde_json::json;
use std::sync::Arc;

const SCALE: usize = 10_000;

#[tokio::test]
async fn search_on_a_generated_10k_corpus_returns_results() {
    let dir = tempfile::tempdir().unwrap();
    generate_corpus(dir.path(), SCALE, 42).unwrap();
    let store = Arc::new(SpecStore::load(dir.path()).unwrap());
    assert_eq!(store.len(), SCALE);
    let on_disk =
        std::fs::read_to_string(dir.path().join(KNOWN_SPEC_ID).join("README.md")).unwrap();
    assert_eq!(on_disk, KNOWN_SPEC_TEXT);

    let toolbox = Toolbox::new(store.clone(), false);
    let ToolOutcome::Ok { output } = toolbox
        .execute(SEARCH_SPECS, json!({"query": PARALLEL_SEARCH_QUERY}))
        .await
    else {
        panic!("search failed")
    };
    let results = output["results"].as_array().unwrap();
    assert_eq!(results.len(), leanspec_core::spec_api::MAX_SEARCH_RESULTS);
    assert!(
        output["total"].as_u64().unwrap() > 1000,
        "{}",
        output["total"]
    );
    let scores: Vec<u64> = results
        .iter()
        .map(|r| r["score"].as_u64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {scores:?}"
    );

    // A list is one page; count tells the model how many exist.
    let ToolOutcome::Ok { output } = toolbox.execute(LIST_SPECS, json!({})).await else {
        panic!("list failed")
    };
    assert_eq!(output["count"], SCALE);
    assert_eq!(
        output["specs"].as_array().unwrap().len(),
        DEFAULT_LIST_LIMIT
    );
    assert_eq!(output["specs"][0]["id"], KNOWN_SPEC_ID);
    assert_eq!(output["next_offset"], DEFAULT_LIST_LIMIT);

    // Title words rank the known spec first for its own title.
    let found = store.search("chat sidecar architecture", 5);
    assert_eq!(found.hits[0].0.summary.id, KNOWN_SPEC_ID);
    let outcome = toolbox
        .execute(GET_SPEC, json!({"id": KNOWN_SPEC_ID}))
        .await;
    assert!(matches!(outcome, ToolOutcome::Ok { .. }));

    // Same seed, same corpus.
    let again = tempfile::tempdir().unwrap();
    generate_corpus(again.path(), 50, 42).unwrap();
    let first = SpecStore::load(again.path()).unwrap();
    let ids: Vec<String> = first.list(None).iter().map(|s| s.id.clone()).collect();
    let expected: Vec<String> = store
        .list(None)
        .iter()
        .take(50)
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(ids, expected);
}
