//! The crash stage's part of results.json: what each injected fault did.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What one injected fault did to a backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CrashOutcome {
    /// Whether the server process kept serving.
    pub survived: Option<bool>,
    /// What the fault took down, in words (`request`, `runtime`, `process`).
    pub blast_radius: Option<String>,
    pub recovery_ms: Option<f64>,
    /// HTTP status (or `stream-error`, `connection-reset`) -> how many requests saw it.
    #[serde(default)]
    pub statuses: BTreeMap<String, u64>,
}
