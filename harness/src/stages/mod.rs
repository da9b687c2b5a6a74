//! The stages of a run: the one shape every stage has (the shared [`Context`] and the [`Stage`]
//! trait, in `stage.rs`), one folder per stage, the list of a whole run's stages in the order
//! `harness compare` walks them ([`list`]), and the walk itself ([`compare`]). This list is the one
//! place that names them all: adding a stage touches its folder, this list and `contract`
//! (docs/architecture.md#adding-a-stage).

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
mod stage;
pub mod start;

pub use stage::{Context, Outcome, Planned, Stage, StageFuture, Takes, plan};

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
