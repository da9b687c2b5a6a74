//! The supervisor of the unix backend: crash recovery, the pool, no orphans.

use backend_unix::TRANSPORT;
use sidecar_host::testkit::supervision;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_sidecar_answers_503_ends_the_stream_and_comes_back() {
    supervision::sigkill_mid_stream_recovers(TRANSPORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_keeps_serving_while_a_killed_member_restarts() {
    supervision::pool_survives_a_member(TRANSPORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_node_process_survives_a_sigkilled_server() {
    supervision::no_orphan_after_sigkill(TRANSPORT, env!("CARGO_BIN_EXE_backend-unix").as_ref())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_sidecar_started_by_hand_serves() {
    sidecar_host::testkit::external::external_sidecar_serves(TRANSPORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_and_its_sidecar() {
    supervision::sigterm_stops_server_and_sidecar(
        TRANSPORT,
        env!("CARGO_BIN_EXE_backend-unix").as_ref(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_sidecar_bundle_fails_startup_at_once_with_the_fix() {
    supervision::missing_bundle_fails_fast(TRANSPORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_that_stops_answering_is_killed_and_replaced() {
    supervision::hung_sidecar_is_replaced(TRANSPORT).await;
}
