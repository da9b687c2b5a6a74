//! The conformance stage's part of results.json: the verdict per case.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The conformance suite's verdict on one backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Conformance {
    pub passed: u32,
    pub failed: u32,
    pub unsupported: u32,
    pub cases: Vec<CaseResult>,
    /// A fingerprint of the artifacts the suite ran against (each file's path, size and
    /// modification time): a later stage in another run trusts this verdict only for the same
    /// git sha and the same fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<String>,
}

impl Conformance {
    /// Builds the counts from the cases, so they can never disagree.
    pub fn from_cases(cases: Vec<CaseResult>) -> Self {
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count() as u32;
        Self {
            passed: count(Outcome::Ok),
            failed: count(Outcome::Failed),
            unsupported: count(Outcome::Unsupported),
            cases,
            artifacts: None,
        }
    }

    /// Verified means: every case ran and none failed.
    pub fn is_verified(&self) -> bool {
        self.failed == 0 && !self.cases.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    /// The case's name: a catalogue scenario (`tool-single`), or a derived case
    /// (`multi-turn/tool-single`, `bad-input/413-too-large`, `headers`).
    pub scenario: String,
    pub outcome: Outcome,
    /// Why it failed or is unsupported; absent for OK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the raw answer was saved, relative to the run folder (failures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_stream: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Ok,
    Failed,
    Unsupported,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Failed => "FAILED",
            Self::Unsupported => "UNSUPPORTED",
        }
    }
}
