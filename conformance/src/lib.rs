//! The arena's test stack: everything that starts a system under test, talks to it and judges
//! what it answered, shared by the harness (which measures) and by each backend's own tests
//! (which must pass the same cases the harness plays). No backend's crate is linked here:
//! systems under test are started from their `backend.toml`. The one backend named is the
//! parity suite's reference ([`target::REFERENCE_BACKEND`]).
//!
//! Layout:
//! - starting things: [`manifest`] (discovery of `backends/*/backend.toml`), [`process`]
//!   (children in their own process groups, ready lines, cleanup on every exit; the registry of
//!   live groups is in `groups.rs`), [`orchestrate`] (a backend with the common flags),
//!   [`mock`] (the mock provider, in process or as a process of its own), [`node_package`]
//!   (whether a Node package folder holds what its lockfile pins);
//! - talking: [`client`] (the one client: a request, its answer kept raw with arrival times);
//! - judging: [`checker`] (the one stream reader: the stream rules as a state machine),
//!   [`message`] (the final message as the AI SDK client builds it), [`oracle`] (the AI SDK's
//!   own reading and its own answer, in Node), [`expect`] (what each scenario promises);
//! - the suites: [`cases`] (the cases as data), [`play`] (one case), [`api_cases`] (health,
//!   tool list, rate limit), [`suite`] (one backend end to end), [`parity`] (a backend against
//!   the references), [`external`] (the suite against a deployment the harness did not start),
//!   [`report`] (the terminal matrix);
//! - the chat page: [`browser`] (the browser suite: the page in Chromium against one backend,
//!   its cases in `web/browser/`), [`chromium`] (the one rule that finds the system's browser,
//!   which the report's check uses too);
//! - for tests: [`target`] (the one entry every backend's tests run the suites through:
//!   [`backend_suites!`]), [`guards`] (the one set of hang guards), [`doubles`] (a backend
//!   that is a shell script), [`repo_root`].

use std::path::PathBuf;

pub mod api_cases;
pub mod browser;
pub mod cases;
pub mod checker;
pub mod chromium;
pub mod client;
pub mod doubles;
pub mod expect;
pub mod external;
mod groups;
pub mod guards;
pub mod manifest;
pub mod message;
pub mod mock;
pub mod node_package;
pub mod oracle;
pub mod orchestrate;
pub mod parity;
pub mod play;
pub mod process;
pub mod report;
pub mod suite;
pub mod target;

/// The checkout this crate was built from: where tests find the backends' manifests and
/// builds, the fixtures and `harness/node`.
pub fn repo_root() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().map_or(crate_dir.clone(), PathBuf::from)
}
