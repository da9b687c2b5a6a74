//! Who can reach the http backend's sidecar and tool callbacks: loopback, with the token.

use sidecar_host::testkit::security;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_and_tool_listener_demand_the_token_on_loopback() {
    security::http_listeners_demand_the_token().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_routes_are_not_on_the_public_listener() {
    security::tools_are_not_public(backend_http::TRANSPORT).await;
}
