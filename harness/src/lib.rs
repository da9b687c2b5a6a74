//! The arena's harness: builds the backends, starts them against the mock provider, proves
//! they behave like the AI SDK (conformance) and records everything in a run folder.
//!
//! Why a library: every stage (conformance now; bench and crash later) starts and stops the
//! same processes the same way, and tests drive the stages without a shell. The binary
//! (`src/main.rs`) only parses flags.
//!
//! Layout:
//! - [`manifest`]: discovery of `backends/*/backend.toml`;
//! - [`build`]: `harness build`, each manifest's steps with logs and wall times;
//! - [`process`]: children in their own process groups, ready lines, cleanup on every exit
//!   (the registry of live groups and the signal/panic hooks are in `groups.rs`);
//! - [`orchestrate`]: a backend started with the common flags; [`mock`]: the mock provider, in
//!   process or as a process of its own;
//! - [`run_dir`], [`run_info`]: `reports/<run-id>/` and what a run records about itself;
//! - [`conformance`]: the suite; [`verify`]: which backends later stages may measure;
//! - [`schema`]: `reports/schema.json`; [`cli`]: the commands.

pub mod build;
pub mod cli;
pub mod conformance;
mod groups;
pub mod manifest;
pub mod mock;
pub mod orchestrate;
pub mod process;
pub mod run_dir;
pub mod run_info;
pub mod schema;
pub mod verify;
