//! The kit that starts and talks to the arena's systems under test, shared by the suites
//! (`conformance`), the harness (which measures) and each backend's own tests. It knows how to
//! find a backend (`backends/*/backend.toml`), start it and its mock provider, send it a chat,
//! read what streamed back, and ask the AI SDK itself how it reads the same bytes; it knows no
//! case and judges nothing beyond the stream's own rules. No backend's crate is linked here:
//! systems under test are started from their `backend.toml`.
//!
//! Why a crate of its own: the suites, the harness's stages and the backends' tests all start
//! and read systems under test the same way, and the Node package that holds the AI SDK's own
//! reading (`node/`, beside this crate) belongs with the code that runs its scripts, not with
//! the layer above it (docs/architecture.md#test-stack-sut-kit-conformance).
//!
//! Layout:
//! - starting things: [`manifest`] (discovery of `backends/*/backend.toml`), [`process`]
//!   (children in their own process groups, ready lines, cleanup on every exit; the registry of
//!   live groups is in `groups.rs`), [`orchestrate`] (a backend with the common flags),
//!   [`mock`] (the mock provider, in process or as a process of its own), [`node_package`]
//!   (whether a Node package folder holds what its lockfile pins), [`chromium`] (the one rule
//!   that finds the system's browser), [`doubles`] (a backend that is a shell script);
//! - talking: [`client`] (the one client: a request, its answer kept raw with arrival times);
//! - reading: [`checker`] (the one stream reader: the stream rules as a state machine),
//!   [`message`] (the final message as the AI SDK client builds it), [`oracle`] (the AI SDK's
//!   own reading and its own answer, the scripts of `node/`), [`quote`] (how a reason quotes a
//!   payload);
//! - for tests: [`guards`] (the one set of hang guards), [`repo_root`].

use std::path::PathBuf;

pub mod checker;
pub mod chromium;
pub mod client;
pub mod doubles;
mod groups;
pub mod guards;
pub mod manifest;
pub mod message;
pub mod mock;
pub mod node_package;
pub mod oracle;
pub mod orchestrate;
pub mod process;
pub mod quote;

/// The Node package beside this crate, relative to the repository root: the AI SDK's own
/// reading and answer ([`oracle`]), the bench's `aisdk-node` target and the report's check in
/// Chromium. One package with one lockfile, installed by `scripts/setup`.
pub const NODE_PACKAGE: &str = "sut-kit/node";

/// The checkout this crate was built from: where tests find the backends' manifests and
/// builds, the fixtures and [`NODE_PACKAGE`].
pub fn repo_root() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().map_or(crate_dir.clone(), PathBuf::from)
}
