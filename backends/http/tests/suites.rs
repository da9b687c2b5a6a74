//! The http backend, its binary started from its manifest, through the suites every backend
//! passes (`conformance::target`); and its sidecar's end with it, on SIGTERM and on SIGKILL.
//! The cases of its transport run in `backends/sidecar-host/tests`, with the other transport's.

conformance::backend_suites!("http", runtime_process);
