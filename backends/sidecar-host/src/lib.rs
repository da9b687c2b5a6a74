//! The Rust half shared by the two sidecar architectures, `backends/unix` and `backends/http`:
//! a Rust server (the core shell) that starts Node.js sidecars running the AI SDK, keeps them
//! alive, and relays `/api/chat` to them as a stream.
//!
//! Why one crate for both: the two architectures differ only in the socket between the
//! processes, so everything else is written once and the transport is a value
//! ([`TransportKind`]). Layout:
//!
//! - [`transport`]: the keep-alive HTTP/1 client over a Unix socket or loopback TCP (+ token);
//! - [`launch`]: starting one sidecar (environment, parent-death signal, logs, ready line);
//! - [`member`]: one supervised sidecar: health probes, restart with backoff;
//! - [`pool`]: `--sidecars N` with least-connections routing;
//! - [`proxy`]: the streaming relay that ends a broken stream with `error` + `[DONE]`;
//! - [`tool_listener`]: the internal listener tools are called back on;
//! - [`backend`]: all of it as core's `ChatBackend`; [`host`]: the whole server, for the bins;
//! - [`args`]: the sidecar flags both bins add to core's `ServerArgs`;
//! - `testkit` (feature `testkit`): the checks both backends' test suites run, each with its
//!   own transport, so the two are tested by the same code.

pub mod args;
pub mod backend;
pub mod host;
pub mod launch;
pub mod member;
pub mod pool;
pub mod proxy;
pub mod tool_listener;
pub mod transport;

pub use args::{SidecarArgs, SidecarMode};
pub use backend::SidecarBackend;
pub use pool::{Pool, PoolHealth};
pub use transport::{SidecarAddr, SidecarClient, TransportKind};
#[cfg(feature = "testkit")]
pub mod testkit;
