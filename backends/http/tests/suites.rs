//! The http backend, its binary started from its manifest, through the suites every backend
//! passes (`conformance::target`); and its sidecar's end with it, on SIGTERM and on SIGKILL.
//! The cases of its transport run in `backends/sidecar-host/tests`, with the other transport's.
//! The same suites run on its `frames` wire (`http+frames`, docs/frames.md).

conformance::backend_suites!("http", runtime_process);

/// `http+frames`: the same binary with `--sidecar-wire frames`.
mod frames_wire {
    conformance::backend_suites!("http+frames");
}
