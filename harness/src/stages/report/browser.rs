//! Opens a rendered report in headless Chromium (the system's browser, found by the same rule as
//! the chat page's browser suite, [`sut_kit::chromium`], and driven by playwright-core from
//! `sut-kit/node/check-report.mjs`; nothing is downloaded) and checks what a reader would see:
//! every chart and table present and visible, no console error, no request leaving the file (the
//! page must be self-contained). Keeps a screenshot.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use sut_kit::chromium::{self, ChromiumError};

/// The checker script, relative to the repository root.
pub const CHECKER: &str = "sut-kit/node/check-report.mjs";
/// The screenshot's name in the run folder.
pub const SCREENSHOT_FILE: &str = "report.png";

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error(transparent)]
    Chromium(#[from] ChromiumError),
    #[error(
        "sut-kit/node is not installed: run `npm ci --prefix sut-kit/node` (`scripts/setup` does)"
    )]
    NotInstalled,
    #[error("cannot run `node {CHECKER}`: {0}; is `node` on PATH?")]
    Node(std::io::Error),
    #[error("the report check failed to run: {0}")]
    Failed(String),
}

/// What the browser saw.
#[derive(Debug, Clone, Deserialize)]
pub struct BrowserCheck {
    pub browser: String,
    pub console_errors: Vec<String>,
    /// Requests for anything but the page itself.
    pub outside_requests: Vec<String>,
    pub sections: Vec<String>,
    pub charts: Vec<ChartSeen>,
    pub tables: Vec<TableSeen>,
    pub screenshot: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChartSeen {
    pub id: String,
    pub visible: bool,
    /// SVGs drawn, all visible, and how many text labels they carry.
    pub svgs: usize,
    pub svgs_visible: bool,
    pub svg_texts: usize,
    /// A "not measured" note instead of a chart.
    pub not_measured: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableSeen {
    pub id: String,
    pub visible: bool,
    pub rows: usize,
}

impl BrowserCheck {
    /// What is wrong with the page as the browser showed it; empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .console_errors
            .iter()
            .map(|e| format!("console error: {e}"))
            .collect();
        out.extend(
            self.outside_requests
                .iter()
                .map(|u| format!("the page requested {u}")),
        );
        for c in &self.charts {
            if !c.visible {
                out.push(format!("{} is not visible", c.id));
            } else if !c.not_measured && (c.svgs == 0 || !c.svgs_visible || c.svg_texts == 0) {
                out.push(format!("{} has no visible, labelled chart", c.id));
            }
        }
        for t in &self.tables {
            if !t.visible || t.rows < 2 {
                out.push(format!("table {} is not visible or has no rows", t.id));
            }
        }
        out
    }
}

/// Opens `report` in headless Chromium, writes the screenshot to `screenshot` and returns what
/// the browser saw.
pub fn check(root: &Path, report: &Path, screenshot: &Path) -> Result<BrowserCheck, BrowserError> {
    let chromium = chromium::find()?;
    if !crate::prereq::is_installed(&root.join(sut_kit::NODE_PACKAGE)) {
        return Err(BrowserError::NotInstalled);
    }
    // The pinned Node.js where it is installed; the checker needs nothing newer than npm's.
    let node = contract::runtime::resolve(root, contract::runtime::DEFAULT_RUNTIME)
        .map_or_else(|_| "node".into(), |r| r.binary);
    let out = Command::new(node)
        .arg(root.join(CHECKER))
        .arg("--report")
        .arg(report)
        .arg("--screenshot")
        .arg(screenshot)
        .arg("--chromium")
        .arg(&chromium)
        .output()
        .map_err(BrowserError::Node)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(BrowserError::Failed(format!(
            "{} {}",
            stdout.trim(),
            stderr.trim()
        )));
    }
    serde_json::from_str(stdout.trim())
        .map_err(|e| BrowserError::Failed(format!("unreadable answer ({e}): {}", stdout.trim())))
}
