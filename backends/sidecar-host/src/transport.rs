//! What each sidecar architecture chooses: the socket between the Rust server and its
//! sidecars, both ways. `backends/unix` and `backends/http` each implement [`Transport`], with
//! the flags that only that choice has; everything else is written once against the trait.
//!
//! What the host tells a sidecar (where to listen, where to call tools back, which credential
//! to demand) is its environment, so a transport speaks in [`SidecarEnv`] values: the same
//! variables the two-terminal mode asks a developer to export.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use hyper_util::client::legacy::connect::Connection;
use leanspec_core::Toolbox;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::args::SidecarMode;
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

/// Environment variables for a sidecar. Tokens (credentials) never reach a log: `Debug` and
/// [`SidecarEnv::describe`] name them without their values, and the sidecar's own output is
/// redacted of them.
#[derive(Clone, Default)]
pub struct SidecarEnv {
    vars: Vec<Var>,
    /// A socket the sidecar inherits, its number in one of `vars`.
    inherited: Option<Arc<OwnedFd>>,
}

#[derive(Clone)]
struct Var {
    name: &'static str,
    value: OsString,
    token: bool,
}

impl SidecarEnv {
    /// Sets `name` (replacing an earlier value).
    pub fn set(&mut self, name: &'static str, value: impl Into<OsString>) -> &mut Self {
        self.put(name, value.into(), false)
    }

    /// Sets `name` to a credential.
    pub fn set_token(&mut self, name: &'static str, value: impl Into<OsString>) -> &mut Self {
        self.put(name, value.into(), true)
    }

    fn put(&mut self, name: &'static str, value: OsString, token: bool) -> &mut Self {
        self.vars.retain(|v| v.name != name);
        self.vars.push(Var { name, value, token });
        self
    }

    /// Hands the sidecar `socket` (it inherits the descriptor) and sets `name` to its number.
    pub fn set_inherited(&mut self, name: &'static str, socket: OwnedFd) -> &mut Self {
        self.put(name, socket.as_raw_fd().to_string().into(), false);
        self.inherited = Some(Arc::new(socket));
        self
    }

    /// The socket the sidecar inherits, if any.
    pub fn inherited(&self) -> Option<BorrowedFd<'_>> {
        self.inherited.as_deref().map(AsFd::as_fd)
    }

    /// Adds every variable of `other` (and the socket it hands over).
    pub fn extend(&mut self, other: &SidecarEnv) -> &mut Self {
        for var in &other.vars {
            self.put(var.name, var.value.clone(), var.token);
        }
        if other.inherited.is_some() {
            self.inherited = other.inherited.clone();
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_os_str())
    }

    /// Every variable, for a `Command`.
    pub fn vars(&self) -> impl Iterator<Item = (&'static str, &OsStr)> {
        self.vars.iter().map(|v| (v.name, v.value.as_os_str()))
    }

    /// The credentials' values, to redact from the sidecar's output.
    pub fn tokens(&self) -> impl Iterator<Item = &OsStr> {
        self.vars
            .iter()
            .filter(|v| v.token)
            .map(|v| v.value.as_os_str())
    }

    /// `NAME=value ...` for a log line, a credential shown as where to find it.
    pub fn describe(&self) -> String {
        let shown: Vec<String> = self
            .vars
            .iter()
            .map(|v| match v.token {
                true => format!("{}=<the token in {}>", v.name, v.name),
                false => format!("{}={}", v.name, v.value.to_string_lossy()),
            })
            .collect();
        shown.join(" ")
    }
}

impl fmt::Debug for SidecarEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}
