//! The stages of a run, one folder each, and the one shape every stage has. A stage is a type
//! implementing [`Stage`]: its name, which of a run's targets it takes, its options (the shared
//! [`Context`] plus its own settings, with the defaults a whole run uses), and one `run` that
//! measures, records into the run folder and prints its own table. `harness <stage>` builds the
//! options from the same [`Context`] and then applies the stage's own flags; `harness compare`
//! walks [`compare::list`] and needs to know nothing of any stage in particular. Adding a stage
//! touches its folder, that list and `contract` (docs/architecture.md#adding-a-stage).
//!
//! Why a trait and not one function type: the options differ per stage, and the trait lets
//! each stage name them while [`Planned`] erases them for the list. The shape lives here and the
//! list in [`compare`], so that every stage imports this module and this module imports no
//! stage.

pub mod bench;
pub mod browser;
pub mod build;
pub mod compare;
pub mod conformance;
pub mod cost;
pub mod crash;
pub mod deploy;
pub mod evidence;
pub mod report;
pub mod soak;
pub mod start;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Result;
use sut_kit::manifest::Backend;

use crate::progress::{self, Progress};
use crate::run_dir::RunDir;

/// What every stage is given, whichever command runs it. The command line builds it once
/// (`cli::args::Common` and its companions); `compare` hands the same one to every stage.
#[derive(Debug, Clone)]
pub struct Context {
    /// The repository root.
    pub root: PathBuf,
    /// Cargo profile of the binaries (`release` or `debug`): a new run folder records it, and
    /// the stages read it back from there.
    pub profile: String,
    /// Fewer rounds, load points, cases and faults: minutes instead of tens of minutes.
    pub quick: bool,
    /// Measure backends that did not pass conformance on this build.
    pub force: bool,
    /// Backends were named on the command line: one that cannot be measured is an error, not
    /// a skip. `compare` never sets it: there a backend that failed an earlier stage is that
    /// stage's failure.
    pub explicit: bool,
    /// How long a backend may take to print its ready line.
    pub ready_timeout: Duration,
    /// Seed of the bench's round orders, arrivals and bootstrap (results.json records it).
    pub seed: u64,
    /// Where the stages' progress goes ([`Context::progress`]).
    pub progress: progress::Output,
}

impl Context {
    /// `--ready-timeout-s`'s default: a cold Node backend on a loaded two-core machine printed
    /// its ready line within a few seconds in every run recorded in docs/architecture.md.
    pub const DEFAULT_READY_TIMEOUT_S: u64 = 30;

    /// A release, full-length context on `root` with the defaults of the command line (the
    /// seed from the clock), for callers that set only what they need.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            profile: "release".into(),
            quick: false,
            force: false,
            explicit: false,
            ready_timeout: Duration::from_secs(Self::DEFAULT_READY_TIMEOUT_S),
            seed: crate::run_info::clock_seed(),
            progress: progress::Output::detect(),
        }
    }

    /// The progress of `stage`, `total` steps long: the one way a stage says what it is doing
    /// (a note for each result, a step for each piece of work).
    pub fn progress(&self, stage: &str, total: u64) -> Progress {
        Progress::to(self.progress, stage, total)
    }
}

/// Which of a run's targets `compare` gives a stage (a stage's own command gives it what was
/// selected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Every selected base backend, built or not (the build itself, the price table).
    Bases,
    /// The base backends whose build passed.
    Built,
    /// The built backends and their variants (`unix+sse`, `unix@bun`): the stages that
    /// measure a variant (docs/frames.md#in-the-harness, docs/design.md#runtimes).
    WithVariants,
    /// The built backends and their runtime-axis targets (`unix@bun`), not the wire variants
    /// (`unix+sse`), which start as their base does.
    WithRuntimes,
    /// No backend: the stage reads the run folder (the report).
    Nothing,
}

/// How a stage went when it could do its job (an `Err` means it could not: exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// A backend failed something (exit 1); the names, where the stage knows which.
    Failed(Vec<String>),
    /// Nothing could be measured (exit 1 from the stage's own command; in `compare` the stage
    /// that made the backends unmeasurable has already said why).
    NothingMeasured,
}

impl Outcome {
    /// `Failed(names)`, or `Passed` when no backend failed.
    pub fn failed(names: Vec<String>) -> Self {
        if names.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(names)
        }
    }

    /// `Failed` when `failed`, else `Passed`.
    pub fn failed_if(failed: bool) -> Self {
        if failed {
            Outcome::Failed(Vec::new())
        } else {
            Outcome::Passed
        }
    }

    /// `NothingMeasured` when `measured` is zero, else `Passed`.
    pub fn measured(measured: usize) -> Self {
        if measured == 0 {
            Outcome::NothingMeasured
        } else {
            Outcome::Passed
        }
    }
}

/// One stage of a run.
// The harness awaits its stages one at a time on the runtime's main task: no caller needs the
// futures to be `Send`, which is what the lint warns a public async trait cannot promise.
#[allow(async_fn_in_trait)]
pub trait Stage {
    /// Its name in results.json, the run folder and the logs (`contract::results::stages`).
    const NAME: &'static str;
    /// Which targets `compare` gives it.
    const TAKES: Takes;
    /// Whether the backends it fails are left out of the stages after it in `compare` (the
    /// build: what did not build cannot be started).
    const GATES: bool = false;
    /// The shared context and the stage's own settings.
    type Options;

    /// The options of a run given only the shared flags: what `compare` uses, and what the
    /// stage's own command starts from before applying its own flags.
    fn options(ctx: &Context) -> Self::Options;

    /// Why the stage cannot run on this machine, if it cannot: `compare` records the reason as
    /// each backend's skip and goes on.
    fn unavailable(_opts: &Self::Options) -> Option<String> {
        None
    }

    /// Runs the stage on `backends`, records it in `run` and prints its table on stdout.
    async fn run(opts: &Self::Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome>;
}

/// A stage's future, boxed so stages of different types stand in one list.
pub type StageFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome>> + 'a>>;

/// A stage with its options chosen, its type erased: one item of `compare`'s list.
pub trait Planned {
    fn name(&self) -> &'static str;
    fn takes(&self) -> Takes;
    fn gates(&self) -> bool;
    fn unavailable(&self) -> Option<String>;
    fn run<'a>(&'a self, backends: &'a [Backend], run: &'a mut RunDir) -> StageFuture<'a>;
}

/// `S` with `opts`, ready for the list.
pub fn plan<S: Stage + 'static>(opts: S::Options) -> Box<dyn Planned>
where
    S::Options: 'static,
{
    Box::new(Plan::<S> { opts })
}

struct Plan<S: Stage> {
    opts: S::Options,
}

impl<S: Stage + 'static> Planned for Plan<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn takes(&self) -> Takes {
        S::TAKES
    }
    fn gates(&self) -> bool {
        S::GATES
    }
    fn unavailable(&self) -> Option<String> {
        S::unavailable(&self.opts)
    }
    fn run<'a>(&'a self, backends: &'a [Backend], run: &'a mut RunDir) -> StageFuture<'a> {
        Box::pin(S::run(&self.opts, backends, run))
    }
}
