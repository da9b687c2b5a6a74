//! `harness browser`: the chat page in a real browser against each backend (docs/chat-page.md).
//! The suite is the `conformance` crate's ([`conformance::browser`]); this stage starts one mock
//! provider for the run, plays the suite on each built backend, and records
//! `backends.<name>.browser`, with the screenshots under `browser/<backend>/` in the run folder.
//!
//! It verifies rather than measures, so it runs on every built backend, whatever conformance
//! said: a page that works on a backend that fails a conformance case is worth knowing about.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use contract::results::{Browser, BrowserCase, Outcome};

use conformance::browser::{self, CaseVerdict, SuiteEnv, SuiteReport};
use sut_kit::chromium;
use sut_kit::manifest::Backend;
use sut_kit::mock::Mock;
use sut_kit::orchestrate::StartSettings;

use crate::prereq;
use crate::run_dir::RunDir;
use crate::stages::{Context, Stage, Takes};
use crate::verify::{self, StageSummary};

pub const STAGE: &str = contract::results::stages::BROWSER;
/// The cases `--quick` plays: one of each behaviour the page has whose path differs between
/// the architectures (tool calls rendered as they stream, Stop reaching the provider, an
/// upstream error shown with Retry, a backend cutting the stream, a second turn carrying the
/// first), so a quick run still sees every behaviour, while a full run plays all twelve on every
/// backend (web/browser/cases.mjs). [`QUICK_EVERY_BACKEND`] plays on each backend, the others
/// are dealt out over the backends ([`quick_cases`]).
pub const QUICK_CASES: &[&str] = &[
    QUICK_EVERY_BACKEND,
    "tool-chain",
    "stop",
    "http-500",
    "bad-input/stream-cut",
];

/// The quick case every backend plays: the conversation screenshot the report shows for each.
pub const QUICK_EVERY_BACKEND: &str = "second-turn";

/// The cases a quick run gives the backend at `index` of `count` (in the order the stage plays
/// them): [`QUICK_EVERY_BACKEND`], and the k-th of the other quick cases where k mod `count` is
/// `index`. With the four backends in name order, http plays `tool-chain`, napi `stop`,
/// rust-only `http-500` and unix `bad-input/stream-cut`; one backend alone plays all five. Each
/// behaviour is seen once a run rather than once per backend: the stage was 50 s of a five
/// minute budget with every quick case on every backend (docs/chat-page.md#in-ci-each-case-once).
pub fn quick_cases(index: usize, count: usize) -> Vec<String> {
    let count = count.max(1);
    QUICK_CASES
        .iter()
        .skip(1)
        .enumerate()
        .filter(|(k, _)| k % count == index % count)
        .map(|(_, c)| *c)
        .chain(std::iter::once(QUICK_EVERY_BACKEND))
        .map(str::to_owned)
        .collect()
}

/// The cases the test suite plays on one backend (harness/tests/browser.rs): every case
/// [`QUICK_CASES`] leaves out, so CI, which runs the tests and then `compare --quick`, plays
/// each case once (docs/chat-page.md#in-ci-each-case-once); and `second-turn` again, for the
/// conversation screenshot the test checks. What these cases exercise is the page and the
/// shell every backend shares (`backends/core`: the rate limit, the REST routes, the tools).
pub const TEST_CASES: &[&str] = &[
    "text",
    "tool-single",
    "tool-error",
    "unicode",
    "second-turn",
    "narrow-screen",
    "bad-input/backend-down",
    "bad-input/rate-limited",
];

/// Flags the stage adds to every start of a backend: no provider retries. With the AI SDK's
/// two retries the `http-500` case waited out their backoff (2 s, then 4 s) on every backend
/// before the page showed the same error; retrying is the conformance stage's to check
/// (`http-429/retry-recovers`), the page's part is showing the last attempt's error.
pub const BACKEND_FLAGS: &[&str] = &["--max-retries", "0"];

/// The npm package that holds the page and the suite's driver (playwright-core).
pub const WEB_PACKAGE: &str = "web";

#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.explicit`: a named backend that is not built is a failure, not a skip.
    pub ctx: Context,
    /// Case names to play on every backend (`text`, `bad-input/backend-down`, ...); empty plays
    /// [`quick_cases`] with `ctx.quick`, else them all.
    pub cases: Vec<String>,
}

/// The verdicts of one run of the stage.
pub type Summary = StageSummary<Browser>;

impl Summary {
    pub fn any_failed(&self) -> bool {
        self.verdicts.iter().any(|(_, b)| b.failed > 0)
    }

    /// One line per backend (counts, the screenshot), then the reason of every failed case.
    pub fn write(&self, out: &mut impl Write, run: &Path) -> std::io::Result<()> {
        let width = self
            .verdicts
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0);
        for (name, browser) in &self.verdicts {
            let screenshot = browser.screenshot.as_deref().map_or_else(
                || "no screenshot".to_owned(),
                |s| run.join(s).display().to_string(),
            );
            writeln!(
                out,
                "{name:width$}  {:>2} passed  {:>2} failed  {screenshot}",
                browser.passed, browser.failed
            )?;
        }
        for (name, browser) in &self.verdicts {
            for case in browser.cases.iter().filter(|c| c.outcome != Outcome::Ok) {
                let reason = case.reason.as_deref().unwrap_or("no reason given");
                writeln!(out, "FAILED {name} {}: {reason}", case.name)?;
            }
        }
        for (name, why) in &self.skipped {
            writeln!(out, "SKIPPED {name}: {why}")?;
        }
        Ok(())
    }
}

/// Plays the browser suite on `backends`, recording into `run` as it goes. Fails before starting
/// anything when there is no Chromium or the page's package cannot be installed.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> Result<Summary> {
    let chromium = chromium::find()?;
    prereq::ensure_installed(&opts.ctx.root, WEB_PACKAGE)?;
    let profile = run.run().profile.clone();
    let (ready, not_built) =
        verify::built_backends(backends, &opts.ctx.root, &profile, &mut run.results, STAGE);
    let mut summary = Summary::not_built(not_built, opts.ctx.explicit, |name, reason| {
        let failed = failed_suite(reason);
        run.results.backend_mut(name).browser = Some(failed.clone());
        failed
    });
    run.save()?;
    if ready.is_empty() {
        return Ok(summary);
    }

    let mock = Mock::start().await?;
    let mut start = StartSettings::new(
        &opts.ctx.root,
        &profile,
        mock.openai_url(),
        opts.ctx.ready_timeout,
    );
    start.extra_args = BACKEND_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    let mut env = SuiteEnv {
        start,
        mock_url: mock.url(),
        chromium,
        cases: opts.cases.clone(),
    };
    let count = ready.len();
    for (index, backend) in ready.into_iter().enumerate() {
        let name = backend.name();
        if opts.cases.is_empty() && opts.ctx.quick {
            env.cases = quick_cases(index, count);
        }
        eprintln!("[{name}] {STAGE}: the chat page in Chromium");
        let out_dir = run.path.join(STAGE).join(name);
        let log_dir = run.logs(STAGE).join(name);
        let progress = |v: &CaseVerdict| match &v.reason {
            None => eprintln!("[{name}] {STAGE} {}: ok", v.name),
            Some(reason) => eprintln!("[{name}] {STAGE} {}: FAILED: {reason}", v.name),
        };
        let verdict = match browser::run_backend(backend, &env, &out_dir, &log_dir, &progress).await
        {
            Ok(report) => record(report, run),
            Err(e) => failed_suite(&e.to_string()),
        };
        eprintln!(
            "[{name}] {STAGE}: {} passed, {} failed",
            verdict.passed, verdict.failed
        );
        run.results.backend_mut(name).browser = Some(verdict.clone());
        run.save()?;
        summary.verdicts.push((name.to_owned(), verdict));
    }
    mock.stop().await;
    Ok(summary)
}

/// The suite's report as results.json keeps it, paths relative to the run folder.
fn record(report: SuiteReport, run: &RunDir) -> Browser {
    let cases = report
        .cases
        .into_iter()
        .map(|case| BrowserCase {
            name: case.name,
            outcome: if case.passed {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
            reason: case.reason,
            screenshot: case.screenshot.map(|p| run.relative(&p)),
        })
        .collect();
    Browser {
        screenshot: report.conversation_screenshot.map(|p| run.relative(&p)),
        browser_version: report.browser_version,
        ..Browser::from_cases(cases)
    }
}

/// A suite that could not run at all is one failed case saying why, not an absent verdict.
fn failed_suite(reason: &str) -> Browser {
    Browser::from_cases(vec![BrowserCase {
        name: "browser-suite".into(),
        outcome: Outcome::Failed,
        reason: Some(reason.to_owned()),
        screenshot: None,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case names of the driver (web/browser/cases.mjs): each entry of `CASES` opens with
    /// a line of its own, `name: '<case>',`.
    fn driver_cases() -> Vec<String> {
        let root = sut_kit::repo_root();
        let cases = std::fs::read_to_string(root.join("web/browser/cases.mjs"))
            .expect("web/browser/cases.mjs is tracked");
        cases
            .lines()
            .filter_map(|l| l.trim().strip_prefix("name: '")?.strip_suffix("',"))
            .map(str::to_owned)
            .collect()
    }

    /// A quick or test case the driver does not know would stop the suite ("unknown case") in
    /// every run; the names are checked against the driver's case list here instead.
    #[test]
    fn every_quick_and_test_case_is_a_case_of_the_driver() {
        let cases = driver_cases();
        assert!(cases.len() >= 12, "read {cases:?} from cases.mjs");
        for case in QUICK_CASES.iter().chain(TEST_CASES) {
            assert!(
                cases.iter().any(|c| c == case),
                "{case} is not a case of web/browser/cases.mjs"
            );
        }
    }

    /// Every quick case plays on some backend whatever their number, and every backend plays
    /// the one the report shows.
    #[test]
    fn a_quick_run_deals_every_quick_case_and_shows_every_backend_s_conversation() {
        for count in 1..=6 {
            let dealt: Vec<Vec<String>> = (0..count).map(|i| quick_cases(i, count)).collect();
            for case in QUICK_CASES {
                assert!(
                    dealt.iter().flatten().any(|c| c == case),
                    "{case} plays on none of {count} backends"
                );
            }
            assert!(
                dealt
                    .iter()
                    .all(|d| d.iter().any(|c| c == QUICK_EVERY_BACKEND))
            );
        }
        assert_eq!(
            quick_cases(0, 1).len(),
            QUICK_CASES.len(),
            "one backend plays them all"
        );
        assert_eq!(quick_cases(2, 4), ["http-500", QUICK_EVERY_BACKEND]);
    }

    /// CI plays the quick cases in `compare --quick` and the test cases in the test suite: a
    /// case in neither would never run there.
    #[test]
    fn ci_plays_every_case_of_the_driver() {
        for case in driver_cases() {
            assert!(
                QUICK_CASES.contains(&case.as_str()) || TEST_CASES.contains(&case.as_str()),
                "{case} is neither a quick case nor a test case: CI would never play it"
            );
        }
    }
}

/// The browser stage: the suite, then one line per backend on stdout.
#[derive(Debug)]
pub struct BrowserStage;

impl Stage for BrowserStage {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::Built;
    type Options = Options;

    /// The quick cases with --quick ([`quick_cases`]), else all of them.
    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            cases: Vec::new(),
        }
    }

    /// A machine without Chromium: a run whose measurements do not need it still goes on.
    fn unavailable(_opts: &Options) -> Option<String> {
        chromium::find().err().map(|missing| missing.to_string())
    }

    async fn run(
        opts: &Options,
        backends: &[Backend],
        run: &mut RunDir,
    ) -> Result<crate::stages::Outcome> {
        let summary = self::run(backends, run, opts).await?;
        summary.write(&mut std::io::stdout().lock(), &run.path)?;
        summary.outcome(summary.any_failed())
    }
}
