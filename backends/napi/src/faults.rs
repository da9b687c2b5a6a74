//! Fault-injection exports for the crash study: what a Rust panic does at each kind of boundary
//! of the addon. They refuse to run unless the server was created with
//! `--enable-fault-injection`, so a production process cannot be crashed through them.
//!
//! - [`fault_panic_sync`]: a panic in a plain synchronous `#[napi]` function. napi-rs does not
//!   catch it, the panic cannot unwind across the `extern "C"` boundary, and Rust aborts the
//!   whole process (SIGABRT, exit status 134): every in-flight request dies with it.
//! - [`fault_panic_sync_caught`]: the same panic in a `#[napi(catch_unwind)]` function becomes
//!   a JS exception the caller can catch; the process lives.
//! - [`fault_panic_async`]: a panic inside an `async` `#[napi]` function (a tokio task) ends that
//!   future only: its promise rejects and the process lives.
//!
//! The `__panic` tool takes the async path and is additionally caught by core's `Toolbox`, so
//! the model sees a tool error and the request completes (see README.md, "Faults").

use std::sync::atomic::{AtomicBool, Ordering};

use napi_derive::napi;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The panic message, so a test can find it on stderr.
pub const FAULT_PANIC_MESSAGE: &str = "fault injection: panic inside the napi addon";

pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::SeqCst);
}

fn refuse_unless_enabled() -> napi::Result<()> {
    if ENABLED.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(napi::Error::from_reason(
            "fault injection is off; create the backend with --enable-fault-injection",
        ))
    }
}

/// Panics in a synchronous export without `catch_unwind`: aborts the process.
#[napi]
pub fn fault_panic_sync() -> napi::Result<()> {
    refuse_unless_enabled()?;
    panic!("{FAULT_PANIC_MESSAGE} (sync, uncaught)");
}

/// Panics in a synchronous export with `catch_unwind`: a JS exception.
#[napi(catch_unwind)]
pub fn fault_panic_sync_caught() -> napi::Result<()> {
    refuse_unless_enabled()?;
    panic!("{FAULT_PANIC_MESSAGE} (sync, catch_unwind)");
}

/// Panics inside an async export: the returned promise rejects.
#[napi]
pub async fn fault_panic_async() -> napi::Result<()> {
    refuse_unless_enabled()?;
    panic!("{FAULT_PANIC_MESSAGE} (async)");
}
