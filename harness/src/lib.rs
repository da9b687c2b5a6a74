//! The arena's harness: builds the backends, proves they behave alike (conformance) and records
//! everything in a run folder.
//!
//! Why a library: every stage starts and stops the same processes the same way, and tests drive
//! the stages without a shell. The binary (`src/main.rs`) only parses flags. Starting systems
//! under test, the client and the checker are the `conformance` crate's, shared with the
//! backends' own tests; this crate holds the stages and what a run records.
//!
//! Layout:
//! - [`build`]: `harness build`, each manifest's steps with logs and wall times;
//! - [`prereq`]: the tools a run needs, checked first, and the npm packages it installs;
//! - [`conformance_stage`]: the conformance stage; [`verify`]: which backends later stages may measure;
//! - [`browser_stage`]: the chat page in Chromium against each backend;
//! - [`bench`]: latency, load and resource cost; [`stats`]: the one statistics module;
//!   [`procfs`]: CPU and memory of a backend's processes; [`progress`]: the live progress line;
//! - [`gate`]: the latency regression gate;
//! - [`run_dir`], [`run_info`]: `reports/<run-id>/` and what a run records about itself;
//! - [`schema`]: `reports/schema.json`; [`cli`]: the commands; [`stages`]: each stage as a
//!   command runs it; [`compare`]: every stage in one run.

pub mod bench;
pub mod browser_stage;
pub mod build;
pub mod cli;
pub mod compare;
pub mod conformance_stage;
pub mod gate;
pub mod prereq;
pub mod procfs;
pub mod progress;
pub mod run_dir;
pub mod run_info;
pub mod schema;
pub mod stages;
pub mod stats;
pub mod verify;
