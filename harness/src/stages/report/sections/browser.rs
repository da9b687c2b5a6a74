//! The chat page in a real browser: the browser suite's verdict per backend (docs/chat-page.md)
//! and the one screenshot of each backend's page, which html.rs embeds from the run folder.

use contract::results::{Outcome, Results};

use super::{Body, Verdict, verdicts};
use crate::stages::report::charts::evidence::Targets;
use contract::results::stages;

/// The verdict table and every failed case's reason.
pub fn browser(results: &Results) -> Body {
    verdicts(
        results,
        stages::BROWSER,
        "The chat page every backend serves (useChat from @ai-sdk/react), driven in headless \
         Chromium: text, tool calls, an error, a second turn, Stop mid-stream, and a backend \
         that is down, rate-limited or cuts the stream.",
        ["Backend", "Passed", "Failed", "Browser"],
        |r| {
            let page = r.browser.as_ref()?;
            Some(Verdict {
                passed: page.passed,
                good: page.failed == 0,
                failed: page.failed,
                last: page.browser_version.clone().unwrap_or_else(|| "—".into()),
                not_passed: page
                    .cases
                    .iter()
                    .filter(|c| c.outcome != Outcome::Ok)
                    .map(|c| (c.outcome, c.name.clone(), c.reason.clone()))
                    .collect(),
            })
        },
    )
}

/// Each backend's screenshot, as recorded (relative to the run folder), in the report's order.
pub fn screenshots(results: &Results) -> Vec<(String, String)> {
    Targets::of(results)
        .backends
        .iter()
        .filter_map(|b| {
            let shot = results
                .backends
                .get(b)?
                .browser
                .as_ref()?
                .screenshot
                .clone()?;
            Some((b.clone(), shot))
        })
        .collect()
}
