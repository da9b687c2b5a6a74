//! Exports for `bench/crossing.mjs`: the cost of one Rust⇄JS crossing, measured in this process.
//!
//! - JS → Rust: [`noop`] and [`echo_len`] are the cheapest `#[napi]` calls there are (no
//!   argument, and one short string argument as every `sink.write` carries); the script times
//!   millions of them with `process.hrtime.bigint()`.
//! - Rust → JS → Rust: [`tsfn_round_trips`] calls a JS function through a threadsafe function
//!   (the path every chat request takes) and awaits its return value, one call at a time, and
//!   reports each round trip in nanoseconds measured on the Rust side.
//! - A sink write: [`bench_sink`] is a real [`ChunkSink`] whose channel a tokio task drains, so
//!   the script measures what one UI chunk costs to hand over.
//!
//! None of these touch the server; they exist so the numbers come from the shipped addon.

use std::time::Instant;

use napi::Status;
use napi::bindgen_prelude::{FnArgs, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::sink::{ChunkSink, SinkShared};

/// A JS function `(i) => i` called from Rust; weak, so it never holds the process open.
pub type EchoCallback = ThreadsafeFunction<u32, u32, u32, Status, false, true>;
/// The same, for an async JS function: `async (i) => i`.
pub type AsyncEchoCallback =
    ThreadsafeFunction<FnArgs<(u32,)>, Promise<u32>, FnArgs<(u32,)>, Status, false, true>;

/// `"release"` or `"debug"`: benchmarks refuse to report numbers of a debug addon.
#[napi]
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// The cheapest call into the addon.
#[napi]
pub fn noop() {}

/// One string argument crosses (copied out of V8 as UTF-8), as in `sink.write(json)`.
#[napi]
pub fn echo_len(text: String) -> u32 {
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

/// Calls `callback(i)` `iterations` times, one after the other, from a tokio task, and returns
/// the duration of each round trip (queue onto the JS thread, call, value back) in nanoseconds.
#[napi]
pub async fn tsfn_round_trips(callback: EchoCallback, iterations: u32) -> napi::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(iterations as usize);
    for i in 0..iterations {
        let started = Instant::now();
        let back = callback.call_async_catch(i).await?;
        samples.push(started.elapsed().as_nanos() as f64);
        if back != i {
            return Err(napi::Error::from_reason(format!(
                "the callback answered {back} to {i}; it must return its argument"
            )));
        }
    }
    Ok(samples)
}

/// As [`tsfn_round_trips`], for a callback that returns a promise (the chat callback's shape):
/// the round trip includes resolving the promise and waking the Rust future.
#[napi]
pub async fn tsfn_promise_round_trips(
    callback: AsyncEchoCallback,
    iterations: u32,
) -> napi::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(iterations as usize);
    for i in 0..iterations {
        let started = Instant::now();
        let back = callback.call_async_catch(FnArgs::from((i,))).await?.await?;
        samples.push(started.elapsed().as_nanos() as f64);
        if back != i {
            return Err(napi::Error::from_reason(format!(
                "the callback resolved {back} for {i}; it must resolve its argument"
            )));
        }
    }
    Ok(samples)
}

/// A sink whose chunks a tokio task reads and discards, as the response body would.
#[napi]
pub fn bench_sink() -> ChunkSink {
    let (start_tx, _start_rx) = oneshot::channel();
    let (shared, mut receiver) = SinkShared::channel(CancellationToken::new(), start_tx);
    napi::bindgen_prelude::spawn(async move { while receiver.recv().await.is_some() {} });
    ChunkSink::new(shared)
}
