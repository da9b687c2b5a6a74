//! Bad input through the unix backend: every error status, as the JSON error body.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_is_a_json_error() {
    sidecar_host::testkit::errors::every_error_status(backend_unix::TRANSPORT).await;
}
