//! The rust-only backend, its binary started from its manifest, through the suites every
//! backend passes (`conformance::target`): every stream read by the AI SDK's own client code
//! as by the Rust checker, and the final messages of completed answers (a second turn after
//! tool calls included) equal to what the AI SDK's own `streamText` builds.

conformance::backend_suites!("rust-only");
