//! The napi backend, `node backends/napi/main.js` started from its manifest, through the suites
//! every backend passes (`conformance::target`): the conformance suite (every scenario read by
//! the Rust checker and the AI SDK's client code, headers, every error status of
//! docs/design.md#error-bodies but 503, the instance checks) and the parity suite (the AI SDK's
//! own `streamText` answers and the rust-only backend's). 503 means "the JS runtime is down or
//! restarting", and here the runtime is the process: no request can find the server up and the
//! runtime down (README.md, "Errors").

conformance::backend_suites!("napi");
