//! The Rust half shared by the two sidecar architectures, `backends/unix` and `backends/http`:
//! a Rust server (the core shell) that starts Node.js sidecars running the AI SDK, keeps them
//! alive, and relays `/api/chat` to them as a stream.
//!
//! Why one crate for both: the two architectures differ only in the socket between the
//! processes, so everything else is written once against the [`Transport`] trait, which each
//! backend folder implements with its own flags. Layout:
//!
//! - [`transport`]: the [`Transport`] and [`Endpoint`] traits; [`sidecar_env`]: [`SidecarEnv`],
//!   the environment a sidecar is told everything by;
//! - [`client`]: the keep-alive HTTP/1 client to one sidecar, over its endpoint;
//! - [`sidecar`]: starting one sidecar (environment, spawn with our death, ready line);
//! - [`member`]: one supervised sidecar: health probes, restart with backoff; [`hang`]: when a
//!   sidecar that runs but answers nothing is hung (stopped) rather than busy;
//! - [`pool`]: `--sidecars N` with least-connections routing;
//! - [`relay`]: `/api/chat` streamed through, a broken stream ended with `error` + `[DONE]`
//!   (the `sse` wire);
//! - [`frames`], [`frames_relay`]: the `frames` wire (docs/frames.md): every stream of a sidecar
//!   multiplexed on one connection, the SSE written here;
//! - [`tool_listener`]: serving the internal listener tools are called back on;
//! - [`backend`]: all of it as core's `ChatBackend`; [`host`]: the whole server and its
//!   command line, for the bins;
//! - [`args`]: the sidecar flags both bins add to core's `ServerArgs`.
//!
//! The tests in `tests/` run every case on both transports (`backend-unix`'s and
//! `backend-http`'s, dev-dependencies of this crate).

pub mod args;
pub mod backend;
pub mod client;
pub mod frames;
pub mod frames_relay;
pub mod hang;
pub mod host;
pub mod member;
pub mod pool;
pub mod relay;
pub mod sidecar;
pub mod sidecar_env;
pub mod tool_listener;
pub mod transport;

pub use args::{SidecarArgs, SidecarMode, SidecarWire};
pub use backend::SidecarBackend;
pub use client::SidecarClient;
pub use host::{Cli, Host};
pub use pool::{Pool, PoolHealth};
pub use sidecar_env::SidecarEnv;
pub use transport::{Endpoint, Transport};

/// An endpoint for unit tests of what never dials it (routing, phases).
#[cfg(test)]
mod testing {
    use std::fmt;
    use std::io;

    #[derive(Debug, Clone, PartialEq)]
    pub struct NowhereEndpoint;

    impl fmt::Display for NowhereEndpoint {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("nowhere")
        }
    }

    impl crate::Endpoint for NowhereEndpoint {
        type Stream = tokio::net::UnixStream;

        async fn connect(&self) -> io::Result<Self::Stream> {
            Err(io::Error::new(io::ErrorKind::NotFound, "nowhere"))
        }

        fn uri(&self, path: &str) -> String {
            format!("http://nowhere{path}")
        }

        fn bearer_token(&self) -> Option<&str> {
            None
        }
    }
}
