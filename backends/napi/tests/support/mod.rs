//! What the napi tests share beyond the test stack (`conformance`): a chat in one call, a text
//! answer of a given length and pace, and `node` run in the repository on the built addon.
//!
//! The addon must be built first (`backends/napi/scripts/build-addon debug`, which
//! `scripts/setup` runs); a test that finds it missing fails saying so, rather than building it
//! under cargo's lock.

#![allow(dead_code)] // each test binary uses part of this module

use std::process::{Output, Stdio};

use conformance::cases;
use contract::scenario::Scenario;
use sut_kit::client::{self, Answer};

/// Posts a chat whose one user message is `text` to the napi server at `url`; the whole answer.
pub async fn chat(url: &str, text: &str) -> Answer {
    let http = client::http_client().expect("the test client");
    let body = cases::single_turn("chat-1", text.to_owned());
    client::post_chat(&http, url, &body)
        .await
        .expect("the server answers")
}

/// A fast text answer tagged `tag`: `chunks` words, one every `gap_ms`.
pub fn text(tag: &str, chunks: u32, gap_ms: u64) -> String {
    let mut directive = cases::directive(Scenario::Text, tag, false);
    directive.params.chunks = chunks;
    directive.params.gap_ms = gap_ms;
    directive.render()
}

/// Runs `node <args>` in the repository root on the built addon; its output.
pub async fn node(args: &[&str]) -> Output {
    let addon = sut_kit::repo_root().join("backends/napi/backend_napi.node");
    assert!(
        addon.exists(),
        "{} is missing: run `backends/napi/scripts/build-addon debug` (or `scripts/setup`) first",
        addon.display()
    );
    let node =
        contract::runtime::resolve(&sut_kit::repo_root(), contract::runtime::DEFAULT_RUNTIME)
            .expect("the pinned Node.js is installed (scripts/setup)");
    tokio::process::Command::new(node.binary)
        .args(args)
        .current_dir(sut_kit::repo_root())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("node runs")
}
