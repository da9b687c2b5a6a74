//! The arena's test stack: everything that starts a system under test, talks to it and judges
//! what it answered, shared by the harness (which measures) and by each backend's own tests
//! (which must pass the same cases the harness plays). Nothing here knows a backend by name or
//! links a backend's crate: systems under test are started from their `backend.toml`.
//!
//! Layout:
//! - starting things: [`manifest`] (discovery of `backends/*/backend.toml`), [`process`]
//!   (children in their own process groups, ready lines, cleanup on every exit; the registry of
//!   live groups is in `groups.rs`), [`orchestrate`] (a backend with the common flags),
//!   [`mock`] (the mock provider, in process or as a process of its own);
//! - talking: [`client`] (one request, the whole answer kept raw);
//! - judging: [`checker`] (the stream rules as a state machine), [`message`] (the final message
//!   as the AI SDK client builds it), [`oracle`] (the AI SDK's own reading, in Node),
//!   [`expect`] (what each scenario promises);
//! - the suite: [`cases`] (the cases as data), [`play`] (one case), [`api_cases`] (health, tool
//!   list, rate limit), [`suite`] (one backend end to end), [`report`] (the terminal matrix);
//! - the chat page: [`browser`] (the browser suite: the page in Chromium against one backend,
//!   its cases in `web/browser/`), [`chromium`] (the one rule that finds the system's browser,
//!   which the report's check uses too).

pub mod api_cases;
pub mod browser;
pub mod cases;
pub mod checker;
pub mod chromium;
pub mod client;
pub mod expect;
mod groups;
pub mod manifest;
pub mod message;
pub mod mock;
pub mod oracle;
pub mod orchestrate;
pub mod play;
pub mod process;
pub mod report;
pub mod suite;
