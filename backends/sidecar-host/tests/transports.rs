//! Every case of the sidecar host, run on both transports: `backend-unix`'s (Unix sockets) and
//! `backend-http`'s (loopback TCP with tokens). A case is written once, generic over the
//! transport, in `cases/`; [`on_both_transports!`] makes a test of it in `mod unix` and in
//! `mod http`; the cases of a stream's life run again on the `frames` wire (`mod frames_wire`).
//! The cases only one transport has (who may reach its sockets) come last.
//!
//! The suites every backend passes (conformance, parity) run from each backend's own tests
//! (`backends/unix/tests`, `backends/http/tests`), against its binary.

mod cases;
mod support;

/// A test per case and transport, named after the case.
macro_rules! on_both_transports {
    ($($module:ident::$case:ident($($arg:expr),*)),* $(,)?) => {
        mod unix {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$module::$case::<backend_unix::UnixTransport>($($arg),*).await;
                }
            )*
        }
        mod http {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$module::$case::<backend_http::HttpTransport>($($arg),*).await;
                }
            )*
        }
    };
}

on_both_transports!(
    supervision::sigkilled_sidecar_answers_503_ends_the_stream_and_comes_back(
        sidecar_host::SidecarWire::Sse
    ),
    supervision::a_pool_keeps_serving_while_a_killed_member_restarts(),
    supervision::a_sidecar_that_stops_answering_is_killed_and_replaced(),
    supervision::a_busy_sidecar_is_not_taken_for_a_hung_one(),
    supervision::a_missing_sidecar_bundle_fails_startup_at_once_with_the_fix(),
    supervision::fault_tools_panic_is_a_tool_error_crash_restarts_the_sidecar(),
    streaming::frames_reach_the_client_while_the_provider_still_sends(
        sidecar_host::SidecarWire::Sse
    ),
    streaming::a_client_hang_up_cancels_the_provider_request(sidecar_host::SidecarWire::Sse),
    external::an_external_sidecar_started_by_hand_serves(),
    security::tool_routes_are_not_on_the_public_listener(),
    security::a_canary_api_key_appears_in_no_log(),
);

/// The cases of a stream's life on the `frames` wire (docs/frames.md), on both transports.
mod frames_wire {
    on_both_transports!(
        supervision::sigkilled_sidecar_answers_503_ends_the_stream_and_comes_back(
            sidecar_host::SidecarWire::Frames
        ),
        streaming::frames_reach_the_client_while_the_provider_still_sends(
            sidecar_host::SidecarWire::Frames
        ),
        streaming::a_client_hang_up_cancels_the_provider_request(sidecar_host::SidecarWire::Frames),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_sockets_are_0600_in_a_0700_directory() {
    cases::security::unix_sockets_are_0600_in_a_0700_directory().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sidecar_and_tool_listener_demand_the_token_on_loopback() {
    cases::security::http_sidecar_and_tool_listener_demand_the_token_on_loopback().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_fills_at_most_the_capped_buffers_to_an_http_sidecar() {
    cases::stalled::a_stalled_client_fills_at_most_the_capped_buffers_to_an_http_sidecar().await;
}
