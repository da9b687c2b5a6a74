//! The non-streamed answer (`stream: false`): the whole completion at once, when the schedule
//! says the last chunk would have been sent. Fault scenarios keep their meaning: `stall` delays
//! the answer by `stall_ms`, `malformed-chunk` answers with a body that is not JSON, and
//! `truncated` sends half the body and aborts the connection.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use contract::clock::monotonic_ns;
use contract::timeline::{ChunkKind, Outcome, TokenUsage};
use futures::StreamExt as _;

use crate::chunks::ChunkFactory;
use crate::script::{Fault, Script};
use crate::stream::{Schedule, Truncated};
use crate::timeline::Recorder;
use crate::timer::Timer;

/// What `malformed-chunk` answers without streaming: the start of a completion, cut short.
const MALFORMED_BODY: &str = r#"{"id":"chatcmpl-mock","object":"chat.completion","choices":[{"#;

pub async fn complete(
    script: Script,
    factory: ChunkFactory,
    schedule: Schedule,
    usage: TokenUsage,
    recorder: Recorder,
    timer: Timer,
) -> Response {
    let due = schedule.end();
    timer.sleep_until(due).await;
    let json_response = |body: Body| {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    };
    match script.fault {
        Some(Fault::Malformed { .. }) => {
            recorder.chunk(ChunkKind::Malformed, due, monotonic_ns());
            recorder.finish(Outcome::Completed, monotonic_ns());
            json_response(Body::from(MALFORMED_BODY))
        }
        Some(Fault::Truncate { .. }) => {
            let json = serde_json::to_vec(&factory.completion(&script, usage)).unwrap_or_default();
            let cut = json.len() / 2;
            let half = Bytes::from(json).slice(..cut);
            recorder.chunk(ChunkKind::Completion, due, monotonic_ns());
            recorder.finish(Outcome::Truncated, monotonic_ns());
            // Yield between the half and the error so hyper sends the half before aborting.
            let cut_off = futures::stream::once(async {
                tokio::task::yield_now().await;
                Err::<Bytes, _>(Truncated)
            });
            let body = futures::stream::once(async { Ok(half) }).chain(cut_off);
            json_response(Body::from_stream(body))
        }
        _ => {
            let body = axum::Json(factory.completion(&script, usage)).into_response();
            recorder.chunk(ChunkKind::Completion, due, monotonic_ns());
            recorder.finish(Outcome::Completed, monotonic_ns());
            body
        }
    }
}
