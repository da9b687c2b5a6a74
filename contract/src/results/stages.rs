//! The names every part of a run agrees on: the stages (as `StageSkip::stage`, run-folder
//! subfolders and log folders name them), the bench's reference targets, and how long each
//! stage of a run took. The report, the matrix and the gate read these names here instead of
//! importing the stage that writes them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const BUILD: &str = "build";
pub const BUILD_STUDY: &str = "build-study";
pub const CONFORMANCE: &str = "conformance";
pub const BROWSER: &str = "browser";
pub const BENCH: &str = "bench";
pub const START: &str = "start";
pub const CRASH: &str = "crash";
/// The crash stage run with a pool of sidecars (`harness crash --pool N`).
pub const CRASH_POOL: &str = "crash-pool";
/// Minutes of steady load, memory sampled every second (docs/soak.md).
pub const SOAK: &str = "soak";
pub const EVIDENCE: &str = "evidence";
pub const COST: &str = "cost";
/// Each architecture from `deploy/` built into images and run in containers (docs/deploy.md).
pub const DEPLOY: &str = "deploy";
pub const REPORT: &str = "report";

/// The bench's floor: the client reading the mock provider itself.
pub const DIRECT: &str = "direct";
/// The bench's in-process reference: the AI SDK in one plain Node process.
pub const AISDK_NODE: &str = "aisdk-node";
/// The bench's zero-work relay: one process between the client and the provider that copies
/// the bytes and does nothing else (docs/bench.md#targets).
pub const RELAY: &str = "relay";
/// What the clean twin of a backend run with an injected delay appends to its name.
pub const CLEAN_SUFFIX: &str = "+clean";

/// The name of the clean instance measured beside a backend run with an injected delay.
pub fn clean_reference(name: &str) -> String {
    format!("{name}{CLEAN_SUFFIX}")
}

/// What the second instance of an injected backend appends to its name under `harness bench
/// --proofs`: the A/A twin, started with the same flags, whose capacity must not differ.
pub const AA_SUFFIX: &str = "+aa";

/// The name of the A/A twin of `name`.
pub fn aa_twin(name: &str) -> String {
    format!("{name}{AA_SUFFIX}")
}

/// What a backend run with a pool of N sidecars appends to its name, before N (`harness bench
/// --pool`): `unix+pool2` is unix with `--sidecars 2` (docs/pool.md).
pub const POOL_INFIX: &str = "+pool";

/// The bench target of `backend` with `sidecars` sidecars: the backend itself for one.
pub fn pool_target(backend: &str, sidecars: u32) -> String {
    if sidecars == 1 {
        backend.to_owned()
    } else {
        format!("{backend}{POOL_INFIX}{sidecars}")
    }
}

/// Whether `name` is a target the bench measured for its own checks (the direct path, the AI
/// SDK alone, the relay, a self-check's clean instance, an A/A twin, a pool size of the pool
/// study) rather than a backend as it is compared.
/// `aisdk-node@bun` (the AI SDK alone on another runtime) is one too.
pub fn is_reference(name: &str) -> bool {
    let (base, _) = crate::runtime::split_target(name);
    base == DIRECT
        || base == AISDK_NODE
        || base == RELAY
        || name.ends_with(CLEAN_SUFFIX)
        || name.ends_with(AA_SUFFIX)
        || name.contains(POOL_INFIX)
}

/// How long one stage of a run took, against its budget (docs/architecture.md#budgets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageTime {
    /// One of the stage names above.
    pub stage: String,
    /// Wall time from the stage's start to its end, in seconds.
    pub seconds: f64,
    /// The budget the stage is held to in this kind of run (`--quick` or full), in seconds;
    /// absent for a stage that has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_s: Option<f64>,
}

impl StageTime {
    /// Whether the stage ran past its budget.
    pub fn over_budget(&self) -> bool {
        self.budget_s.is_some_and(|b| self.seconds > b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_told_from_backends_by_name() {
        assert!(is_reference(DIRECT));
        assert!(is_reference(AISDK_NODE));
        assert!(is_reference(RELAY));
        assert!(is_reference(&clean_reference("unix")));
        assert!(is_reference("aisdk-node@bun"));
        assert!(is_reference(&pool_target("unix", 2)));
        assert_eq!(pool_target("unix", 1), "unix");
        assert!(!is_reference(&pool_target("unix", 1)));
        assert!(!is_reference("unix@bun"));
        assert!(!is_reference("unix"));
        assert!(!is_reference("rust-only"));
    }

    #[test]
    fn a_stage_is_over_budget_only_past_a_budget_it_has() {
        let t = |seconds, budget_s| StageTime {
            stage: BENCH.into(),
            seconds,
            budget_s,
        };
        assert!(t(91.0, Some(90.0)).over_budget());
        assert!(!t(90.0, Some(90.0)).over_budget());
        assert!(!t(1e6, None).over_budget());
    }
}
