//! The unix backend's relay: unbuffered frames, and a hang-up that reaches the provider.

use backend_unix::TRANSPORT;
use sidecar_host::testkit::streaming;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_reach_the_client_while_the_provider_still_sends() {
    streaming::frames_are_not_buffered(TRANSPORT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hang_up_cancels_the_provider_request() {
    streaming::hang_up_cancels_the_provider_request(TRANSPORT).await;
}
