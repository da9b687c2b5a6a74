//! The chat page in a real browser: the browser suite's verdict per backend (docs/chat-page.md)
//! and the one screenshot of each backend's page, which html.rs embeds from the run folder.

use contract::results::{Outcome, Results};

use super::Body;
use crate::browser_stage;
use crate::report::charts::evidence::{Targets, absent};
use crate::report::tables::{Cell, Table};

/// The verdict table and every failed case's reason.
pub fn browser(results: &Results) -> Body {
    let t = Targets::of(results);
    let rows: Vec<Vec<Cell>> = t
        .backends
        .iter()
        .filter_map(|b| {
            let page = results.backends.get(b)?.browser.as_ref()?;
            Some(vec![
                Cell::plain(b),
                Cell {
                    text: page.passed.to_string(),
                    class: Some(if page.failed == 0 { "ok" } else { "bad" }),
                    ..Cell::default()
                },
                Cell::plain(page.failed.to_string()),
                Cell::plain(page.browser_version.as_deref().unwrap_or("—")),
            ])
        })
        .collect();
    if rows.is_empty() {
        return Body {
            after: vec![absent(results, browser_stage::STAGE)],
            ..Body::default()
        };
    }
    let items = t
        .backends
        .iter()
        .filter_map(|b| Some((b, results.backends.get(b)?.browser.as_ref()?)))
        .flat_map(|(b, page)| {
            page.cases
                .iter()
                .filter(|c| c.outcome != Outcome::Ok)
                .map(move |c| {
                    format!(
                        "{} {b} {}: {}",
                        c.outcome.as_str(),
                        c.name,
                        c.reason.as_deref().unwrap_or("")
                    )
                })
        })
        .collect();
    Body {
        before: vec![
            "The chat page every backend serves (useChat from @ai-sdk/react), driven in \
             headless Chromium: text, tool calls, an error, a second turn, Stop mid-stream, and \
             a backend that is down, rate-limited or cuts the stream."
                .into(),
        ],
        tables: vec![Table {
            header: ["Backend", "Passed", "Failed", "Browser"]
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            rows,
        }],
        items,
        after: Vec::new(),
    }
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
