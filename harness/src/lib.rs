//! The arena's harness: builds the backends, proves they behave alike (conformance), measures
//! what they cost and what faults do to them, and records everything in a run folder.
//!
//! Why a library: every stage starts and stops the same processes the same way, and tests drive
//! the stages without a shell. The binary (`src/main.rs`) only parses flags. Starting systems
//! under test, the client and the checker are `sut_kit`'s and the suites `conformance`'s, both
//! shared with the backends' own tests; this crate holds the stages and what a run records.
//!
//! Layout:
//! - [`stages`]: one folder per stage of a run, each a [`stages::Stage`] over the shared
//!   [`stages::Context`], the list `harness compare` walks, and the walk itself, each stage timed
//!   against its [`budget`]:
//!   - [`stages::build`]: `harness build`, each manifest's steps with logs and wall times, what
//!     the built artifacts weigh, and the build study (clean and incremental builds in a copy of
//!     the sources, cached by source hash);
//!   - [`stages::conformance`]: the conformance suites against each backend;
//!     [`stages::browser`]: the chat page in Chromium against each backend;
//!   - [`stages::bench`]: latency, load and resource cost, and the sidecar pool as its axis;
//!     [`stages::start`]: cold start, processes and the tokens of one conversation;
//!     [`stages::crash`]: the fault x backend matrix; [`stages::soak`]: memory and descriptors
//!     over minutes of steady load;
//!   - [`stages::evidence`]: measured proxies for the notes' rows that are not timings;
//!     [`stages::deploy`]: the deployments of `deploy/` and their static validation;
//!     [`stages::cost`]: money per 1,000 conversations from `config/prices.toml`;
//!   - [`stages::report`]: `harness report`, report.html, summary.md and the terminal summary;
//! - what the stages share: [`step`] (the one way a build step runs, for the build, the gate
//!   and the mock), [`prereq`] (the tools a run needs, checked first, and the npm packages it
//!   installs), [`tools`] (the one way a tool's version is asked), [`verify`] (which backends
//!   later stages may measure), [`chat`] (one chat and how it ended), [`provider`] (the mock
//!   provider as a process, built when missing), [`stats`] (the one statistics module),
//!   [`procfs`] and [`cpu_meter`] (CPU and memory of a backend's processes), [`progress`] (the
//!   live progress line), [`runtime_axis`] (the JavaScript runtime as an axis);
//! - commands beyond a run's stages: [`gate`] (the latency regression gate); [`external`]
//!   (deployments the harness did not start, `--target NAME=URL`, suite then measurement);
//!   [`load`] (load from many machines with Locust, merged into results.json);
//! - [`matrix`]: the decision matrix, computed from a run's results and `config/matrix.toml`;
//! - [`run_dir`], [`run_info`]: `reports/<run-id>/` and what a run records about itself;
//!   [`atomic`]: the one way a file a reader may open is written; [`schema`]:
//!   `reports/schema.json`;
//! - [`cli`]: the commands, the only module that knows the command line: it turns the shared
//!   flags into the stages' context and each stage's own flags into its options, and nothing in
//!   the library imports it.

pub mod atomic;
pub mod budget;
pub mod chat;
pub mod cli;
pub mod cpu_meter;
pub mod external;
pub mod gate;
pub mod interval_log;
pub mod load;
pub mod matrix;
pub mod prereq;
pub mod procfs;
pub mod progress;
pub mod provider;
pub mod relay;
pub mod run_dir;
pub mod run_info;
pub mod runtime_axis;
pub mod schema;
pub mod stages;
pub mod stats;
pub mod step;
pub mod tools;
pub mod verify;
