//! The arena's harness: builds the backends, proves they behave alike (conformance), measures
//! what they cost and what faults do to them, and records everything in a run folder.
//!
//! Why a library: every stage starts and stops the same processes the same way, and tests drive
//! the stages without a shell. The binary (`src/main.rs`) only parses flags. Starting systems
//! under test, the client and the checker are the `conformance` crate's, shared with the
//! backends' own tests; this crate holds the stages and what a run records.
//!
//! Layout:
//! - [`build`]: `harness build`, each manifest's steps with logs and wall times ([`step`]: the
//!   one way a build step runs, for the build, the build study, the gate and the mock); [`size`]: what
//!   the built artifacts and their runtime weigh; [`build_study`]: clean and incremental builds
//!   in a copy of the sources, cached by source hash;
//! - [`prereq`]: the tools a run needs, checked first, and the npm packages it installs;
//!   [`tools`]: the one way a tool's version is asked;
//! - [`conformance_stage`]: the conformance stage; [`verify`]: which backends later stages may measure;
//! - [`browser_stage`]: the chat page in Chromium against each backend;
//! - [`bench`]: latency, load and resource cost; [`stats`]: the one statistics module;
//!   [`procfs`]: CPU and memory of a backend's processes; [`progress`]: the live progress line;
//! - [`gate`]: the latency regression gate;
//! - [`external`]: deployments the harness did not start (`--target NAME=URL`), suite then
//!   measurement; [`load`]: load from many machines with Locust, merged into results.json;
//!   [`pool`]: the sidecar pool as an axis of the bench (`--pool 1,2,4`);
//! - [`deploy`]: the deployments of `deploy/` (images, compose, systemd, Kubernetes) and their
//!   static validation;
//! - [`start`]: cold start, processes and the tokens of one conversation; [`crash`]: the fault x
//!   backend matrix; [`soak`]: memory and descriptors over minutes of steady load; [`cost`]: money per 1,000 conversations from `config/prices.toml`;
//! - [`evidence`]: measured proxies for the notes' rows that are not timings (own code and
//!   dependencies, platform needs, port conflicts, another local user's probes);
//! - what the measuring stages share: [`chat`] (one chat and how it ended), [`provider`] (the
//!   mock provider as a process, built when missing);
//! - [`matrix`]: the decision matrix, computed from a run's results and `config/matrix.toml`;
//! - [`report`]: `harness report`, report.html, summary.md and the terminal summary;
//! - [`run_dir`], [`run_info`]: `reports/<run-id>/` and what a run records about itself;
//!   [`atomic`]: the one way a file a reader may open is written;
//! - [`schema`]: `reports/schema.json`; [`stage`]: the one shape every stage has (the shared
//!   context, the `Stage` trait); [`stages`]: the list of a whole run's stages;
//!   [`compare`]: walks that list, each stage timed against its [`budget`];
//! - [`cli`]: the commands, the only module that knows the command line: it turns the shared
//!   flags into the stages' context and each stage's own flags into its options, and nothing in
//!   the library imports it.

pub mod atomic;
pub mod bench;
pub mod browser_stage;
pub mod budget;
pub mod build;
pub mod build_study;
pub mod chat;
pub mod cli;
pub mod compare;
pub mod conformance_stage;
pub mod cost;
pub mod cpu_meter;
pub mod crash;
pub mod deploy;
pub mod evidence;
pub mod external;
pub mod gate;
pub mod interval_log;
pub mod load;
pub mod matrix;
pub mod pool;
pub mod prereq;
pub mod procfs;
pub mod progress;
pub mod provider;
pub mod relay;
pub mod report;
pub mod run_dir;
pub mod run_info;
pub mod runtime_axis;
pub mod schema;
pub mod size;
pub mod soak;
pub mod stage;
pub mod stages;
pub mod start;
pub mod stats;
pub mod step;
pub mod tools;
pub mod verify;
