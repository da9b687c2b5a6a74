//! The evidence stage's raw figures beside the matrix's stars: each is a measured proxy for one
//! of the notes' criteria, shown with what it counted (docs/report.md#evidence).

use contract::results::{Evidence, Results};

use super::super::charts::evidence::{Targets, absent};
use super::super::format::NOT_MEASURED;
use super::super::tables::{Cell, Table};
use super::{Body, header};

type Line = (&'static str, fn(&Evidence) -> Option<String>);

/// One line per figure, backends across.
const LINES: &[Line] = &[
    ("Maintainability: own code (non-blank lines, files)", |e| {
        let m = e.maintainability.as_ref()?;
        let langs: Vec<String> = m
            .languages
            .iter()
            .map(|(l, c)| format!("{l} {}", c.lines))
            .collect();
        Some(format!(
            "{} in {} files ({})",
            m.own_lines,
            m.own_files,
            langs.join(", ")
        ))
    }),
    (
        "Maintainability: of which shared with another backend",
        |e| Some(e.maintainability.as_ref()?.shared_lines.to_string()),
    ),
    ("Maintainability: crates direct / transitive", |e| {
        let m = e.maintainability.as_ref()?;
        Some(format!("{} / {}", m.crates_direct, m.crates_transitive))
    }),
    ("Maintainability: npm packages direct / transitive", |e| {
        let m = e.maintainability.as_ref()?;
        Some(format!("{} / {}", m.npm_direct, m.npm_transitive))
    }),
    ("Maintainability: the last SDK upgrade changed", |e| {
        let u = e.maintainability.as_ref()?.last_upgrade.as_ref()?;
        Some(format!(
            "{} files, +{} −{} lines ({})",
            u.files, u.lines_added, u.lines_removed, u.upgrade
        ))
    }),
    ("Cross-platform: OS-specific APIs in own code", |e| {
        let c = e.cross_platform.as_ref()?;
        let apis: Vec<String> = c
            .os_specific
            .iter()
            .map(|u| format!("{} ({} sites)", u.api, u.sites.len()))
            .collect();
        Some(if apis.is_empty() {
            "none".to_owned()
        } else {
            apis.join(", ")
        })
    }),
    (
        "Cross-platform: native builds for the listed platforms",
        |e| {
            let c = e.cross_platform.as_ref()?;
            let kinds: Vec<&str> = c.native_artifacts.iter().map(|a| a.kind.as_str()).collect();
            let here = c.platforms.iter().filter(|p| p.buildable_here).count();
            let runtimes = if c.runtimes.is_empty() {
                String::new()
            } else {
                format!(" + runtime {}", c.runtimes.join(", "))
            };
            Some(format!(
                "{} ({} × {} platforms{runtimes}); {here} buildable here",
                c.native_builds,
                kinds.join(", "),
                c.platforms.len()
            ))
        },
    ),
    (
        "Port conflicts: failed binds, fixed port, left behind",
        |e| {
            let p = e.port_conflicts.as_ref()?;
            Some(format!(
                "{} of {} side by side failed; fixed port: {} of 2 refused, error names the port: \
             {}, says in use: {}; {} left behind",
                p.failed_binds,
                p.instances,
                p.fixed_port_failed_binds,
                yes(p.error_names_port),
                yes(p.error_says_in_use),
                p.left_behind.len()
            ))
        },
    ),
    ("Security: probes as another user that succeeded", |e| {
        let s = e.security.as_ref()?;
        Some(match (s.succeeded, s.attempts, &s.skipped) {
            (Some(hit), Some(of), _) => format!(
                "{hit} of {of} (as {})",
                s.probe_user.as_deref().unwrap_or("?")
            ),
            (_, _, Some(why)) => format!("skipped: {why}"),
            _ => return None,
        })
    }),
    (
        "Development speed: edit to verdict (rebuild, start and case)",
        |e| {
            let d = e.development_speed.as_ref()?;
            let rebuild: f64 = d.steps.iter().map(|s| s.wall_s).sum();
            let verdict = if d.passed { "passed" } else { "failed" };
            Some(format!(
                "{:.1} s ({rebuild:.1} s, {:.1} s; {} {verdict}) after editing {}",
                d.loop_s, d.start_and_case_s, d.case, d.edited
            ))
        },
    ),
    (
        "Debug: checks met of those that apply (not applicable)",
        |e| {
            let d = e.debug.as_ref()?;
            Some(format!(
                "{} of {} ({}), over {} seeded failures",
                d.checks_met,
                d.checks_applicable,
                d.checks_not_applicable,
                d.failures.len()
            ))
        },
    ),
    ("Deployment: per instance (from its Kubernetes Pod)", |e| {
        let d = e.deployment.as_ref()?;
        Some(format!(
            "{} moving parts: {} processes, {} images, {} secrets, {} volumes, {} ports",
            d.moving_parts, d.processes, d.images, d.secrets, d.volumes, d.ports
        ))
    }),
    ("Deployment: configuration shipped", |e| {
        let d = e.deployment.as_ref()?;
        Some(format!(
            "{} lines in {} files ({})",
            d.config_lines,
            d.files.len(),
            d.folder
        ))
    }),
    (
        "Deployment: rebuilt for a new version; runtimes shipped",
        |e| {
            let d = e
                .deployment
                .as_ref()
                .filter(|d| !d.artifacts_rebuilt.is_empty())?;
            let runtimes = if d.runtimes_shipped.is_empty() {
                "none".to_owned()
            } else {
                d.runtimes_shipped.join(", ")
            };
            Some(format!("{}; {runtimes}", d.artifacts_rebuilt.join(", ")))
        },
    ),
];

/// Whether each deployment ran for real in this run (`harness deploy`, the "Deploying it"
/// section): the conformance suite through its published port and what `down` left. It sits
/// beside the counts read from the files because a folder that counts few parts but does not
/// come up is not a simple deployment.
fn rehearsal_row(results: &Results, backends: &[String]) -> Vec<Cell> {
    let not_run = |text: String| Cell {
        text,
        class: Some("nm"),
        ..Cell::default()
    };
    let mut row = vec![Cell::plain(
        "Deployment: rehearsed in containers (this run)",
    )];
    row.extend(backends.iter().map(|b| match results.deploy.get(b) {
        None => not_run("not run in this run (`harness deploy`)".into()),
        Some(d) => match (&d.skipped, &d.conformance) {
            (Some(why), _) => not_run(format!("skipped: {why}")),
            (None, None) => not_run("did not reach the conformance suite".into()),
            (None, Some(c)) => {
                let left = match &d.left_behind {
                    Some(left) if left.is_empty() => "; down left nothing".to_owned(),
                    Some(left) => format!("; down left {}", left.len()),
                    None => "; not brought down".to_owned(),
                };
                Cell {
                    class: Some(if c.failed == 0 { "ok" } else { "bad" }),
                    ..Cell::plain(format!(
                        "{} passed, {} failed through its published port{left}",
                        c.passed, c.failed
                    ))
                }
            }
        },
    }));
    row
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The proxies table, then every security probe that succeeded and the first line of every
/// second fixed-port instance's error, as its operator reads it.
pub fn proxies(results: &Results) -> Body {
    let t = Targets::of(results);
    let evidence = |b: &String| results.backends.get(b).map(|r| &r.evidence);
    if t.backends
        .iter()
        .all(|b| evidence(b).is_none_or(Evidence::is_empty))
    {
        return Body {
            after: vec![absent(results, contract::results::stages::EVIDENCE)],
            ..Body::default()
        };
    }
    let rows = LINES
        .iter()
        .map(|(name, read)| {
            let mut row = vec![Cell::plain(*name)];
            row.extend(
                t.backends
                    .iter()
                    .map(|b| match evidence(b).and_then(*read) {
                        Some(text) => Cell::plain(text),
                        None => Cell {
                            text: NOT_MEASURED.into(),
                            class: Some("nm"),
                            ..Cell::default()
                        },
                    }),
            );
            row
        })
        .chain(std::iter::once(rehearsal_row(results, &t.backends)))
        .collect();
    let mut items = Vec::new();
    for b in &t.backends {
        let Some(e) = evidence(b) else { continue };
        if let Some(s) = &e.security {
            for p in s.probes.iter().filter(|p| p.succeeded) {
                items.push(format!("{b}: probe succeeded: {} ({})", p.what, p.saw));
            }
        }
        if let Some(msg) = e
            .port_conflicts
            .as_ref()
            .and_then(|p| p.fixed_port_error.as_ref())
        {
            let first = msg.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            items.push(format!("{b}: a fixed port bound twice: {first}"));
        }
    }
    Body {
        before: vec![
            "Measured proxies for criteria the notes scored by hand: each counts something a \
             reader can recount, and none is the criterion itself (docs/report.md#evidence)."
                .to_owned(),
        ],
        tables: std::iter::once(Table {
            header: header("Proxy", &t.backends),
            rows,
        })
        .chain(super::debug_checks::table(&t.backends, results))
        .collect(),
        items,
        after: Vec::new(),
    }
}
