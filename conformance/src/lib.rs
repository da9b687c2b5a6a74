//! The arena's suites: the conformance cases every backend must pass, what each promises, how
//! a case is played and judged, parity against the references, and the browser suite. Shared by
//! the harness (its conformance and browser stages) and by each backend's own tests, which must
//! pass the same cases the harness plays. Starting a system under test and reading what it sent
//! are `sut_kit`'s; this crate holds what is asked of it. The one backend named is the parity
//! suite's reference ([`target::REFERENCE_BACKEND`]).
//!
//! Layout:
//! - the cases: [`cases`] (the cases as data), [`expect`] (what each scenario promises),
//!   [`case_env`] (what a case is played with), [`play`] (one case), [`api_cases`] (health, tool
//!   list, rate limit);
//! - the suites: [`suite`] (one backend end to end), [`parity`] (a backend against the
//!   references), [`external`] (the suite against a deployment the harness did not start),
//!   [`report`] (the terminal matrix), [`browser`] (the chat page in Chromium against one
//!   backend, its cases in `web/browser/`);
//! - for tests: [`target`] (the one entry every backend's tests run the suites through:
//!   [`backend_suites!`]).

pub mod api_cases;
pub mod browser;
pub mod case_env;
pub mod cases;
pub mod expect;
pub mod external;
pub mod parity;
pub mod play;
pub mod report;
pub mod suite;
pub mod target;
