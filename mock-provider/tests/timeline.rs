//! The timeline: what arrived and what was sent when, and clients that hang up early.

mod common;

use common::{HANG_GUARD, post, read_sse, start, streamed};
use contract::clock::monotonic_ns;
use contract::timeline::{ChunkKind, Outcome, Timeline};
use mock_provider::handlers::REQUEST_ID_HEADER;

const MS: u64 = 1_000_000;

#[tokio::test]
async fn chunk_send_times_follow_the_absolute_schedule_in_order() {
    let mock = start().await;
    let before = monotonic_ns();
    let response = post(
        &mock,
        &streamed("[[scenario:text ttft_ms=30 gap_ms=7 chunks=12 tag=sched]]"),
    )
    .await;
    let id: u64 = response.headers()[REQUEST_ID_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let read = read_sse(response, None).await;
    assert!(read.saw_done());
    let after = monotonic_ns();

    let timeline = mock.timeline();
    let request = timeline
        .requests
        .iter()
        .find(|r| r.id == id)
        .expect("the request is recorded");
    assert_eq!(request.scenario.as_deref(), Some("text"));
    assert_eq!(request.tag.as_deref(), Some("sched"));
    assert_eq!((request.status, request.stream), (200, true));
    assert_eq!(request.outcome, Outcome::Completed);
    assert!(before <= request.arrival_ns && request.arrival_ns <= after);

    let kinds: Vec<ChunkKind> = request.chunks.iter().map(|c| c.kind).collect();
    let mut expected = vec![ChunkKind::Text; 12];
    expected.extend([ChunkKind::Finish, ChunkKind::Usage, ChunkKind::Done]);
    assert_eq!(kinds, expected);

    for (k, chunk) in request.text_chunks().enumerate() {
        assert_eq!(
            chunk.scheduled_ns,
            request.arrival_ns + 30 * MS + k as u64 * 7 * MS,
            "chunk {k}"
        );
    }
    let last_text = request.text_chunks().last().unwrap().scheduled_ns;
    for chunk in &request.chunks {
        assert!(
            chunk.sent_ns >= chunk.scheduled_ns,
            "never sent early: {chunk:?}"
        );
        assert!(
            chunk.scheduled_ns <= last_text,
            "the tail follows the last text chunk at once"
        );
    }
    assert!(
        request
            .chunks
            .windows(2)
            .all(|w| w[0].sent_ns <= w[1].sent_ns),
        "send times are ordered"
    );
    assert_eq!(request.end_ns, Some(request.chunks.last().unwrap().sent_ns));
    assert_eq!(request.client_gone_ns, None);
    let usage = request.usage.expect("usage is recorded");
    assert_eq!(usage.completion_tokens, 12);
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_is_recorded_as_gone() {
    let mock = start().await;
    let response = post(
        &mock,
        &streamed("[[scenario:long ttft_ms=0 gap_ms=5 tag=gone]]"),
    )
    .await;
    let read = read_sse(response, Some(3)).await;
    assert_eq!(read.events.len(), 3);
    let hung_up = monotonic_ns();
    // `read_sse` dropped the body: the connection closes with the stream far from done.
    assert!(
        mock.timeline_store().wait_settled(HANG_GUARD).await,
        "the request settles"
    );

    let request = &mock.timeline().requests[0];
    assert_eq!(request.outcome, Outcome::ClientGone);
    let gone = request
        .client_gone_ns
        .expect("the time the client was seen going");
    assert!(gone >= hung_up, "seen after the hang-up");
    assert_eq!(request.end_ns, Some(gone));
    let sent = request.text_chunks().count();
    assert!(
        (3..1000).contains(&sent),
        "stopped sending after the client left ({sent} sent)"
    );
    assert!(request.chunks.iter().all(|c| c.kind != ChunkKind::Done));
}

#[tokio::test]
async fn a_client_that_hangs_up_before_the_first_chunk_is_recorded_as_gone() {
    let mock = start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url());
    let body = streamed("[[scenario:text ttft_ms=60000]]");
    let pending = tokio::spawn(async move { client.post(url).json(&body).send().await });
    // The request is recorded on arrival; wait for that, then hang up.
    tokio::time::timeout(HANG_GUARD, async {
        while mock.timeline().requests.is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    let response = pending.await.unwrap().unwrap();
    drop(response);
    assert!(mock.timeline_store().wait_settled(HANG_GUARD).await);
    let request = &mock.timeline().requests[0];
    assert_eq!(request.outcome, Outcome::ClientGone);
    assert!(request.chunks.is_empty());
}

#[tokio::test]
async fn the_timeline_is_served_over_http_filtered_by_tag_and_cleared() {
    let mock = start().await;
    for tag in ["a", "b", "a"] {
        let body = streamed(&format!(
            "[[scenario:text ttft_ms=0 gap_ms=0 chunks=2 tag={tag}]]"
        ));
        assert!(read_sse(post(&mock, &body).await, None).await.saw_done());
    }
    let http = reqwest::Client::new();
    let url = format!("{}/__mock/timeline", mock.url());
    let get = |query: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let t: Timeline = http
                .get(format!("{url}{query}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            t
        }
    };
    assert_eq!(get("").await.requests.len(), 3);
    let tagged = get("?tag=a").await;
    assert_eq!(tagged.requests.len(), 2);
    assert!(
        tagged
            .requests
            .iter()
            .all(|r| r.tag.as_deref() == Some("a"))
    );
    assert_eq!(
        tagged,
        Timeline {
            requests: mock.timeline().tagged("a").cloned().collect()
        }
    );

    let cleared: serde_json::Value = http
        .delete(format!("{url}?tag=a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["cleared"], 2);
    assert_eq!(get("").await.requests.len(), 1);
    http.delete(&url).send().await.unwrap();
    assert!(get("").await.requests.is_empty());
}
