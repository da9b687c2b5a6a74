//! What each sidecar architecture chooses: the socket between the Rust server and its
//! sidecars, both ways. `backends/unix` and `backends/http` each implement [`Transport`], with
//! the flags that only that choice has; everything else is written once against the trait.
//!
//! What the host tells a sidecar (where to listen, where to call tools back, which credential
//! to demand) is its environment, so a transport speaks in [`SidecarEnv`] values: the same
//! variables the two-terminal mode asks a developer to export.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;

use hyper_util::client::legacy::connect::Connection;
use leanspec_core::Toolbox;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::args::SidecarMode;
use crate::sidecar_env::SidecarEnv;
use crate::tool_listener::ToolListener;

/// One sidecar architecture's transport.
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// How the server reaches one sidecar.
    type Endpoint: Endpoint;

    /// The backend's name, in its ready line, `/health` and logs.
    const NAME: &'static str;

    /// Opens the internal listener the sidecars call `tools` back on, inside the private
    /// `runtime_dir`, with this transport's credential; `mode` says whether the sidecars are
    /// ours or started by hand (whose credential both terminals must know).
    fn open_tool_listener(
        &self,
        tools: Toolbox,
        runtime_dir: &Path,
        mode: SidecarMode,
    ) -> anyhow::Result<ToolListener>;

    /// The environment that tells managed member `member`'s sidecar where to listen.
    fn listen_env(&self, runtime_dir: &Path, member: usize) -> io::Result<SidecarEnv>;

    /// The endpoint of a sidecar started with `listen` (from [`Transport::listen_env`]) whose
    /// ready line announced `url`; why not, when `url` is not what it was told.
    fn endpoint(&self, listen: &SidecarEnv, url: &str) -> Result<Self::Endpoint, &'static str>;

    /// The sidecars `--sidecar external` connects to, from this transport's own flags.
    fn external_endpoints(&self) -> anyhow::Result<Vec<Self::Endpoint>>;
}

/// Where one sidecar listens, and the credential it demands. `Display` and `Debug` never show
/// the credential.
pub trait Endpoint: fmt::Display + fmt::Debug + Clone + PartialEq + Send + Sync + 'static {
    /// A connection to the sidecar.
    type Stream: AsyncRead + AsyncWrite + Connection + Unpin + Send + 'static;

    /// Dials the sidecar.
    fn connect(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// The request URI for `path` (with a socket path, the authority is only a Host header).
    fn uri(&self, path: &str) -> String;

    /// The bearer token every request must carry, if the sidecar demands one.
    fn bearer_token(&self) -> Option<&str>;
}
