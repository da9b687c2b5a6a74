//! The napi backend: one Node.js process hosting the Rust server as a napi-rs addon.
//!
//! Why it exists: the original notes proposed "Rust embedding Node.js via napi-rs". napi-rs
//! works the other way round: Node is the host and Rust is a library it loads. This crate is
//! that library. `main.js` loads it, hands it the AI SDK chat function, and the same server
//! shell as every other backend (`leanspec-core`) then runs on a tokio runtime inside the Node
//! process, so the measured costs of this architecture are the real ones.
//!
//! Layout:
//! - [`backend`]: the `Backend` class `main.js` drives (flags, tools, serve, shutdown);
//! - [`server`]: binding, the core shell, the ready line, graceful shutdown;
//! - [`chat`]: `NapiChat`, the `ChatBackend` that calls JS through a threadsafe function;
//! - [`sink`]: `ChunkSink`, the per-request class JS writes UI chunks into;
//! - [`runtime`]: the tokio runtime, sized to leave the JS thread a core;
//! - [`faults`]: fault-injection exports for the crash study;
//! - [`bench`]: exports the crossing micro-benchmark (`bench/crossing.mjs`) times.
//!
//! napi-derive's generated glue is `unsafe` FFI code by nature, so each module holding
//! `#[napi]` items allows `unsafe_code`; no hand-written `unsafe` exists in the crate.

#[allow(unsafe_code)]
pub mod backend;
#[allow(unsafe_code)]
pub mod bench;
pub mod chat;
#[allow(unsafe_code)]
pub mod faults;
pub mod runtime;
pub mod server;
#[allow(unsafe_code)]
pub mod sink;
