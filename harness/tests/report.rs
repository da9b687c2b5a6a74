//! The report rendered from recorded runs: snapshots of every section (a full run and one with
//! stages missing), the page's self-containment, and the page as headless Chromium shows it.
// Test helpers: a recorded run that cannot be read should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use contract::results::Results;
use harness::matrix::{self, MatrixConfig};
use harness::stages::report;

const FULL: &str = "hand-written-full";
const MISSING: &str = "hand-written-missing-stages";

/// Every section the page must carry, in reading order.
const SECTIONS: &[&str] = &[
    "verdict",
    "matrix",
    "sensitivity",
    "benchmarks",
    "crash",
    "proxies",
    "load-points",
    "calibration",
    "conformance",
    "chat-page",
    "method",
    "run",
];
const CHARTS: &[&str] = &[
    "chart-overhead",
    "chart-spectrum",
    "chart-load",
    "chart-cpu",
    "chart-memory",
    "chart-soak",
    "chart-build",
    "chart-calibration",
];

fn fixture(name: &str) -> PathBuf {
    sut_kit::repo_root()
        .join("harness/tests/fixtures/report")
        .join(name)
}

/// A recorded run with its matrix computed from the repository's config.
fn recorded(name: &str) -> Results {
    let text = std::fs::read_to_string(fixture(name).join("results.json")).unwrap();
    let mut results: Results = serde_json::from_str(&text).unwrap();
    matrix::compute_into(&mut results, &sut_kit::repo_root()).unwrap();
    results
}

fn terminal(results: &Results) -> String {
    let mut out = Vec::new();
    report::write_summary(&mut out, results).unwrap();
    String::from_utf8(out).unwrap()
}

/// The page with each SVG reduced to its text labels: the snapshot shows every label and
/// number a chart carries without thousands of path coordinates.
fn page_outline(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("</svg>")
            .map_or(rest.len(), |e| start + e + 6);
        let svg = &rest[start..end];
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0))
            .collect();
        out.push_str(&format!("<svg>[{}]</svg>", texts.join(" | ")));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_recorded_runs_follow_the_schema() {
    for name in [FULL, MISSING] {
        let violations =
            harness::schema::file_violations(&fixture(name).join("results.json")).unwrap();
        assert!(violations.is_empty(), "{name}: {violations:?}");
        let computed = serde_json::to_value(recorded(name)).unwrap();
        let violations = harness::schema::violations(&computed);
        assert!(
            violations.is_empty(),
            "{name} with its matrix: {violations:?}"
        );
    }
}

#[test]
fn a_full_run_renders_every_section_chart_and_table() {
    let results = recorded(FULL);
    let (html, md) = report::render(&results, Some(&fixture(FULL))).unwrap();
    for id in SECTIONS.iter().chain(CHARTS) {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    let positions: Vec<usize> = SECTIONS
        .iter()
        .map(|id| html.find(&format!("<section id=\"{id}\"")).unwrap())
        .collect();
    assert!(
        positions.is_sorted(),
        "the verdict and the matrix come first, then the evidence"
    );
    assert_eq!(
        html.matches("<svg").count(),
        CHARTS.len() + 1,
        "the overhead figure has two panels"
    );
    assert!(
        !html.contains("class=\"not-measured\""),
        "a full run measures every chart"
    );
    assert!(
        html.contains("<section id=\"deploying\""),
        "a run with deploy.<backend> has its Deploying it section"
    );
    let m = results.matrix.as_ref().unwrap();
    assert!(m.winner.is_some(), "the full run has a winner");
    insta::assert_snapshot!("full-report-outline", page_outline(&html));
    insta::assert_snapshot!("full-summary-md", md);
    insta::assert_snapshot!("full-terminal", terminal(&results));
}

#[test]
fn a_run_with_stages_missing_says_what_was_not_measured_and_why() {
    let results = recorded(MISSING);
    let (html, md) = report::render(&results, Some(&fixture(MISSING))).unwrap();
    for id in SECTIONS.iter().chain(CHARTS) {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    // Build times are the one chart this run has; the bench and crash figures are missing, and
    // each says why: napi was skipped by those stages.
    assert_eq!(html.matches("<svg").count(), 1);
    assert!(
        html.contains("it skipped napi (failed 1 conformance case(s)"),
        "the skip reason is shown"
    );
    let m = results.matrix.as_ref().unwrap();
    assert_eq!(m.winner, None);
    assert_eq!(m.not_competing["napi"], "failed 1 conformance case(s)");
    let build = m.rows.iter().find(|r| r.id == "build-complexity").unwrap();
    assert_eq!(
        build.not_counted.as_deref(),
        Some("no figure for rust-only")
    );
    assert!(!terminal(&results).contains("NaN"));
    insta::assert_snapshot!("missing-report-outline", page_outline(&html));
    insta::assert_snapshot!("missing-summary-md", md);
    insta::assert_snapshot!("missing-terminal", terminal(&results));
}

#[test]
fn the_page_is_self_contained() {
    let (html, _) = report::render(&recorded(FULL), Some(&fixture(FULL))).unwrap();
    // Images only as data URLs: the chat page's screenshot of each backend, read from the run.
    assert_eq!(
        html.matches("<img").count(),
        4,
        "one screenshot per backend"
    );
    assert_eq!(
        html.matches(" src=").count(),
        html.matches(" src=\"data:image/png;base64,").count(),
        "an image that is not embedded"
    );
    for outside in ["<script", "<link", "url(", "@import", "@font-face"] {
        assert!(
            !html.contains(outside),
            "the page must not load anything: found {outside}"
        );
    }
    // The one address allowed is the SVG namespace, a name that is never fetched.
    const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";
    let addresses: Vec<String> = html
        .match_indices("://")
        .filter(|(i, _)| !html[i.saturating_sub(4)..].starts_with(SVG_NAMESPACE))
        .map(|(i, _)| html[i.saturating_sub(8)..].chars().take(40).collect())
        .collect();
    assert!(addresses.is_empty(), "{addresses:?}");
}

#[test]
fn render_run_writes_both_files_into_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let results = recorded(MISSING);
    let rendered = report::render_run(dir.path(), &results).unwrap();
    assert_eq!(rendered.report, dir.path().join(report::REPORT_FILE));
    let md = std::fs::read_to_string(&rendered.summary).unwrap();
    assert!(md.starts_with("# Chat-architecture arena: run 20260102T090000Z-hand002"));
    assert!(
        std::fs::read_to_string(&rendered.report)
            .unwrap()
            .ends_with("</html>\n")
    );
}

#[test]
fn a_broken_config_is_an_error_naming_the_row() {
    let text = std::fs::read_to_string(sut_kit::repo_root().join(matrix::CONFIG_PATH)).unwrap();
    let broken = text.replacen(
        "at = [20000, 5000, 2000, 100]",
        "at = [100, 2000, 5000, 20000]",
        1,
    );
    let err = MatrixConfig::parse(&broken, matrix::CONFIG_PATH)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row `latency`") && err.contains("must fall"),
        "{err}"
    );
}

/// The rendered page in headless Chromium: every chart and table present and visible, no
/// console error, nothing requested from outside the file, and a screenshot kept.
#[test]
fn the_page_shows_whole_in_a_real_browser() {
    let root = sut_kit::repo_root();
    for name in [FULL, MISSING] {
        let run = tempfile::tempdir().unwrap();
        copy_screenshots(&fixture(name), run.path());
        let rendered = report::render_run(run.path(), &recorded(name)).unwrap();
        let shot = run.path().join(report::browser::SCREENSHOT_FILE);
        let seen = report::browser::check(&root, &rendered.report, &shot)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(seen.problems(), Vec::<String>::new(), "{name}");
        let mut sections = seen.sections.clone();
        sections.retain(|s| SECTIONS.contains(&s.as_str()));
        assert_eq!(sections, SECTIONS, "{name}");
        let charts: Vec<&str> = seen.charts.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(charts, CHARTS, "{name}");
        let drawn = seen.charts.iter().filter(|c| !c.not_measured).count();
        assert_eq!(drawn, if name == FULL { CHARTS.len() } else { 1 }, "{name}");
        // Decision, benchmarks, conformance, method and run always; crash (and its reader
        // faults), the measured proxies and their debug checks, load points, the two
        // calibration tables, the browser suite's and the two of the deployments where those
        // stages ran.
        let tables = if name == FULL { 15 } else { 5 };
        assert_eq!(seen.tables.len(), tables, "{name}");
        assert!(
            png_size(&shot) > (1000, 2000),
            "{name}: a full-page screenshot"
        );
    }
}

/// The recorded run's `browser/` screenshots, into the run folder a test renders into.
fn copy_screenshots(from: &Path, to: &Path) {
    let Ok(backends) = std::fs::read_dir(from.join("browser")) else {
        return;
    };
    for backend in backends {
        let backend = backend.unwrap().path();
        let into = to.join("browser").join(backend.file_name().unwrap());
        std::fs::create_dir_all(&into).unwrap();
        for file in std::fs::read_dir(&backend).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(&file, into.join(file.file_name().unwrap())).unwrap();
        }
    }
}

/// Width and height of a PNG, from its header.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[1..4], b"PNG", "{} is a PNG", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn a_distributed_run_shows_beside_the_harness_client_and_says_when_partial() {
    let mut results = recorded(MISSING);
    let stats = |p50: f64| {
        contract::results::LatencyStats::from_percentiles(
            10,
            p50,
            p50,
            p50 * 2.0,
            p50 * 2.0,
            p50 * 2.0,
        )
    };
    let d = contract::results::Distributed {
        engine: "locust 2.47.0".into(),
        target: "far".into(),
        url: "http://10.0.0.5:3030".into(),
        workers: 2,
        workers_reported: 1,
        rate_rps: 10.0,
        seconds: 10.0,
        scenario: "text".into(),
        scripted_gap_ms: 10,
        scheduled: 100,
        started: 75,
        completed: 74,
        errors: 0,
        lost_chunks: 0,
        reordered_chunks: 0,
        ttft_us: Some(stats(25_111.0)),
        gap_us: Some(stats(9_990.0)),
        lost: contract::results::LostShare {
            workers: 1,
            share: 0.26,
        },
        partial: true,
        harness_client: Some(contract::results::ClientFigures {
            conversations: 100,
            errors: 0,
            ttft_us: Some(stats(24_222.0)),
            gap_us: None,
        }),
        interleaved: None,
    };
    results.load = Some(contract::results::LoadRuns {
        distributed: Some(d),
    });
    let (html, md) = report::render(&results, None).unwrap();
    assert!(html.contains("id=\"beyond-one-machine\""));
    assert!(html.contains("25111 µs") && html.contains("24222 µs"));
    assert!(md.contains("## Distributed load"), "{md}");
    assert!(
        md.contains("1 of 2 workers reported (partial: 26.0% of the schedule unreported)"),
        "{md}"
    );
    assert!(
        md.contains("| workers, merged | 74 | 0 | 25111 µs |"),
        "{md}"
    );
    assert!(
        md.contains("| the harness's own | 100 | 0 | 24222 µs |"),
        "{md}"
    );
    let violations = harness::schema::violations(&serde_json::to_value(&results).unwrap());
    assert!(violations.is_empty(), "{violations:?}");
}

/// A backend still healthy at the load generator's ceiling has only a lower bound for its
/// saturation: the report says "at least" and names the ceiling, never the rate as its figure
/// (docs/bench.md#capacity).
#[test]
fn a_generator_bound_saturation_reads_as_a_lower_bound() {
    let mut results = recorded(FULL);
    let rust_only = results.backends.get_mut("rust-only").unwrap();
    rust_only.capacity.as_mut().unwrap().generator_bound = true;
    let (html, md) = report::render(&results, Some(&fixture(FULL))).unwrap();
    for text in [&html, &md] {
        assert!(
            text.contains("rust-only at least 88"),
            "the lower bound is not said as such"
        );
        assert!(
            text.contains("unix 42"),
            "a measured saturation reads as itself"
        );
    }
}
