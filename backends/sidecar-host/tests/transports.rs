//! Every case of the sidecar host, run on both transports: `backend-unix`'s (Unix sockets) and
//! `backend-http`'s (loopback TCP with tokens). A case is written once, generic over the
//! transport, in `cases/`; [`on_both_transports!`] makes a test of it in `mod unix` and in
//! `mod http`. A stack takes the binaries' default wire (`StackOptions::default()`); the cases
//! where the wire changes what happens (a stream's life, supervision, the hang and busy watch,
//! restarts, what is logged, a stalled reader) run on every wire instead, through
//! [`on_every_wire!`] (`mod frames_wire`, `mod sse_wire`; docs/frames.md). The cases only one
//! transport has (who may reach its sockets) come last.
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

/// A test per case, transport and wire: the `both` cases on both transports, the `http` ones
/// (not generic over the transport) on http; each case takes the wire as its one argument.
macro_rules! on_every_wire {
    (
        both: [$($module:ident::$case:ident),* $(,)?],
        http: [$($hmodule:ident::$hcase:ident),* $(,)?] $(,)?
    ) => {
        // A wire added to `SidecarWire` fails to compile here until it has its module below.
        const _: fn(sidecar_host::SidecarWire) = |wire| match wire {
            sidecar_host::SidecarWire::Frames | sidecar_host::SidecarWire::Sse => {}
        };
        on_every_wire!(@wire frames_wire, Frames, [$($module::$case),*], [$($hmodule::$hcase),*]);
        on_every_wire!(@wire sse_wire, Sse, [$($module::$case),*], [$($hmodule::$hcase),*]);
    };
    (@wire $name:ident, $wire:ident,
        [$($module:ident::$case:ident),*], [$($hmodule:ident::$hcase:ident),*]) => {
        mod $name {
            on_both_transports!($($module::$case(sidecar_host::SidecarWire::$wire)),*);
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $hcase() {
                    crate::cases::$hmodule::$hcase(sidecar_host::SidecarWire::$wire).await;
                }
            )*
        }
    };
}

on_both_transports!(
    supervision::a_missing_sidecar_bundle_fails_startup_at_once_with_the_fix(),
    external::an_external_sidecar_started_by_hand_serves(),
    security::tool_routes_are_not_on_the_public_listener(),
);

on_every_wire!(
    both: [
        supervision::sigkilled_sidecar_answers_503_ends_the_stream_and_comes_back,
        supervision::a_pool_keeps_serving_while_a_killed_member_restarts,
        supervision::a_sidecar_that_stops_answering_is_killed_and_replaced,
        supervision::a_busy_sidecar_is_not_taken_for_a_hung_one,
        supervision::fault_tools_panic_is_a_tool_error_crash_restarts_the_sidecar,
        streaming::frames_reach_the_client_while_the_provider_still_sends,
        streaming::a_client_hang_up_cancels_the_provider_request,
        security::a_canary_api_key_appears_in_no_log,
    ],
    http: [stalled::a_stalled_client_fills_at_most_the_capped_buffers_to_an_http_sidecar],
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_sockets_are_0600_in_a_0700_directory() {
    cases::security::unix_sockets_are_0600_in_a_0700_directory().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sidecar_and_tool_listener_demand_the_token_on_loopback() {
    cases::security::http_sidecar_and_tool_listener_demand_the_token_on_loopback().await;
}
