//! The harness's conformance suite played against an in-process backend, every stream read
//! both by the Rust checker and by the AI SDK's own client code (the Node oracle), and each
//! completing scenario compared with the rust-only backend's final message.

use std::num::NonZeroU32;
use std::sync::Arc;

use backend_rust_only::{RetryPolicy, RustOnlyBackend};
use conformance::api_cases;
use conformance::cases::{self, CaseKind};
use conformance::checker::read_stream;
use conformance::client::http_client;
use conformance::message::first_difference;
use conformance::mock::Mock;
use conformance::oracle::Oracle;
use conformance::play::{CaseEnv, Verdict, play};
use contract::scenario::{CATALOGUE, Expected, Scenario};
use contract::ui_chunk::UiChunk;
use leanspec_core::{CoreState, RateLimit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Answer, HANG_GUARD, Stack, StackOptions, chat_body, fast, repo_root, server_args};
use crate::transport::TransportKind;

/// The rust-only backend served in-process: the reference the final messages must match.
struct Reference {
    url: String,
    stop: CancellationToken,
}

impl Reference {
    async fn start(provider_url: String, options: &StackOptions) -> Self {
        let args = server_args(provider_url, options);
        let state = CoreState::from_args(&args).expect("the fixture corpus loads");
        // The AI SDK's own policy, as the sidecar runs with by default (`--max-retries 2`).
        let retry = RetryPolicy::default();
        let backend = RustOnlyBackend::from_args(&args, state.toolbox().clone(), retry)
            .expect("valid provider settings");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(leanspec_core::serve(
            listener,
            Arc::new(backend),
            state,
            shutdown,
        ));
        Self { url, stop }
    }
}

/// The oracle, logging into a directory removed when the returned guard drops.
fn start_oracle() -> (Oracle, tempfile::TempDir) {
    let logs = tempfile::tempdir().expect("a temp dir for the oracle's log");
    let oracle = Oracle::start(&repo_root(), logs.path()).unwrap_or_else(|e| {
        panic!("{e:#}: the AI SDK oracle needs `npm ci --prefix harness/node`")
    });
    (oracle, logs)
}

/// The stack options a case needs, as the harness's dedicated instances have them (fault
/// cases are [`fault_tools`]'s): the rate-limit case needs a limit, `stall` a short idle
/// timeout (the other cases must be free to wait through the provider retries' backoff).
fn options_for(kind: &CaseKind) -> Option<StackOptions> {
    let burst = NonZeroU32::new(api_cases::RATE_LIMIT_BURST).expect("a positive burst");
    match kind {
        CaseKind::RateLimited => Some(StackOptions {
            rate_limit: RateLimit::PerMinute(burst),
            ..StackOptions::default()
        }),
        CaseKind::Scenario(Scenario::Stall) => Some(StackOptions {
            idle_timeout_s: cases::IDLE_TIMEOUT_S,
            ..StackOptions::default()
        }),
        _ => None,
    }
}

/// Every case of the suite except the fault ones (see [`fault_tools`]), then parity with
/// rust-only for every scenario that completes.
pub async fn suite_and_parity(kind: TransportKind) {
    let mock = Mock::start().await.expect("mock starts");
    let (oracle, _oracle_logs) = start_oracle();
    let options = StackOptions::default();
    let stack = Stack::start_on(kind, options.clone(), mock.openai_url()).await;
    let reference = Reference::start(mock.openai_url(), &options).await;
    let client = http_client().expect("client");
    let mut failures = Vec::new();
    let mut played = 0;
    for case in cases::all_cases(&[]) {
        if matches!(case.kind, CaseKind::Fault(_)) {
            continue;
        }
        let tag = format!("{}-{}", kind.backend_name(), case.name.replace('/', "-"));
        let own = match options_for(&case.kind) {
            Some(options) => Some(Stack::start_on(kind, options, mock.openai_url()).await),
            None => None,
        };
        let env = CaseEnv {
            client: client.clone(),
            backend: kind.backend_name().to_owned(),
            base: own
                .as_ref()
                .map_or_else(|| stack.url.clone(), |s| s.url.clone()),
            oracle: &oracle,
            mock: &mock,
            quick: false,
        };
        let outcome = tokio::time::timeout(HANG_GUARD, play(&case, &env, &tag))
            .await
            .unwrap_or_else(|_| panic!("case {} hung", case.name));
        if let Some(own) = own {
            own.stop().await;
        }
        played += 1;
        match outcome.verdict {
            Verdict::Ok => {}
            Verdict::Failed(reason) => failures.push(format!("{}: {reason}", case.name)),
            Verdict::Unsupported(reason) => eprintln!("{}: unsupported: {reason}", case.name),
        }
    }

    for info in CATALOGUE
        .iter()
        .filter(|i| i.expected == Expected::Completes)
    {
        let ours = ask(&client, &stack.url, info.scenario, kind.backend_name()).await;
        let theirs = ask(&client, &reference.url, info.scenario, "rust-only").await;
        let (ours, theirs) = (read_stream(&ours.body), read_stream(&theirs.body));
        if ours.parts.is_empty() {
            failures.push(format!("parity/{}: no message built", info.name));
        }
        if let Some(diff) = first_difference(&ours.parts, &theirs.parts) {
            failures.push(format!(
                "parity/{}: {} vs rust-only: {diff}",
                info.name,
                kind.backend_name()
            ));
        }
    }
    reference.stop.cancel();
    stack.stop().await;
    mock.stop().await;
    assert!(
        played > CATALOGUE.len(),
        "the suite played only {played} cases"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn ask(client: &reqwest::Client, base: &str, scenario: Scenario, who: &str) -> Answer {
    let directive = cases::directive(
        scenario,
        &format!("parity-{who}-{}", scenario.name()),
        false,
    );
    let response = client
        .post(format!("{base}/api/chat"))
        .json(&chat_body(&directive.render()))
        .send()
        .await
        .expect("the backend answers");
    let answer = Answer::read(response).await;
    assert_eq!(
        answer.status,
        200,
        "{who} {}: {}",
        scenario.name(),
        answer.text()
    );
    answer
}

/// The fault-injection tools: `__panic` is a tool error and the answer completes; `__crash`
/// kills the sidecar, whose stream then ends in `error` + `[DONE]`, and a new one serves.
pub async fn fault_tools(kind: TransportKind) {
    let stack = Stack::start(
        kind,
        StackOptions {
            fault_injection: true,
            ..StackOptions::default()
        },
    )
    .await;
    let panic = stack.chat(&fast(Scenario::PanicTool).render()).await;
    assert_eq!(panic.status, 200);
    let (chunks, done) = panic.chunks();
    assert!(done);
    let tool_error = chunks.iter().find_map(|c| match c {
        UiChunk::ToolOutputError { error_text, .. } => Some(error_text.clone()),
        _ => None,
    });
    assert!(
        tool_error
            .as_deref()
            .is_some_and(|t| t.contains("panicked")),
        "__panic becomes a tool error: {:?}",
        panic.chunk_types()
    );
    assert!(matches!(chunks.last(), Some(UiChunk::Finish { .. })));

    let before = stack.sidecar_pid();
    let crash = stack.chat(&fast(Scenario::CrashTool).render()).await;
    assert_eq!(crash.status, 200);
    let (chunks, done) = crash.chunks();
    assert!(done, "the crashed stream ends with [DONE]");
    assert!(
        matches!(chunks.last(), Some(UiChunk::Error { .. })),
        "the crashed stream ends with an error chunk: {:?}",
        crash.chunk_types()
    );
    let started = std::time::Instant::now();
    while stack.pool().runtime_pid().is_none_or(|pid| pid == before) {
        assert!(
            started.elapsed() < HANG_GUARD,
            "no new sidecar after __crash"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stack.wait_healthy().await;
    let after = stack.chat(&fast(Scenario::Text).render()).await;
    assert_eq!(after.status, 200, "{}", after.text());
    stack.stop().await;
}
