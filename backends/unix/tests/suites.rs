//! The unix backend, its binary started from its manifest, through the suites every backend
//! passes (`conformance::target`); and its sidecar's death with it. The cases of its
//! transport run in `backends/sidecar-host/tests`, with the other transport's.

conformance::backend_suites!("unix");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sidecar_outlives_a_sigkilled_server() {
    let target = conformance::target::Target::start("unix").await;
    let outlived = target.runtime_dies_with_it().await;
    outlived.unwrap_or_else(|e| panic!("{e:#}"));
}
