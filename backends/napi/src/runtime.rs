//! The tokio runtime the server runs on inside Node, sized to leave the JS thread a core.
//!
//! napi-rs would start one worker per core. In this architecture the JS thread is the
//! bottleneck under load (every chunk of every request goes through the AI SDK on it) and it
//! shares the machine with those workers, so the default is one worker fewer than the cores (at
//! least one; measured: docs/design.md#napi-leaves-the-js-thread-a-core).
//! `LEANSPEC_NAPI_TOKIO_WORKERS=N` overrides the default; it is read once, when Node loads the
//! addon.

use std::num::NonZeroUsize;

/// The environment variable that overrides the worker count.
pub const WORKERS_ENV: &str = "LEANSPEC_NAPI_TOKIO_WORKERS";

/// Workers for `cores` cores and an optional override; never zero.
pub fn worker_count(cores: usize, override_value: Option<&str>) -> usize {
    override_value
        .and_then(|v| v.trim().parse::<NonZeroUsize>().ok())
        .map_or_else(|| cores.saturating_sub(1).max(1), NonZeroUsize::get)
}

/// Installs the runtime before any export runs. On failure napi-rs's default runtime is used.
#[allow(unsafe_code)] // the module_init glue napi-derive generates
#[napi_derive::module_init]
fn install_runtime() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let override_value = std::env::var(WORKERS_ENV).ok();
    let workers = worker_count(cores, override_value.as_deref());
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("napi-tokio")
        .enable_all()
        .build()
    {
        Ok(runtime) => napi::bindgen_prelude::create_custom_tokio_runtime(runtime),
        Err(error) => {
            // Logging is not set up yet at load time; stderr is the only place to say it.
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "napi backend: cannot build a {workers}-worker tokio runtime ({error}); using napi-rs's default"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_core_is_left_to_the_js_thread_unless_overridden() {
        assert_eq!(worker_count(1, None), 1);
        assert_eq!(worker_count(2, None), 1);
        assert_eq!(worker_count(8, None), 7);
        assert_eq!(worker_count(2, Some("2")), 2);
        assert_eq!(worker_count(2, Some(" 4 ")), 4);
        assert_eq!(worker_count(4, Some("0")), 3, "zero is ignored");
        assert_eq!(worker_count(4, Some("many")), 3, "garbage is ignored");
    }
}
