//! Every request body captured from the real `useChat` (ai@6, in the contract crate's
//! fixtures) is accepted: files, tool results, approvals, a trailing assistant message after
//! a client-side tool output (`submit-message`), regenerate, edits.

mod common;

use std::path::PathBuf;

use common::*;
use contract::ui_message::{Role, Trigger};
use leanspec_core::chat_request::parse_chat_request;

fn captured_requests() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contract/tests/fixtures/ai7");
    let mut requests = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the contract fixtures") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        if name.starts_with("request-") && name.ends_with(".json") {
            requests.push((name, std::fs::read(&path).expect("a readable fixture")));
        }
    }
    requests.sort();
    requests
}

#[tokio::test]
async fn every_captured_use_chat_request_is_served() {
    let requests = captured_requests();
    assert!(requests.len() >= 5, "fixtures missing: {}", requests.len());
    let server = Server::plain().await;
    let (mut assistant_last, mut regenerate) = (false, false);
    for (name, body) in &requests {
        let parsed = parse_chat_request(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assistant_last |= parsed.messages.last().unwrap().role == Role::Assistant;
        regenerate |= parsed.trigger == Trigger::RegenerateMessage;
        let response = client()
            .post(server.url("/api/chat"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert!(
            response.text().await.unwrap().ends_with("data: [DONE]\n\n"),
            "{name}"
        );
    }
    assert!(
        assistant_last,
        "the fixtures include a trailing assistant message"
    );
    assert!(regenerate, "the fixtures include a regenerate request");
    assert_eq!(server.backend.call_count(), requests.len());
    server.stop().await;
}
