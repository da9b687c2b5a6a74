//! The LeanSpec REST API over the fixture corpus, and the tools: a tool's output is exactly
//! the REST body, a tool's error is the REST error's message, and failures are tool results.

mod common;

use common::*;
use contract::scenario::{KNOWN_SPEC_ID, MISSING_SPEC_ID, PARALLEL_SEARCH_QUERY};
use contract::tools::{CRASH_TOOL, GET_SPEC, LIST_SPECS, PANIC_TOOL, SEARCH_SPECS, ToolOutcome};
use leanspec_core::tools::{CRASH_MESSAGE, PANIC_MESSAGE};
use leanspec_core::{RateLimit, Toolbox};
use serde_json::{Value, json};

async fn get_json(server: &Server, path: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(path))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn the_fixture_corpus_is_large_mixed_and_has_the_scenario_specs() {
    let store = fixture_store();
    assert!(store.len() >= 30, "{} specs", store.len());
    for status in leanspec_core::Status::ALL {
        assert!(!store.list(Some(status)).is_empty(), "no {status} spec");
    }
    assert!(store.get(KNOWN_SPEC_ID).is_some());
    assert!(store.get(MISSING_SPEC_ID).is_none());
    assert!(store.search(PARALLEL_SEARCH_QUERY, 100).total >= 3);
}

#[tokio::test]
async fn rest_lists_filters_gets_and_searches() {
    let server = Server::plain().await;
    let (status, all) = get_json(&server, "/api/specs").await;
    assert_eq!(status, 200);
    let count = all["count"].as_u64().unwrap();
    assert_eq!(count as usize, all["specs"].as_array().unwrap().len());
    let ids: Vec<&str> = all["specs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by id");

    let (_, planned) = get_json(&server, "/api/specs?status=planned").await;
    let planned = planned["specs"].as_array().unwrap();
    assert!(!planned.is_empty() && planned.len() < count as usize);
    assert!(planned.iter().all(|s| s["status"] == "planned"));
    let (_, unfiltered) = get_json(&server, "/api/specs?status=").await;
    assert_eq!(unfiltered, all);

    let (status, spec) = get_json(&server, &format!("/api/specs/{KNOWN_SPEC_ID}")).await;
    assert_eq!(status, 200);
    assert_eq!(spec["id"], KNOWN_SPEC_ID);
    assert_eq!(
        spec["title"],
        "Chat Sidecar Architecture for the Rust Server"
    );
    assert!(spec["body"].as_str().unwrap().contains("## Requirements"));

    let (status, found) =
        get_json(&server, &format!("/api/search?q={PARALLEL_SEARCH_QUERY}")).await;
    assert_eq!(status, 200);
    let results = found["results"].as_array().unwrap();
    assert!(results.len() >= 3, "{found}");
    assert!(
        results
            .iter()
            .all(|r| r["snippet"].is_string() && r["score"].as_u64() > Some(0))
    );
    assert_eq!(found["total"].as_u64().unwrap() as usize, results.len());
    server.stop().await;
}

#[tokio::test]
async fn rest_lists_page_by_page() {
    let server = Server::plain().await;
    let (_, all) = get_json(&server, "/api/specs").await;
    let total = all["count"].as_u64().unwrap() as usize;
    assert!(
        all.get("next_offset").is_none(),
        "the fixtures fit one default page"
    );
    let mut paged = Vec::new();
    let mut offset = Some(0);
    while let Some(at) = offset {
        let (status, page) = get_json(&server, &format!("/api/specs?limit=7&offset={at}")).await;
        assert_eq!(status, 200);
        assert_eq!(page["count"].as_u64().unwrap() as usize, total);
        assert_eq!(page["offset"], at);
        paged.extend(page["specs"].as_array().unwrap().iter().cloned());
        offset = page.get("next_offset").map(|n| n.as_u64().unwrap());
    }
    assert_eq!(&paged, all["specs"].as_array().unwrap());
    let (_, past_end) = get_json(&server, &format!("/api/specs?offset={}", total + 5)).await;
    assert_eq!(past_end["specs"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn rest_refuses_bad_parameters_with_400() {
    let server = Server::plain().await;
    for path in [
        "/api/specs?limit=0",
        "/api/specs?limit=1001",
        "/api/specs?offset=-1",
        "/api/specs?limit=ten",
        "/api/specs?status=done",
        "/api/search",
        "/api/search?q=",
        "/api/search?q=%20!%20",
    ] {
        let response = client()
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        let (code, _) = error_of(response, 400).await;
        assert_eq!(code, "invalid_request", "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn tool_outputs_equal_rest_bodies() {
    let server = Server::plain().await;
    let toolbox = server.state.toolbox().clone();
    let pairs = [
        (LIST_SPECS, json!({}), "/api/specs".to_owned()),
        (
            LIST_SPECS,
            json!({"status": "complete"}),
            "/api/specs?status=complete".to_owned(),
        ),
        (LIST_SPECS, json!(null), "/api/specs".to_owned()),
        (
            GET_SPEC,
            json!({"id": KNOWN_SPEC_ID}),
            format!("/api/specs/{KNOWN_SPEC_ID}"),
        ),
        (
            SEARCH_SPECS,
            json!({"query": PARALLEL_SEARCH_QUERY}),
            format!("/api/search?q={PARALLEL_SEARCH_QUERY}"),
        ),
        (
            SEARCH_SPECS,
            json!({"query": "retry backoff"}),
            "/api/search?q=retry%20backoff".to_owned(),
        ),
    ];
    for (tool, input, path) in pairs {
        let (status, body) = get_json(&server, &path).await;
        assert_eq!(status, 200, "{path}");
        match toolbox.execute(tool, input.clone()).await {
            ToolOutcome::Ok { output } => assert_eq!(output, body, "{tool} {input}"),
            other => panic!("{tool} {input}: {other:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn tool_errors_are_results_with_the_rest_message() {
    let server = Server::plain().await;
    let toolbox = server.state.toolbox().clone();
    let rest_pairs = [
        (
            GET_SPEC,
            json!({"id": MISSING_SPEC_ID}),
            format!("/api/specs/{MISSING_SPEC_ID}"),
            404,
        ),
        (
            LIST_SPECS,
            json!({"status": "done"}),
            "/api/specs?status=done".to_owned(),
            400,
        ),
        (
            SEARCH_SPECS,
            json!({"query": "  "}),
            "/api/search?q=%20%20".to_owned(),
            400,
        ),
    ];
    for (tool, input, path, status) in rest_pairs {
        let response = server.get(&path).await;
        let (_, rest_message) = error_of(response, status).await;
        let outcome = toolbox.execute(tool, input).await;
        assert_eq!(
            outcome,
            ToolOutcome::Error {
                message: rest_message
            }
        );
    }
    let invalid = [
        (GET_SPEC, json!({})),
        (GET_SPEC, json!({"id": 7})),
        (GET_SPEC, json!("001")),
        (SEARCH_SPECS, json!({"query": "x", "extra": true})),
    ];
    for (tool, input) in invalid {
        let expected = format!("invalid input for tool {tool}");
        assert_eq!(
            toolbox.execute(tool, input).await,
            ToolOutcome::Error { message: expected }
        );
    }
    assert_eq!(
        toolbox.execute("drop_tables", json!({})).await,
        ToolOutcome::Error {
            message: "unknown tool: drop_tables".into()
        }
    );
    server.stop().await;
}

#[tokio::test]
async fn definitions_have_descriptions_and_object_schemas_and_are_served() {
    let server = Server::plain().await;
    let (status, listed) = get_json(&server, "/api/tools").await;
    assert_eq!(status, 200);
    let toolbox = server.state.toolbox();
    assert_eq!(listed, serde_json::to_value(toolbox.tool_list()).unwrap());
    let names: Vec<String> = toolbox.definitions().into_iter().map(|d| d.name).collect();
    assert_eq!(names, [LIST_SPECS, GET_SPEC, SEARCH_SPECS]);
    for definition in toolbox.definitions() {
        assert!(definition.description.len() > 20, "{}", definition.name);
        assert_eq!(definition.input_schema["type"], "object");
        assert_eq!(definition.input_schema["additionalProperties"], false);
    }
    server.stop().await;
}

#[tokio::test]
async fn fault_tools_exist_only_with_fault_injection() {
    let plain = Toolbox::new(fixture_store(), false);
    assert!(!plain.has(CRASH_TOOL) && !plain.has(PANIC_TOOL));
    for tool in [CRASH_TOOL, PANIC_TOOL] {
        let outcome = plain.execute(tool, json!({})).await;
        assert_eq!(
            outcome,
            ToolOutcome::Error {
                message: format!("unknown tool: {tool}")
            }
        );
    }

    let server = Server::start(RateLimit::Off, true).await;
    let (_, listed) = get_json(&server, "/api/tools").await;
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&CRASH_TOOL) && names.contains(&PANIC_TOOL),
        "{names:?}"
    );
    let toolbox = server.state.toolbox().clone();
    assert_eq!(
        toolbox.execute(CRASH_TOOL, json!({})).await,
        ToolOutcome::CrashRuntime {
            message: CRASH_MESSAGE.into()
        }
    );
    assert_eq!(
        toolbox.execute(PANIC_TOOL, json!({})).await,
        ToolOutcome::Error {
            message: format!("tool panicked: {PANIC_MESSAGE}")
        }
    );
    // The panic left the toolbox and the server working.
    assert!(matches!(
        toolbox.execute(LIST_SPECS, json!({})).await,
        ToolOutcome::Ok { .. }
    ));
    assert_eq!(server.get("/health").await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn every_title_word_and_tag_finds_its_spec_in_any_case() {
    let store = fixture_store();
    for summary in store.list(None) {
        let words = summary
            .title
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 3);
        for word in words.chain(summary.tags.iter().map(String::as_str)) {
            for query in [word.to_lowercase(), word.to_uppercase()] {
                let found = store.search(&query, usize::MAX);
                assert!(
                    found
                        .hits
                        .iter()
                        .any(|(spec, _)| spec.summary.id == summary.id),
                    "{query:?} does not find {}",
                    summary.id
                );
                assert_eq!(found.hits.len(), found.total);
            }
        }
    }
}
