//! The parity suite: a backend's answers against two references, for every scenario of the
//! catalogue and a conversation's second turn.
//!
//! - The AI SDK itself (`streamText`, [`reference_run`], tools through the backend's own REST
//!   routes, which the contract makes identical to its tools): a completed answer is the same
//!   final message, chunk for chunk; a failed one showed a beginning of the SDK's text.
//! - The rust-only backend, the reference that is not built on the AI SDK: the same final
//!   message and the same error texts, both read by the AI SDK's client code.
//!
//! `crash-tool` is left out (it kills a JS runtime by design: the crash study's subject), and
//! the SDK reference cannot play `stall` (it has no idle timeout) nor `panic-tool` (no REST route
//! runs `__panic`).

use std::path::PathBuf;

use contract::scenario::{CATALOGUE, Expected, Scenario, ScenarioInfo};
use contract::ui_chunk::FinishReason;
use futures::StreamExt;
use serde_json::Value;

use crate::cases;
use sut_kit::client::{self, Answer};
use sut_kit::message::{first_difference, parts_of, project, text_of, without_id};
use sut_kit::oracle::{Oracle, OracleReading, ReferenceRun, reference_run};
use sut_kit::quote::shorten;

/// Scenarios compared at once: enough to overlap Node's start-up in the reference runs, few
/// enough for two shared cores.
const CONCURRENCY: usize = 3;

/// The flags every instance of a parity run starts with: fault injection, so `panic-tool` is
/// compared too, and the suite's short idle timeout, so `stall` ends in seconds.
pub fn instance_flags() -> Vec<String> {
    vec![
        "--enable-fault-injection".to_owned(),
        "--idle-timeout-s".to_owned(),
        cases::IDLE_TIMEOUT_S.to_string(),
    ]
}

/// What a parity run compares, and with what.
#[derive(Debug)]
pub struct ParityEnv<'a> {
    pub client: reqwest::Client,
    pub oracle: &'a Oracle,
    /// The repository root, where the reference script lives.
    pub root: PathBuf,
    /// The mock provider's OpenAI base URL, for the SDK's reference runs.
    pub provider_url: String,
    /// Where the reference runs' stderr goes.
    pub log_dir: PathBuf,
    /// The backend under test (`http://127.0.0.1:PORT`), started with [`instance_flags`].
    pub target: String,
    /// rust-only, started the same way; `None` when rust-only is the backend under test.
    pub rust_only: Option<String>,
}

/// Every comparison; what differs, one line each (empty: the backend is at parity).
pub async fn run(env: &ParityEnv<'_>) -> Vec<String> {
    let compared: Vec<&ScenarioInfo> = CATALOGUE
        .iter()
        .filter(|i| i.scenario != Scenario::CrashTool)
        .collect();
    let mut failures: Vec<String> = futures::stream::iter(compared)
        .map(|info| async move {
            scenario(env, info)
                .await
                .into_iter()
                .map(|f| format!("{}: {f}", info.name))
                .collect::<Vec<_>>()
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    failures.extend(
        second_turn(env)
            .await
            .err()
            .map(|f| format!("second turn after tool calls: {f}")),
    );
    failures
}

/// One scenario against both references.
async fn scenario(env: &ParityEnv<'_>, info: &ScenarioInfo) -> Vec<String> {
    let body = request(info.scenario, "target");
    let ours = match ask(env, &env.target, &body).await {
        Ok(reading) => reading,
        Err(e) => return vec![e],
    };
    let mut failures = Vec::new();
    if let Some(rust_only) = &env.rust_only {
        let theirs = ask(env, rust_only, &request(info.scenario, "rust-only")).await;
        failures.extend(theirs.and_then(|t| same_as_rust_only(&ours, &t)).err());
    }
    if !matches!(info.scenario, Scenario::Stall | Scenario::PanicTool) {
        let sdk = sdk_answer(env, &request(info.scenario, "sdk")).await;
        let completes = info.expected == Expected::Completes;
        failures.extend(sdk.and_then(|s| same_as_sdk(&ours, &s, completes)).err());
    }
    failures
}

/// The body for `scenario`, tagged for the one asking (the mock counts a scenario's failed
/// attempts per tag, so each asker starts afresh).
fn request(scenario: Scenario, who: &str) -> Value {
    let tag = format!("parity.{}.{who}.{}", std::process::id(), scenario.name());
    let directive = cases::directive(scenario, &tag, false);
    cases::single_turn(&format!("chat-{tag}"), directive.render())
}

/// Posts `body` to `base` and has the AI SDK's client read the answer.
async fn ask(env: &ParityEnv<'_>, base: &str, body: &Value) -> Result<OracleReading, String> {
    let answer = client::post_chat(&env.client, base, body)
        .await
        .map_err(|e| format!("{base}: {e:#}"))?;
    read(env, &answer).await
}

async fn read(env: &ParityEnv<'_>, answer: &Answer) -> Result<OracleReading, String> {
    if answer.status != 200 {
        return Err(format!(
            "HTTP {}: {}",
            answer.status,
            shorten(&answer.body_text())
        ));
    }
    env.oracle
        .read(&answer.body)
        .await
        .map_err(|e| format!("oracle: {e:#}"))
}

async fn sdk_answer(env: &ParityEnv<'_>, body: &Value) -> Result<ReferenceRun, String> {
    reference_run(
        &env.root,
        &env.log_dir,
        &env.provider_url,
        &env.target,
        body,
    )
    .await
    .map_err(|e| format!("the AI SDK's reference run: {e:#}"))
}

/// The same final message and the same error texts as rust-only's.
fn same_as_rust_only(ours: &OracleReading, theirs: &OracleReading) -> Result<(), String> {
    same_message(ours.message.as_ref(), theirs.message.as_ref(), "rust-only")?;
    if ours.errors != theirs.errors {
        return Err(format!(
            "errors differ from rust-only's: {:?} vs {:?}",
            ours.errors, theirs.errors
        ));
    }
    Ok(())
}

/// A completed answer is the SDK's own, chunk types and final message. A failed one stops at
/// its fault (docs/design.md#an-upstream-failure-ends-the-answer), where the bare SDK may read
/// on or name the fault vaguely: what it showed before the fault must begin the SDK's text.
fn same_as_sdk(ours: &OracleReading, sdk: &ReferenceRun, completes: bool) -> Result<(), String> {
    if !completes {
        let (ours, theirs) = (
            text_of(&ours.parts()),
            text_of(&parts_of(sdk.message.as_ref())),
        );
        if theirs.starts_with(&ours) {
            return Ok(());
        }
        return Err(format!(
            "the text before the fault is not the AI SDK's: {:?} vs {:?}",
            shorten(&ours),
            shorten(&theirs)
        ));
    }
    if !sdk.errors.is_empty() {
        return Err(format!("the AI SDK's own run failed: {:?}", sdk.errors));
    }
    if ours.chunk_types != sdk.chunk_types() {
        return Err(format!(
            "chunk types differ from the AI SDK's: {} vs {}",
            shorten(&ours.chunk_types.join(",")),
            shorten(&sdk.chunk_types().join(","))
        ));
    }
    same_message(ours.message.as_ref(), sdk.message.as_ref(), "the AI SDK")
}

/// Whole final messages, ids aside; where they differ, the first differing part.
fn same_message(ours: Option<&Value>, theirs: Option<&Value>, who: &str) -> Result<(), String> {
    if without_id(ours) == without_id(theirs) {
        return Ok(());
    }
    let (a, b) = (project(&parts_of(ours)), project(&parts_of(theirs)));
    Err(match first_difference(&a, &b) {
        Some(diff) => format!("the final message differs from {who}'s: {diff}"),
        None => format!(
            "the final message differs from {who}'s outside its parts:\n  ours: {}\n  {who}: {}",
            without_id(ours),
            without_id(theirs)
        ),
    })
}

/// A second turn after a three-step tool answer, its history what `useChat` sends back (the
/// message the AI SDK built, tool parts included): the history converts as the SDK's
/// `convertToModelMessages` does, so the answer is the SDK's own.
async fn second_turn(env: &ParityEnv<'_>) -> Result<(), String> {
    let tag = format!("parity.{}.turn", std::process::id());
    let first = cases::directive(Scenario::ToolChain, &format!("{tag}1"), false);
    let user = serde_json::to_value(cases::user_message("u1", first.render()))
        .map_err(|e| e.to_string())?;
    let answered = ask(
        env,
        &env.target,
        &cases::chat_request(&tag, vec![user.clone()]),
    )
    .await?;
    let assistant = answered
        .message
        .ok_or("the first turn built no assistant message")?;
    let next = cases::directive(Scenario::ToolError, &format!("{tag}2"), false);
    let follow = serde_json::to_value(cases::user_message("u2", next.render()))
        .map_err(|e| e.to_string())?;
    let body = cases::chat_request(&tag, vec![user, assistant, follow]);
    let answer = client::post_chat(&env.client, &env.target, &body)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let reading = answer.reading();
    reading.conforms()?;
    let steps = Scenario::ToolError.info().steps as usize;
    if reading.steps() != steps || reading.finish_reason != Some(FinishReason::Stop) {
        return Err(format!(
            "{} steps ending {:?}, expected {steps} ending stop: {}",
            reading.steps(),
            reading.finish_reason,
            reading.chunk_types().join(",")
        ));
    }
    let ours = read(env, &answer).await?;
    let sdk = sdk_answer(env, &body).await?;
    same_as_sdk(&ours, &sdk, true)
}
