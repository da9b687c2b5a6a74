//! The http backend against the conformance suite, read by the Rust checker and the AI SDK's
//! own client code, with the same final messages as the rust-only backend.

use backend_http::TRANSPORT;
use sidecar_host::testkit::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_conforms_and_matches_rust_only() {
    conformance::suite_and_parity(TRANSPORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_tools_panic_is_a_tool_error_crash_restarts_the_sidecar() {
    conformance::fault_tools(TRANSPORT).await;
}
