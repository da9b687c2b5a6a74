//! Debug experience, tried: failures seeded into one running instance of a backend, one
//! request each, and what an operator gets from each (docs/report.md#debug-experience):
//!
//! - (a) a log line that names where it failed, (b) the request id the client was given in
//!   each component's lines about it ([`super::debug_logs`]);
//! - (c) a stack trace across the language boundary, where one process holds two languages;
//! - (d) each hop's traffic replayed with curl and the hop's own credential;
//! - (e) a standard profiler (`perf`) attached to each process, and Node's inspector to each
//!   Node process (`SIGUSR1`, the port Node picks, `/json/list` answered).
//!
//! A check that cannot apply (no hop between processes, no second language in a process) is
//! recorded as not applicable with the reason; a failure the backend does not report fails.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use contract::results::{DebugCheck, DebugEvidence, SeededFailure, Verdict};
use contract::scenario::{Directive, Scenario};

use sut_kit::manifest::{Backend, Runtime};
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};
use sut_kit::process::{self, ProcessSpec, RunningProcess};

use super::debug_hops;
use super::debug_logs::{self as logs, failed, file_len, met, new_lines, not_applicable};
use crate::chat;

/// A request's answer (or its failure) is awaited at most this long; the slowest seeded failure,
/// the provider's silence, ends in [`IDLE_TIMEOUT_S`] plus a sidecar's backstop second.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// The provider silence that ends a stream, lowered from the default minute so a hang is
/// reported within the stage's budget (docs/report.md#debug-experience).
const IDLE_TIMEOUT_S: u32 = 1;
/// How long the provider stays silent in `provider-hang`: longer than the idle timeout.
const STALL_MS: u64 = 3_000;
/// The most lines of one failure kept in results.json.
const LINES_KEPT: usize = 40;

/// One failure the stage seeds.
struct Seed {
    name: &'static str,
    scenario: Scenario,
    /// The provider misbehaves after this many chunks.
    fail_at: Option<u32>,
}

/// Played in this order; `runtime-dies` last, since in napi it takes the process with it.
const SEEDS: [Seed; 6] = [
    Seed {
        name: "tool-panic",
        scenario: Scenario::PanicTool,
        fail_at: None,
    },
    Seed {
        name: "malformed-chunk",
        scenario: Scenario::MalformedChunk,
        fail_at: Some(2),
    },
    Seed {
        name: "provider-500",
        scenario: Scenario::Http500,
        fail_at: None,
    },
    Seed {
        name: "provider-hang",
        scenario: Scenario::Stall,
        fail_at: Some(2),
    },
    Seed {
        name: "bad-tool-argument",
        scenario: Scenario::ToolBadArgs,
        fail_at: None,
    },
    Seed {
        name: "runtime-dies",
        scenario: Scenario::CrashTool,
        fail_at: None,
    },
];

/// Seeds every failure into one instance of `backend` and runs the checks.
pub async fn measure(
    backend: &Backend,
    cfg: &StartSettings,
    log_dir: &Path,
) -> Result<DebugEvidence> {
    let started = Instant::now();
    let p = start(backend, cfg, log_dir).await?;
    let http = reqwest::Client::builder()
        .build()
        .context("building the HTTP client")?;
    let mut evidence = DebugEvidence::default();
    let has_runtime = backend.manifest.runtime != Runtime::None;
    let (last, first) = SEEDS.split_last().context("no seeds")?;
    for seed in first {
        evidence.failures.push(play(&http, &p, backend, seed).await);
    }
    // Checks on the whole backend while it still runs.
    evidence
        .checks
        .push(debug_hops::replay_public(&p, &replay_body()).await);
    evidence
        .checks
        .extend(debug_hops::replay_inner(&p, &replay_body()).await);
    evidence.checks.push(
        debug_hops::replay_provider(&p, &cfg.provider_url, &replay_directive().render()).await,
    );
    evidence.checks.extend(debug_hops::attach(&p).await);
    if has_runtime {
        evidence.failures.push(play(&http, &p, backend, last).await);
    } else {
        let why = "no JavaScript runtime: the `__crash` tool is a tool error here";
        evidence.failures.push(SeededFailure {
            failure: last.name.to_owned(),
            checks: vec![
                not_applicable(where_check(), why),
                not_applicable(id_check(), why),
            ],
            ..SeededFailure::default()
        });
    }
    evidence
        .checks
        .insert(0, boundary(backend, &p, &evidence.failures));
    p.stop().await;
    score(&mut evidence);
    evidence.wall_s = started.elapsed().as_secs_f64();
    Ok(evidence)
}

fn where_check() -> String {
    logs::check_where(&[]).check
}

fn id_check() -> String {
    logs::check_request_id(&[], "", None).check
}

/// Counts the verdicts into the figures.
pub fn score(e: &mut DebugEvidence) {
    let all = e.failures.iter().flat_map(|f| &f.checks).chain(&e.checks);
    let (mut met, mut applicable, mut na) = (0, 0, 0);
    for c in all {
        match c.verdict {
            Verdict::Met => {
                met += 1;
                applicable += 1;
            }
            Verdict::Failed => applicable += 1,
            Verdict::NotApplicable => na += 1,
        }
    }
    e.checks_met = met;
    e.checks_applicable = applicable;
    e.checks_failed = applicable - met;
    e.checks_not_applicable = na;
    e.met_share = if applicable == 0 {
        0.0
    } else {
        f64::from(met) / f64::from(applicable)
    };
}

/// The instance: the stage's provider, fault injection on (for the tool faults), a short idle
/// timeout and no retries (a retried 500 would wait out the SDK's backoff), Rust backtraces on
/// and Node's inspector port left to the kernel, as an operator debugging would set them.
async fn start(backend: &Backend, cfg: &StartSettings, log_dir: &Path) -> Result<RunningProcess> {
    let opts = InstanceOptions {
        extra_args: vec![
            "--enable-fault-injection".into(),
            "--idle-timeout-s".into(),
            IDLE_TIMEOUT_S.to_string(),
            "--max-retries".into(),
            "0".into(),
        ],
        instance: Some("debug".into()),
    };
    let (program, args) = orchestrate::command_line(backend, cfg, &opts);
    let spec = ProcessSpec {
        label: format!("{}.debug", backend.name()),
        program,
        args,
        env: vec![
            (contract::API_KEY_ENV.into(), cfg.api_key.clone()),
            ("RUST_BACKTRACE".into(), "1".into()),
            ("NODE_OPTIONS".into(), "--inspect-port=0".into()),
        ],
        cwd: cfg.root.clone(),
        log_dir: log_dir.to_owned(),
        ready_timeout: cfg.ready_timeout,
    };
    process::start(&spec)
        .await
        .map_err(|e| anyhow::anyhow!("starting the instance: {e}"))
}

/// A two-chunk text answer: what the replays send.
pub fn replay_body() -> String {
    chat::body(&replay_directive()).to_string()
}

/// A short text answer: what every replay asks for.
fn replay_directive() -> Directive {
    chat::directive(Scenario::Text, "debug.replay", 2, 0)
}

/// Plays one seed: the request with its id, the answer, the lines it added to the log.
async fn play(
    http: &reqwest::Client,
    p: &RunningProcess,
    backend: &Backend,
    seed: &Seed,
) -> SeededFailure {
    let request_id = format!("debug-{}-{}", backend.name(), seed.name);
    let mut d = chat::directive(seed.scenario, &request_id, 4, 10);
    d.params.fail_at = seed.fail_at;
    if seed.scenario == Scenario::Stall {
        d.params.stall_ms = STALL_MS;
    }
    let offset = file_len(&p.stderr_log);
    let sent = http
        .post(format!("{}/api/chat", p.ready.url.trim_end_matches('/')))
        .header(contract::request_id::HEADER, &request_id)
        .json(&chat::body(&d))
        .timeout(REQUEST_LIMIT)
        .send()
        .await;
    let (client_saw, echoed) = match sent {
        Err(e) => (format!("no answer: {e}"), None),
        Ok(response) => {
            let status = response.status().as_u16();
            let echoed = response
                .headers()
                .get(contract::request_id::HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.text().await;
            (describe_answer(status, body.as_deref().ok()), echoed)
        }
    };
    let lines = new_lines(&p.stderr_log, offset).await;
    let about = logs::until_answer_ended(&lines, &request_id);
    let checks = vec![
        logs::check_where(&about),
        logs::check_request_id(&about, &request_id, echoed.as_deref()),
    ];
    SeededFailure {
        failure: seed.name.to_owned(),
        request_id,
        client_saw,
        log_lines: lines
            .iter()
            .take(LINES_KEPT)
            .map(|l| logs::cut(l))
            .collect(),
        checks,
    }
}

/// `HTTP 200, error chunk: <text>`, `HTTP 200, completed`, `HTTP 200, cut off`, `HTTP 502`.
fn describe_answer(status: u16, body: Option<&str>) -> String {
    let Some(body) = body else {
        return format!("HTTP {status}, the body broke off");
    };
    if status != 200 {
        return format!("HTTP {status}");
    }
    let error = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .find_map(|v| {
            let tool_error = v["type"] == "tool-output-error";
            (v["type"] == "error" || tool_error).then(|| {
                let text = v["errorText"].as_str().unwrap_or("").to_owned();
                if tool_error {
                    format!("tool error: {text}")
                } else {
                    format!("error chunk: {text}")
                }
            })
        });
    let end = if body.trim_end().ends_with("data: [DONE]") {
        ""
    } else {
        ", cut off before [DONE]"
    };
    match error {
        Some(e) => format!("HTTP 200, {e}{end}"),
        None => format!("HTTP 200, completed{end}"),
    }
}

/// (c): where one process holds two languages (napi: Node hosting the Rust addon), a stack
/// trace in some failure's lines holds frames of both. Elsewhere each process is one language
/// and the boundary is a socket, whose traffic (d) replays.
fn boundary(backend: &Backend, p: &RunningProcess, failures: &[SeededFailure]) -> DebugCheck {
    let check = "a stack trace crosses the language boundary".to_owned();
    let one_process_two_languages =
        backend.manifest.runtime == Runtime::Node && p.ready.runtime_pid == Some(p.ready.pid);
    if !one_process_two_languages {
        return not_applicable(
            check,
            "no process holds two languages: a boundary here is a socket between processes",
        );
    }
    let crossing = failures
        .iter()
        .find(|f| logs::crosses_boundary(&f.log_lines));
    match crossing {
        Some(f) => met(check, format!("in the lines of {}", f.failure)),
        None => failed(
            check,
            "no failure's lines hold a stack with both JavaScript and Rust frames (RUST_BACKTRACE=1 was set)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(verdict: Verdict) -> DebugCheck {
        DebugCheck {
            check: "c".into(),
            verdict,
            detail: String::new(),
        }
    }

    #[test]
    fn the_score_is_checks_met_of_checks_that_apply() {
        let mut e = DebugEvidence {
            failures: vec![SeededFailure {
                checks: vec![check(Verdict::Met), check(Verdict::Failed)],
                ..SeededFailure::default()
            }],
            checks: vec![check(Verdict::NotApplicable), check(Verdict::Met)],
            ..DebugEvidence::default()
        };
        score(&mut e);
        assert_eq!(
            (e.checks_met, e.checks_applicable, e.checks_not_applicable),
            (2, 3, 1)
        );
        assert_eq!(e.checks_failed, 1);
        assert!((e.met_share - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn what_the_client_saw_is_read_from_the_stream() {
        let error = "data: {\"type\":\"start\"}\n\ndata: {\"type\":\"error\",\"errorText\":\"boom\"}\n\ndata: [DONE]\n\n";
        assert_eq!(
            describe_answer(200, Some(error)),
            "HTTP 200, error chunk: boom"
        );
        let cut = "data: {\"type\":\"start\"}\n\n";
        assert_eq!(
            describe_answer(200, Some(cut)),
            "HTTP 200, completed, cut off before [DONE]"
        );
        assert_eq!(describe_answer(503, Some("{}")), "HTTP 503");
        assert_eq!(describe_answer(200, None), "HTTP 200, the body broke off");
    }
}
