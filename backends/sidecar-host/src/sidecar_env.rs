//! What the host tells a sidecar: where to listen, where to call tools back, which credential
//! to demand, as environment variables (the same ones the two-terminal mode asks a developer to
//! export), and a socket it may inherit. Its own module because the transports build these
//! values and the tool listener carries one, and neither should import the other for it.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

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
