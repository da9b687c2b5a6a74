//! One backend through the whole suite: start it, play the cases concurrently, run each fault
//! case on its own fault-injection instance, stop everything, check the logs for the key.

use std::path::{Path, PathBuf};

use contract::results::{CaseResult, Outcome};
use contract::scenario::Scenario;
use futures::StreamExt;

use crate::api_cases;
use crate::case_env::CaseEnv;
use crate::cases::{self, Case, CaseKind};
use crate::expect::SdkForms;
use crate::play::{self, Played, Verdict};
use sut_kit::client;
use sut_kit::manifest::{Backend, Runtime};
use sut_kit::mock::Mock;
use sut_kit::oracle::Oracle;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};
use sut_kit::process::{self, StopReport};

/// Cases in flight at once against one backend: enough to overlap the provider's delays, few
/// enough that two cores are not starved (the `stall` case relies on a 2 s idle timeout).
const CASE_CONCURRENCY: usize = 6;
/// How long a fault case watches a backend whose stream broke before calling it alive.
const EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
pub const READY_CASE: &str = "ready-line";
pub const API_KEY_CASE: &str = "logs/api-key-never-logged";
pub const SHUTDOWN_CASE: &str = "shutdown/sigterm-within-2s";
/// The checks [`run_backend`] adds to the cases it is given, about the instance as a whole.
pub const INSTANCE_CHECKS: [&str; 3] = [READY_CASE, SHUTDOWN_CASE, API_KEY_CASE];

/// Shared by every backend of a run.
#[derive(Debug)]
pub struct SuiteEnv<'a> {
    pub start: StartSettings,
    pub oracle: &'a Oracle,
    pub mock: &'a Mock,
    pub quick: bool,
    /// The run folder: logs go to `logs/conformance`, failed answers to `conformance/<backend>`.
    pub run_path: PathBuf,
}

/// Runs `cases` against `backend`; one result per case, in the order given, after the ready-line
/// check and before the shutdown and API-key checks ([`INSTANCE_CHECKS`]).
pub async fn run_backend(backend: &Backend, cases: &[Case], env: &SuiteEnv<'_>) -> Vec<CaseResult> {
    let log_dir = env
        .run_path
        .join("logs")
        .join("conformance")
        .join(backend.name());
    let save_dir = env.run_path.join("conformance").join(backend.name());
    let http = match client::http_client() {
        Ok(c) => c,
        Err(e) => return all_failed(cases, &format!("{e:#}")),
    };
    let main =
        orchestrate::start_backend(backend, &env.start, &InstanceOptions::default(), &log_dir)
            .await;
    let instance = match main {
        Ok(i) => i,
        Err(e) => return all_failed(cases, &format!("the backend did not start: {e}")),
    };
    let ready_case = ready_line_check(backend, &instance);
    let case_env = CaseEnv {
        client: http,
        backend: backend.reported_name().to_owned(),
        base: instance.url().to_owned(),
        oracle: env.oracle,
        mock: env.mock,
        quick: env.quick,
        sdk_forms: sdk_forms(backend),
    };
    let tag_base = format!("{}.{}", backend.name(), std::process::id());
    let played: Vec<(usize, Played)> = futures::stream::iter(cases.iter().enumerate())
        .map(|(i, case)| {
            let case_env = &case_env;
            let tag = format!("{tag_base}.c{i}");
            let log_dir = &log_dir;
            async move {
                (
                    i,
                    play_case(backend, case, case_env, env, &tag, log_dir).await,
                )
            }
        })
        .buffer_unordered(CASE_CONCURRENCY)
        .collect()
        .await;
    let stop = instance.stop().await;
    let mut played = played;
    played.sort_by_key(|(i, _)| *i);
    let mut results: Vec<CaseResult> = played
        .into_iter()
        .map(|(i, p)| record(&cases[i], p, &save_dir, &env.run_path))
        .collect();
    results.insert(0, ready_case);
    results.push(shutdown_check(&stop));
    results.push(key_check(&log_dir, &env.start.api_key));
    results
}

/// Plays a case on the shared instance, or on one of its own where it needs one.
async fn play_case(
    backend: &Backend,
    case: &Case,
    env: &CaseEnv<'_>,
    suite: &SuiteEnv<'_>,
    tag: &str,
    log_dir: &Path,
) -> Played {
    let Some(opts) = dedicated_instance(case) else {
        return play::play(case, env, tag).await;
    };
    let instance = match orchestrate::start_backend(backend, &suite.start, &opts, log_dir).await {
        Ok(i) => i,
        Err(e) => {
            return Played {
                verdict: Verdict::Failed(format!(
                    "did not start with {}: {e}",
                    opts.extra_args.join(" ")
                )),
                answers: vec![],
            };
        }
    };
    let own_env = env.at(instance.url());
    let CaseKind::Fault(scenario) = case.kind else {
        let played = play::play(case, &own_env, tag).await;
        instance.stop().await;
        return played;
    };
    let d = cases::directive(scenario, tag, env.quick);
    let body = cases::single_turn(&format!("chat-{tag}"), d.render());
    let answer = client::post_chat(&own_env.client, &own_env.base, &body)
        .await
        .map_err(|e| format!("{e:#}"));
    let mut instance = instance;
    let broken = answer
        .as_ref()
        .map_or(true, |a| a.transport_error.is_some());
    let survived = if broken {
        // A runtime that dies takes a moment to be reaped after its connections drop.
        !exits_within(&mut instance, EXIT_WAIT).await
    } else {
        !instance.process.has_exited()
    };
    let verdict = play::judge_fault(&own_env, scenario, answer.clone(), survived).await;
    instance.stop().await;
    Played {
        verdict,
        answers: answer.into_iter().collect(),
    }
}

/// Cases that need an instance of their own: fault injection must never be on in the shared
/// instance, and `stall` needs an idle timeout shorter than the provider's retry backoff, which
/// the other cases must be free to wait through.
pub(crate) fn dedicated_instance(case: &Case) -> Option<InstanceOptions> {
    let (name, extra_args) = match case.kind {
        CaseKind::Fault(s) => (
            format!("fault-{}", s.name()),
            vec!["--enable-fault-injection".to_owned()],
        ),
        CaseKind::RateLimited => (
            "rate-limited".to_owned(),
            vec![
                "--rate-limit".to_owned(),
                format!("{}/min", api_cases::RATE_LIMIT_BURST),
            ],
        ),
        CaseKind::Scenario(Scenario::Stall) => (
            "stall".to_owned(),
            vec![
                "--idle-timeout-s".to_owned(),
                cases::IDLE_TIMEOUT_S.to_string(),
            ],
        ),
        _ => return None,
    };
    Some(InstanceOptions {
        extra_args,
        instance: Some(name),
    })
}

async fn exits_within(
    instance: &mut orchestrate::BackendInstance,
    limit: std::time::Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if instance.process.has_exited() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    instance.process.has_exited()
}

pub(crate) fn record(case: &Case, played: Played, save_dir: &Path, run_path: &Path) -> CaseResult {
    let (outcome, reason) = match played.verdict {
        Verdict::Ok => (Outcome::Ok, None),
        Verdict::Failed(r) => (Outcome::Failed, Some(r)),
        Verdict::Unsupported(r) => (Outcome::Unsupported, Some(r)),
    };
    let raw_stream = (outcome == Outcome::Failed && !played.answers.is_empty())
        .then(|| save_answers(case, &played.answers, save_dir, run_path))
        .flatten();
    CaseResult {
        scenario: case.name.clone(),
        outcome,
        reason,
        raw_stream,
    }
}

/// Saves the raw answers of a failed case; returns the path relative to the run folder.
fn save_answers(
    case: &Case,
    answers: &[client::Answer],
    dir: &Path,
    run_path: &Path,
) -> Option<String> {
    std::fs::create_dir_all(dir).ok()?;
    let file = dir.join(format!("{}.txt", case.name.replace('/', "__")));
    let mut bytes = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        bytes.extend_from_slice(format!("===== answer {} =====\n", i + 1).as_bytes());
        bytes.extend_from_slice(&a.dump());
        bytes.push(b'\n');
    }
    std::fs::write(&file, bytes).ok()?;
    Some(
        file.strip_prefix(run_path)
            .unwrap_or(&file)
            .display()
            .to_string(),
    )
}

fn all_failed(cases: &[Case], reason: &str) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|c| CaseResult {
            scenario: c.name.clone(),
            outcome: Outcome::Failed,
            reason: Some(reason.to_owned()),
            raw_stream: None,
        })
        .collect()
}

/// docs/design.md#the-ready-line: the ready line names the backend as its manifest does, gives the pid of the
/// process started, and a `runtime_pid` exactly where a Node.js process is part of it.
fn ready_line_check(backend: &Backend, instance: &orchestrate::BackendInstance) -> CaseResult {
    let ready = instance.ready();
    let node = backend.manifest.runtime == Runtime::Node;
    let reason = if ready.backend != backend.reported_name() {
        Some(format!(
            "the ready line names {:?}, the manifest {:?}",
            ready.backend,
            backend.reported_name()
        ))
    } else if i32::try_from(ready.pid).ok() != Some(instance.process.pgid()) {
        Some(format!(
            "the ready line's pid {} is not the process started ({})",
            ready.pid,
            instance.process.pgid()
        ))
    } else if node && ready.runtime_pid.is_none_or(|p| !process::pid_alive(p)) {
        Some(format!(
            "runtime = \"node\" but runtime_pid is {:?}, not a live process",
            ready.runtime_pid
        ))
    } else if !node && ready.runtime_pid.is_some() {
        Some(format!(
            "runtime = \"none\" but the ready line has runtime_pid {:?}",
            ready.runtime_pid
        ))
    } else {
        None
    };
    check_result(READY_CASE, reason)
}

/// docs/design.md#shutdown: SIGTERM shuts a backend down cleanly, its runtime included, within
/// 2 s.
fn shutdown_check(stop: &StopReport) -> CaseResult {
    let reason = if stop.forced {
        Some(format!(
            "still running {:?} after SIGTERM; killed",
            process::STOP_GRACE
        ))
    } else if stop.stragglers_killed {
        Some("exited on SIGTERM but left processes (its runtime) behind; they were killed".into())
    } else {
        None
    };
    check_result(SHUTDOWN_CASE, reason)
}

/// The canary API key must appear in no log of the backend's processes.
fn key_check(log_dir: &Path, canary: &str) -> CaseResult {
    let leaked = orchestrate::logs_containing(log_dir, canary);
    let reason =
        (!leaked.is_empty()).then(|| format!("the API key appears in {}", leaked.join(", ")));
    check_result(API_KEY_CASE, reason)
}

/// A check on the instance as a whole: failed with `reason`, or ok without one.
fn check_result(scenario: &str, reason: Option<String>) -> CaseResult {
    CaseResult {
        scenario: scenario.into(),
        outcome: if reason.is_some() {
            Outcome::Failed
        } else {
            Outcome::Ok
        },
        reason,
        raw_stream: None,
    }
}

/// The earlier SDK's forms are accepted only from a target on a stack that bundles an AI SDK of
/// its own (`unix@node20-ai6`); every other target, rust-only included, must use the current ones.
fn sdk_forms(backend: &Backend) -> SdkForms {
    let own_sdk = backend
        .js_runtime
        .as_deref()
        .and_then(|rt| contract::runtime::spec(rt).ok())
        .is_some_and(|spec| spec.own_sdk);
    if own_sdk {
        SdkForms::CurrentOrEarlier
    } else {
        SdkForms::Current
    }
}
