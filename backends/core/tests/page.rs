//! The chat page at `GET /`: the HTML, every asset it names, and the scenario catalogue its
//! picker reads, all served by the shell every backend runs; anything else under `/assets/`
//! is the usual JSON 404.

mod common;

use common::*;
use contract::scenario::{CATALOGUE, PublishedCatalogue};

/// The `/assets/...` URLs an HTML page loads (`src="..."`, `href="..."`).
fn asset_urls(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|piece| piece.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_page_and_every_asset_it_names_are_served_with_their_types() {
    let server = Server::plain().await;
    let page = server.get("/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    let assets = asset_urls(&html);
    assert_eq!(assets, ["/assets/app.css", "/assets/app.js"], "{html}");
    for url in assets {
        let response = server.get(&url).await;
        assert_eq!(response.status(), 200, "{url}");
        let expected = if url.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(response.headers()["content-type"], expected, "{url}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(!response.bytes().await.unwrap().is_empty(), "{url}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_catalogue_lists_every_scenario_and_directive_key() {
    let server = Server::plain().await;
    let response = server.get(leanspec_core::page::CATALOGUE_PATH).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        json,
        serde_json::to_value(PublishedCatalogue::new()).unwrap()
    );
    assert_eq!(json["scenarios"].as_array().unwrap().len(), CATALOGUE.len());
    server.stop().await;
}

#[tokio::test]
async fn unknown_assets_and_other_methods_are_json_errors() {
    let server = Server::plain().await;
    let (code, message) = error_of(server.get("/assets/nope.js").await, 404).await;
    assert_eq!(code, "not_found");
    assert!(message.contains("/assets/nope.js"), "{message}");
    let post = client().post(server.url("/")).send().await.unwrap();
    let (code, _) = error_of(post, 405).await;
    assert_eq!(code, "method_not_allowed");
    server.stop().await;
}
