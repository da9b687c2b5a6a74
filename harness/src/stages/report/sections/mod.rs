//! The report's evidence tables and lists beyond the charts: the crash matrix ([`crash`]), the
//! load points and the calibration ([`bench`]), the chat page in a browser ([`browser`]), the
//! figures per JavaScript runtime ([`runtimes`]), the sidecar pool ([`pool`]),
//! conformance, the star thresholds, and the run itself.

mod bench;
mod browser;
mod crash;
mod debug_checks;
mod deploying;
mod distributed;
mod pool;
mod proxies;
mod runtimes;

pub use bench::{calibration, load_points};
pub use browser::{browser, screenshots};
pub use crash::crash;
pub use deploying::deploying;
pub use distributed::{beyond_one_machine, external_crash, slope_line};
pub use pool::sidecar_pool;
pub use proxies::proxies;
pub use runtimes::runtimes;

use contract::results::{BackendResults, Matrix, Outcome, Results};

use super::charts::evidence::{Targets, absent, skips};
use super::format::{and_list, figure, num, times};
use super::tables::{Cell, Table};
use contract::results::stages;

/// A section's content: paragraphs, tables, a list, and closing notes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    pub before: Vec<String>,
    pub tables: Vec<Table>,
    pub items: Vec<String>,
    pub after: Vec<String>,
}

pub(super) fn header(first: &str, backends: &[String]) -> Vec<String> {
    std::iter::once(first.to_owned())
        .chain(backends.iter().cloned())
        .collect()
}

pub(super) fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("—".to_owned(), |v| figure(v, unit))
}

/// One backend's line in a verdict section (conformance, the browser suite) and its cases that
/// did not pass.
pub(super) struct Verdict {
    pub passed: u32,
    /// Whether the passed count shows green.
    pub good: bool,
    pub failed: u32,
    /// The table's fourth column (unsupported cases, the browser's version).
    pub last: String,
    /// (outcome, case, reason) of every case that did not pass.
    pub not_passed: Vec<(Outcome, String, Option<String>)>,
}

/// A verdict section: `intro`, one row per backend that has a verdict, then every case that
/// did not pass; "not measured" with the reason when `stage` recorded none.
pub(super) fn verdicts(
    results: &Results,
    stage: &str,
    intro: &str,
    header: [&str; 4],
    verdict: impl Fn(&BackendResults) -> Option<Verdict>,
) -> Body {
    let t = Targets::of(results);
    let found: Vec<(&String, Verdict)> = t
        .backends
        .iter()
        .filter_map(|b| Some((b, verdict(results.backends.get(b)?)?)))
        .collect();
    if found.is_empty() {
        return Body {
            after: vec![absent(results, stage)],
            ..Body::default()
        };
    }
    let rows = found
        .iter()
        .map(|(b, v)| {
            vec![
                Cell::plain(*b),
                Cell {
                    text: v.passed.to_string(),
                    class: Some(if v.good { "ok" } else { "bad" }),
                    ..Cell::default()
                },
                Cell::plain(v.failed.to_string()),
                Cell::plain(v.last.clone()),
            ]
        })
        .collect();
    let items = found
        .iter()
        .flat_map(|(b, v)| {
            v.not_passed.iter().map(move |(outcome, case, reason)| {
                format!(
                    "{} {b} {case}: {}",
                    outcome.as_str(),
                    reason.as_deref().unwrap_or("")
                )
            })
        })
        .collect();
    Body {
        before: vec![intro.to_owned()],
        tables: vec![Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
        }],
        items,
        after: Vec::new(),
    }
}

pub fn conformance(results: &Results) -> Body {
    verdicts(
        results,
        stages::CONFORMANCE,
        "Later stages measure only backends that passed every case.",
        ["Backend", "Passed", "Failed", "Unsupported"],
        |r| {
            let c = r.conformance.as_ref()?;
            Some(Verdict {
                passed: c.passed,
                good: c.is_verified(),
                failed: c.failed,
                last: c.unsupported.to_string(),
                not_passed: c
                    .cases
                    .iter()
                    .filter(|c| c.outcome != Outcome::Ok)
                    .map(|c| (c.outcome, c.scenario.clone(), c.reason.clone()))
                    .collect(),
            })
        },
    )
}

/// Each starred row's figure, thresholds, weight and the reasons for them.
pub fn method(m: &Matrix) -> Body {
    let rows = m
        .rows
        .iter()
        .filter_map(|r| {
            let s = r.scoring.as_ref()?;
            let at: Vec<String> =
                s.at.iter()
                    .map(|v| {
                        if s.relative_to_best {
                            times(*v)
                        } else {
                            figure(*v, &r.unit)
                        }
                    })
                    .collect();
            let way = if s.lower_is_better {
                "at most"
            } else {
                "at least"
            };
            let of = if s.relative_to_best { " the best" } else { "" };
            Some(vec![
                Cell::plain(&r.criterion),
                Cell {
                    text: r.metric.clone().unwrap_or_default(),
                    detail: r.metric_why.clone(),
                    ..Cell::default()
                },
                Cell::plain(format!(
                    "2★ {way} {}{of}, 3★ {}, 4★ {}, 5★ {}",
                    at[0], at[1], at[2], at[3]
                )),
                Cell {
                    text: r.weight.map_or("—".into(), num),
                    detail: Some(s.why_weight.clone()),
                    ..Cell::default()
                },
                Cell::plain(&s.why_thresholds),
            ])
        })
        .collect();
    Body {
        before: vec![format!(
            "From {}. A row counts towards the totals when every backend in the race has its \
             figure; totals are the weighted sums of stars. The method: docs/report.md.",
            m.config
        )],
        tables: vec![Table {
            header: [
                "Criterion",
                "Figure (path in results.json)",
                "Thresholds",
                "Weight",
                "Why these thresholds",
            ]
            .iter()
            .map(|h| (*h).to_owned())
            .collect(),
            rows,
        }],
        ..Body::default()
    }
}

/// Machine, versions, noise, what was skipped and what was reused.
pub fn run(results: &Results) -> Body {
    let r = &results.run;
    let v = &r.versions;
    let m = &r.machine;
    let unknown = || "unknown".to_owned();
    let mut facts = vec![
        ("Run", r.id.clone()),
        ("Commit", r.git_sha.clone()),
        ("Started", r.started_at.clone()),
        ("Profile", r.profile.clone()),
        ("CPU", m.cpu.clone().unwrap_or_else(unknown)),
        ("Cores", m.cores.map_or_else(unknown, |c| c.to_string())),
        (
            "Memory",
            m.mem_gib
                .map_or_else(unknown, |g| format!("{} GiB", num(g))),
        ),
        ("Kernel", m.kernel.clone().unwrap_or_else(unknown)),
        ("rustc", v.rustc.clone().unwrap_or_else(unknown)),
        ("Node.js", v.node.clone().unwrap_or_else(unknown)),
        ("ai (npm)", v.ai.clone().unwrap_or_else(unknown)),
        ("napi (crate)", v.napi.clone().unwrap_or_else(unknown)),
        (
            "async-openai",
            v.async_openai.clone().unwrap_or_else(unknown),
        ),
    ];
    let mut items = Vec::new();
    match &results.bench {
        Some(b) => {
            let s = &b.settings;
            facts.push((
                "Bench workload",
                format!(
                    "{} rounds × {} conversations per target, scenario {} ({} chunks, {} ms to the first, {} ms apart){}; {} s",
                    s.rounds, s.requests_per_round, s.scenario, s.chunks, s.ttft_ms, s.gap_ms,
                    if s.quick { ", quick" } else { "" },
                    num(b.wall_s)
                ),
            ));
            let n = &b.noise;
            items.push(match n.mock_lateness_us {
                Some(l) => format!(
                    "The mock sent its chunks late by {} at p50 and {} at p99.",
                    figure(l.p50, "µs"),
                    figure(l.p99, "µs")
                ),
                None => "The mock's lateness was not recorded.".to_owned(),
            });
            if let (Some(a), Some(z)) = (n.load_avg_start, n.load_avg_end) {
                items.push(format!(
                    "Load average {} when the bench began, {} when it ended.",
                    num(a),
                    num(z)
                ));
            }
            if let Some(spread) = n.direct_round_spread {
                items.push(format!(
                    "The direct path's median moved by {} between its fastest and slowest round (1× on a quiet machine).",
                    times(spread)
                ));
            }
            let lag = results
                .backends
                .values()
                .flat_map(|b| &b.load)
                .filter_map(|p| p.client_lag_p99_us)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            if let Some(lag) = lag {
                items.push(format!("The load client started conversations up to {} late at p99 (worst load point).", figure(lag, "µs")));
            }
        }
        None => items
            .push("The bench stage did not run, so the machine's noise was not recorded.".into()),
    }
    for (b, s) in skips(results, None) {
        items.push(format!(
            "Skipped: {b} in the {} stage: {}.",
            s.stage, s.reason
        ));
    }
    let reused = reused(results);
    if reused.is_empty() {
        items.push(
            "Every figure was measured in this run; none was reused from an earlier one.".into(),
        );
    } else {
        items.push(format!("Reused from earlier runs: {}.", and_list(&reused)));
    }
    Body {
        tables: vec![Table {
            header: vec!["".into(), "".into()],
            rows: facts
                .into_iter()
                .map(|(k, v)| vec![Cell::plain(k), Cell::plain(v)])
                .collect(),
        }],
        items,
        ..Body::default()
    }
}

/// Every part of results.json marked as reused from an earlier run, named by where it sits: an
/// object with `"reused": true` (and the run in `measured_in_run`), or a `reused_from` run id.
/// Read from the JSON so a stage that starts reusing figures shows up without a change here.
fn reused(results: &Results) -> Vec<String> {
    serde_json::to_value(results).map_or_else(|_| Vec::new(), |json| reused_in(&json))
}

fn reused_in(json: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if map.get("reused") == Some(&Value::Bool(true)) {
                    let run = map.get("measured_in_run").and_then(Value::as_str);
                    let mut named = run.map_or(path.to_owned(), |r| format!("{path} (run {r}"));
                    if run.is_some() {
                        if map.get("sources_changed_since") == Some(&Value::Bool(true)) {
                            let sha = map.get("git_sha").and_then(Value::as_str).unwrap_or("?");
                            named.push_str(&format!(
                                " at {sha}, for the same dependencies; the own sources changed since"
                            ));
                        }
                        named.push(')');
                    }
                    out.push(named);
                }
                if let Some(run) = map.get("reused_from").and_then(Value::as_str) {
                    out.push(format!("{path} (run {run})"));
                }
                for (k, v) in map {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(v, &here, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(json, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_figures_are_found_wherever_they_sit() {
        let json = serde_json::json!({
            "backends": {
                "napi": {"build": {"clean_s": 200.0,
                                   "clean_build": {"reused": true, "measured_in_run": "r1"}}},
                "http": {"build": {"clean_build": {"reused": true, "measured_in_run": "r3",
                                   "git_sha": "abc1234", "sources_changed_since": true}}},
                "unix": {"build": {"clean_build": {"reused": false, "measured_in_run": "r2"}},
                         "size": {"reused_from": "r0"}}
            }
        });
        assert_eq!(
            reused_in(&json),
            [
                "backends.http.build.clean_build (run r3 at abc1234, for the same dependencies; the own sources changed since)",
                "backends.napi.build.clean_build (run r1)",
                "backends.unix.size (run r0)"
            ]
        );
        assert!(reused_in(&serde_json::json!({"backends": {}})).is_empty());
    }
}
