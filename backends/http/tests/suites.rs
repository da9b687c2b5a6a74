//! The http backend, its binary started from its manifest, through the suites every backend
//! passes (`conformance::target`); and its sidecar's end with it, on SIGTERM and on SIGKILL.
//! The cases of its transport run in `backends/sidecar-host/tests`, with the other transport's.
//! `http` runs the `frames` wire (the default); the same suites run on its `sse` wire
//! (`http+sse`, docs/frames.md#which-wire-by-default).

conformance::backend_suites!("http", runtime_process);

/// `http+sse`: the same binary with `--sidecar-wire sse`.
mod sse_wire {
    conformance::backend_suites!("http+sse");
}
