//! Checks of the relay itself: frames leave as they arrive, and a client that hangs up
//! cancels the provider request through the sidecar.

use std::time::{Duration, Instant};

use contract::scenario::{Directive, Scenario};

use super::{HANG_GUARD, Stack, StackOptions, chat_body};
use crate::transport::TransportKind;

/// A text answer slow enough that "arrived before the provider finished" is unambiguous.
fn paced(tag: &str) -> String {
    let mut directive = Directive::new(Scenario::Text);
    directive.params.ttft_ms = 5;
    directive.params.gap_ms = 50;
    directive.params.chunks = 20;
    directive.params.tag = Some(tag.to_owned());
    directive.render()
}

/// Reads the answer until its first `text-delta`.
async fn read_until_first_delta(response: &mut reqwest::Response) {
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("\"text-delta\"") {
        let chunk = tokio::time::timeout(HANG_GUARD, response.chunk())
            .await
            .expect("the stream makes progress")
            .expect("the stream reads")
            .expect("a text-delta before the end");
        received.extend_from_slice(&chunk);
    }
}

/// The first text-delta reaches the client while the provider is still sending: no stage of
/// the relay waits for the whole answer.
pub async fn frames_are_not_buffered(kind: TransportKind) {
    let stack = Stack::start(kind, StackOptions::default()).await;
    let tag = format!("{}-unbuffered", kind.backend_name());
    let mut response = stack.post_chat(&chat_body(&paced(&tag))).await;
    assert_eq!(response.status(), 200);
    read_until_first_delta(&mut response).await;
    let mock = stack.mock.as_ref().expect("the stack's own mock");
    let timeline = mock.timeline_store().snapshot(Some(&tag));
    let request = timeline
        .requests
        .first()
        .expect("the provider saw the request");
    assert!(
        request.end_ns.is_none(),
        "the first delta arrived only after the provider had sent everything"
    );
    drop(response);
    stack.stop().await;
}

/// Dropping the response mid-stream makes the provider see its client go away.
pub async fn hang_up_cancels_the_provider_request(kind: TransportKind) {
    let stack = Stack::start(kind, StackOptions::default()).await;
    let tag = format!("{}-hang-up", kind.backend_name());
    let mut response = stack.post_chat(&chat_body(&paced(&tag))).await;
    read_until_first_delta(&mut response).await;
    let hung_up = Instant::now();
    drop(response);
    let mock = stack.mock.as_ref().expect("the stack's own mock");
    loop {
        let timeline = mock.timeline_store().snapshot(Some(&tag));
        let request = timeline
            .requests
            .first()
            .expect("the provider saw the request");
        if request.client_gone_ns.is_some() {
            break;
        }
        assert!(
            request.end_ns.is_none(),
            "the provider finished its answer: the hang-up never reached it"
        );
        assert!(
            hung_up.elapsed() < HANG_GUARD,
            "the provider never saw the hang-up"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "{kind:?}: the provider saw the hang-up {:?} after it",
        hung_up.elapsed()
    );
    assert_eq!(
        stack.pool().members()[0].in_flight(),
        0,
        "the relay released its member"
    );
    stack.stop().await;
}
