//! The API key never reaches the log, the server's or the sidecar's (its own binary: the log
//! capture is process-wide).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_api_key_appears_in_no_log() {
    let log = sidecar_host::testkit::capture_logs();
    sidecar_host::testkit::security::api_key_is_never_logged(backend_http::TRANSPORT, log).await;
}
