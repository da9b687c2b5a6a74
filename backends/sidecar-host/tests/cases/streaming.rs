//! The relay itself: frames leave as they arrive, and a client that hangs up cancels the
//! provider request through the sidecar.

use std::time::Instant;

use contract::scenario::{Directive, Scenario};
use sut_kit::guards::wait_until;

use sidecar_host::SidecarWire;

use crate::support::{Stack, StackOptions, UnderTest};

/// A text answer slow enough that "arrived before the provider finished" is unambiguous.
fn paced(tag: &str) -> Directive {
    let mut directive = Directive::new(Scenario::Text);
    directive.params.ttft_ms = 5;
    directive.params.gap_ms = 50;
    directive.params.chunks = 20;
    directive.params.tag = Some(tag.to_owned());
    directive
}

/// The first text-delta reaches the client while the provider is still sending: no stage of
/// the relay waits for the whole answer.
pub async fn frames_reach_the_client_while_the_provider_still_sends<T: UnderTest>(
    wire: SidecarWire,
) {
    let stack = Stack::<T>::start(StackOptions::on(wire)).await;
    let tag = stack.tag("unbuffered");
    let mut stream = stack.open_chat(&paced(&tag)).await;
    assert_eq!(stream.status(), 200);
    assert!(stream.read_until("\"text-delta\"").await, "a text-delta");
    let timeline = stack.mock.timeline_store().snapshot(Some(&tag));
    let request = timeline
        .requests
        .first()
        .expect("the provider saw the request");
    assert!(
        request.end_ns.is_none(),
        "the first delta arrived only after the provider had sent everything"
    );
    drop(stream);
    stack.stop().await;
}

/// Dropping the response mid-stream makes the provider see its client go away.
pub async fn a_client_hang_up_cancels_the_provider_request<T: UnderTest>(wire: SidecarWire) {
    let stack = Stack::<T>::start(StackOptions::on(wire)).await;
    let tag = stack.tag("hang-up");
    let mut stream = stack.open_chat(&paced(&tag)).await;
    assert!(stream.read_until("\"text-delta\"").await, "a text-delta");
    let hung_up = Instant::now();
    drop(stream);
    let store = stack.mock.timeline_store();
    let tag = &tag;
    wait_until("the provider seeing the hang-up", || async move {
        let timeline = store.snapshot(Some(tag));
        let request = timeline
            .requests
            .first()
            .expect("the provider saw the request");
        assert!(
            request.end_ns.is_none() || request.client_gone_ns.is_some(),
            "the provider finished its answer: the hang-up never reached it"
        );
        request.client_gone_ns.is_some()
    })
    .await
    .expect("the provider sees the hang-up");
    eprintln!(
        "{}: the provider saw the hang-up {:?} after it",
        stack.name,
        hung_up.elapsed()
    );
    assert_eq!(
        stack.pool().members()[0].in_flight(),
        0,
        "the relay released its member"
    );
    stack.stop().await;
}
