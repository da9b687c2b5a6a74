//! The internal tool router: refuses requests without the credential, executes tools for the
//! holder of it, turns panics into tool errors and keeps serving.

mod common;

use std::net::SocketAddr;

use common::*;
use contract::scenario::{KNOWN_SPEC_ID, MISSING_SPEC_ID};
use contract::tools::{CRASH_TOOL, GET_SPEC, PANIC_TOOL, ToolList, ToolOutcome};
use leanspec_core::tools::PANIC_MESSAGE;
use leanspec_core::{InternalAuth, Toolbox, internal_router, random_bearer_token};
use serde_json::json;

async fn start_internal(auth: InternalAuth, fault_injection: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound address");
    let app = internal_router(Toolbox::new(fixture_store(), fault_injection), auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[tokio::test]
async fn bearer_mode_refuses_a_missing_or_wrong_token() {
    let token = random_bearer_token();
    let addr = start_internal(InternalAuth::Bearer(token.clone()), false).await;
    let wrong = random_bearer_token();
    let attempts = [
        client().get(url(addr, "/internal/tools")),
        client()
            .get(url(addr, "/internal/tools"))
            .bearer_auth(&wrong),
        client()
            .get(url(addr, "/internal/tools"))
            .header("authorization", token.clone()),
        client()
            .post(url(addr, "/internal/tools/get_spec"))
            .json(&json!({"id": KNOWN_SPEC_ID})),
        client()
            .post(url(addr, "/internal/tools/get_spec"))
            .bearer_auth(&token[..63]),
        client().get(url(addr, "/no-such-route")),
    ];
    for attempt in attempts {
        let (code, message) = error_of(attempt.send().await.unwrap(), 401).await;
        assert_eq!(code, "unauthorized");
        assert!(!message.contains(&token) && !message.contains(&wrong));
    }

    let response = client()
        .get(url(addr, "/internal/tools"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let list: ToolList = response.json().await.unwrap();
    assert_eq!(list.tools.len(), 3);
    let outcome: ToolOutcome = client()
        .post(url(addr, "/internal/tools/get_spec"))
        .bearer_auth(&token)
        .json(&json!({"id": KNOWN_SPEC_ID}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ToolOutcome::Ok { output } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(output["id"], KNOWN_SPEC_ID);
}

#[tokio::test]
async fn transport_mode_executes_tools_and_reports_failures_as_results() {
    let addr = start_internal(InternalAuth::Transport, true).await;
    let call = |name: &str, body: &str| {
        client()
            .post(url(addr, &format!("/internal/tools/{name}")))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let outcome: ToolOutcome = call(GET_SPEC, &json!({"id": MISSING_SPEC_ID}).to_string())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        matches!(outcome, ToolOutcome::Error { ref message } if message.contains(MISSING_SPEC_ID))
    );

    let outcome: ToolOutcome = call(CRASH_TOOL, "").await.unwrap().json().await.unwrap();
    assert!(
        matches!(outcome, ToolOutcome::CrashRuntime { .. }),
        "{outcome:?}"
    );

    let outcome: ToolOutcome = call(PANIC_TOOL, "{}").await.unwrap().json().await.unwrap();
    assert_eq!(
        outcome,
        ToolOutcome::Error {
            message: format!("tool panicked: {PANIC_MESSAGE}")
        }
    );

    // Still serving after the panic.
    let response = call("list_specs", "{}").await.unwrap();
    assert_eq!(response.status(), 200);

    let (code, _) = error_of(call("no_such_tool", "{}").await.unwrap(), 404).await;
    assert_eq!(code, "not_found");
    let (code, _) = error_of(call(GET_SPEC, "{\"id\":").await.unwrap(), 400).await;
    assert_eq!(code, "invalid_request");
    let big = json!({"id": "x".repeat(contract::MAX_BODY_BYTES)}).to_string();
    error_of(call(GET_SPEC, &big).await.unwrap(), 413).await;
}

#[tokio::test]
async fn fault_tools_are_absent_from_the_internal_router_without_the_flag() {
    let addr = start_internal(InternalAuth::Transport, false).await;
    for tool in [CRASH_TOOL, PANIC_TOOL] {
        let response = client()
            .post(url(addr, &format!("/internal/tools/{tool}")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        error_of(response, 404).await;
    }
}
