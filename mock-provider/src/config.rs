//! How a provider instance is set up.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The model name the mock reports when a request names none (and lists at `/v1/models`): the
/// one every server asks for by default.
pub const DEFAULT_MODEL: &str = contract::DEFAULT_MODEL;
/// Requests kept in the timeline before the oldest are dropped: a day of conformance runs, or a
/// benchmark of a few minutes at full load, at a few hundred bytes to a few KiB each.
pub const DEFAULT_TIMELINE_CAPACITY: usize = 100_000;
/// How long in-flight answers may run on after a shutdown is asked for, before their
/// connections are cut. Short enough that a process stops within 2 s (docs/design.md#shutdown).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Where [`crate::spawn`] binds; [`crate::serve`] takes a bound listener instead.
    pub listen: SocketAddr,
    pub model: String,
    pub timeline_capacity: usize,
    pub shutdown_grace: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            model: DEFAULT_MODEL.to_owned(),
            timeline_capacity: DEFAULT_TIMELINE_CAPACITY,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}
