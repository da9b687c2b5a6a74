//! The unix backend, its binary started from its manifest, through the suites every backend
//! passes (`conformance::target`); and its sidecar's end with it, on SIGTERM and on SIGKILL.
//! The cases of its transport run in `backends/sidecar-host/tests`, with the other transport's.
//! `unix` runs the `frames` wire (the default); the same suites run on its `sse` wire
//! (`unix+sse`, docs/frames.md#which-wire-by-default).

conformance::backend_suites!("unix", runtime_process);

/// `unix+sse`: the same binary with `--sidecar-wire sse`.
mod sse_wire {
    conformance::backend_suites!("unix+sse");
}
