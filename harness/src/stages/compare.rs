//! `harness compare`: every stage in one run, in the order of [`list`], each recorded in the
//! run folder as it finishes. A stage that fails does not hide the others'
//! results: later stages run on whatever they can still measure, and the exit code says what
//! happened (0 all good, 1 a backend failed something, 2 the harness could not do its job). A
//! stage this machine cannot run (the browser stage without Chromium) is skipped with the reason
//! recorded, rather than failing a run whose measurements do not need it. Each stage's wall time
//! is recorded beside its budget ([`crate::budget`]).
//!
//! [`list`] is the one place that names the stages; past it, the walk knows no stage in
//! particular: which backends each gets is the stage's [`Takes`], and a stage that gates (the
//! build) takes the backends it failed out of the rest.

use std::process::ExitCode;

use contract::results::StageSkip;
use sut_kit::manifest::Backend;

use crate::budget::StageTimer;
use crate::run_dir::RunDir;
use crate::stages::{
    Context, Outcome, Planned, Stage, Takes, bench, browser, build, conformance, cost, crash,
    deploy, evidence, plan, report, soak, start,
};

/// What `compare` takes beyond the shared context: its own flags that belong to one stage.
#[derive(Debug, Clone, Default)]
pub struct CompareFlags {
    /// Conformance scenarios to run; empty runs them all (`compare --scenarios`).
    pub scenarios: Vec<String>,
}

/// The stages of `compare`, in order: build -> conformance -> browser -> bench -> start ->
/// crash -> soak -> evidence -> deploy -> cost -> report. Each gets the options a run with only the shared
/// flags gives it ([`Stage::options`]).
pub fn list(ctx: &Context, flags: &CompareFlags) -> Vec<Box<dyn Planned>> {
    let mut conformance = conformance::ConformanceStage::options(ctx);
    conformance.scenarios = flags.scenarios.clone();
    vec![
        default::<build::Build>(ctx),
        plan::<conformance::ConformanceStage>(conformance),
        default::<browser::BrowserStage>(ctx),
        default::<bench::Bench>(ctx),
        default::<start::Start>(ctx),
        default::<crash::Crash>(ctx),
        default::<soak::SoakStage>(ctx),
        default::<evidence::EvidenceStage>(ctx),
        default::<deploy::stage::DeployStage>(ctx),
        default::<cost::CostStage>(ctx),
        default::<report::ReportStage>(ctx),
    ]
}

/// `S` with the options of the shared flags alone.
fn default<S: Stage + 'static>(ctx: &Context) -> Box<dyn Planned>
where
    S::Options: 'static,
{
    plan::<S>(S::options(ctx))
}

/// The stage names of [`list`], in order (what the tests and the docs hold the list to).
pub fn names(ctx: &Context) -> Vec<&'static str> {
    list(ctx, &CompareFlags::default())
        .iter()
        .map(|s| s.name())
        .collect()
}

/// How the run went, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    AllGood,
    BackendFailed,
    HarnessFailed,
}

impl Verdict {
    fn code(self) -> ExitCode {
        match self {
            Verdict::AllGood => ExitCode::SUCCESS,
            Verdict::BackendFailed => ExitCode::from(1),
            Verdict::HarnessFailed => ExitCode::from(2),
        }
    }
}

/// The run's backends as the stages see them: a variant (`unix+sse`, or `unix@bun` on
/// another runtime) is its base backend started with other flags or another runtime, built with
/// it (docs/frames.md#in-the-harness, docs/design.md#runtimes).
struct Targets {
    bases: Vec<Backend>,
    variants: Vec<Backend>,
    /// Base backends a gating stage failed.
    failed: Vec<String>,
}

impl Targets {
    fn new(backends: &[Backend]) -> Self {
        let (variants, bases) = backends.iter().cloned().partition(Backend::is_variant);
        Self {
            bases,
            variants,
            failed: Vec::new(),
        }
    }

    fn built(&self) -> impl Iterator<Item = &Backend> {
        self.bases
            .iter()
            .filter(|b| !self.failed.iter().any(|f| f == b.name()))
    }

    /// The variants whose base was built.
    fn wired_variants(&self) -> impl Iterator<Item = &Backend> {
        self.variants
            .iter()
            .filter(|v| self.built().any(|b| b.name() == v.base_name()))
    }

    fn for_stage(&self, takes: Takes) -> Vec<Backend> {
        match takes {
            Takes::Bases => self.bases.clone(),
            Takes::Built => self.built().cloned().collect(),
            Takes::WithVariants => self.built().chain(self.wired_variants()).cloned().collect(),
            Takes::WithRuntimes => self
                .built()
                .chain(self.wired_variants().filter(|v| v.js_runtime.is_some()))
                .cloned()
                .collect(),
            Takes::Nothing => Vec::new(),
        }
    }
}

/// Runs `stages` on `backends` into `run`; `quick` picks the budgets the stage times are held to.
pub async fn run(
    stages: &[Box<dyn Planned>],
    backends: &[Backend],
    run: &mut RunDir,
    quick: bool,
) -> ExitCode {
    let mut verdict = Verdict::AllGood;
    let mut note = |v: Verdict, stage: &str, why: Option<&anyhow::Error>| {
        if let Some(e) = why {
            eprintln!("\ncompare: the {stage} stage could not finish: {e:#}");
        }
        verdict = verdict.max(v);
    };
    let mut targets = Targets::new(backends);
    for (i, stage) in stages.iter().enumerate() {
        let name = stage.name();
        let timer = StageTimer::start(name, quick);
        let given = targets.for_stage(stage.takes());
        if let Some(why) = stage.unavailable() {
            eprintln!("\ncompare: the {name} stage is skipped: {why}");
            for b in &given {
                run.results.backend_mut(b.name()).skipped.push(StageSkip {
                    stage: name.into(),
                    reason: why.clone(),
                });
            }
        } else {
            match stage.run(&given, run).await {
                Ok(Outcome::Passed | Outcome::NothingMeasured) => {}
                Ok(Outcome::Failed(names)) => {
                    note(Verdict::BackendFailed, name, None);
                    if stage.gates() {
                        // The next stage is where they are missed; the log says why.
                        let next = stages.get(i + 1).map_or(name, |s| s.name());
                        for failed in &names {
                            run.results.backend_mut(failed).skipped.push(StageSkip {
                                stage: next.into(),
                                reason: format!("its {name} failed; see logs/{name}"),
                            });
                        }
                        targets.failed.extend(names);
                    }
                }
                Err(e) => note(Verdict::HarnessFailed, name, Some(&e)),
            }
        }
        timer.finish(&mut run.results);
        // The stage's own time reaches results.json here (the report's only after it rendered).
        if let Err(e) = run.save() {
            note(Verdict::HarnessFailed, name, Some(&e));
        }
    }

    eprintln!("\ncompare: stage times");
    let _ = crate::budget::write_table(&mut std::io::stderr().lock(), &run.results.stages);
    eprintln!(
        "\ncompare: {} (run {})",
        match verdict {
            Verdict::AllGood => "every stage passed",
            Verdict::BackendFailed => "a backend failed a stage (see above)",
            Verdict::HarnessFailed => "a stage could not do its job (see above)",
        },
        run.path.display()
    );
    verdict.code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::stages as n;

    #[test]
    fn compare_walks_every_stage_in_the_documented_order() {
        let ctx = Context::new(std::path::PathBuf::from("."));
        assert_eq!(
            names(&ctx),
            [
                n::BUILD,
                n::CONFORMANCE,
                n::BROWSER,
                n::BENCH,
                n::START,
                n::CRASH,
                n::SOAK,
                n::EVIDENCE,
                n::DEPLOY,
                n::COST,
                n::REPORT
            ]
        );
    }

    #[test]
    fn every_stage_but_the_build_has_a_budget() {
        let ctx = Context::new(std::path::PathBuf::from("."));
        for name in names(&ctx) {
            assert_eq!(
                crate::budget::budget(name, true).is_some(),
                name != n::BUILD,
                "{name}"
            );
        }
    }
}
