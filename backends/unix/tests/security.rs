//! Who can reach the unix backend's sidecar and tool callbacks: only its own user.

use sidecar_host::testkit::security;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_0600_in_a_0700_directory() {
    security::unix_sockets_are_private().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_routes_are_not_on_the_public_listener() {
    security::tools_are_not_public(backend_unix::TRANSPORT).await;
}
