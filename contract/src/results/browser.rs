//! The browser stage's part of results.json: the chat page, driven in a real browser against a
//! backend (docs/chat-page.md lists the cases).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Outcome;

/// The browser suite's verdict on one backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Browser {
    pub passed: u32,
    pub failed: u32,
    /// Every case, in the order played.
    pub cases: Vec<BrowserCase>,
    /// The page after a conversation with tool calls, relative to the run folder: the one
    /// picture of this backend the report shows. Absent when that case never got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<String>,
    /// The browser that ran the suite (`Chromium 156.0.8078.114`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_version: Option<String>,
}

impl Browser {
    /// Builds the counts from the cases, so they can never disagree.
    pub fn from_cases(cases: Vec<BrowserCase>) -> Self {
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count() as u32;
        Self {
            passed: count(Outcome::Ok),
            failed: count(Outcome::Failed),
            cases,
            screenshot: None,
            browser_version: None,
        }
    }
}

/// One case of the browser suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BrowserCase {
    /// `text`, `tool-single`, ..., `bad-input/backend-down`.
    pub name: String,
    /// OK or FAILED; the suite has no unsupported case.
    pub outcome: Outcome,
    /// Why it failed; absent for OK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The page when the case ended, relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<String>,
}
