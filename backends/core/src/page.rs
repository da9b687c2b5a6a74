//! The chat page (`web/`, docs/chat-page.md): `GET /` and its assets, and
//! `GET /assets/scenarios.json`, the scenario catalogue its picker offers.
//!
//! The page is the committed bundle in `web/dist`, compiled into the binary: every backend
//! (napi too, which runs this router inside Node) serves the same bytes, with nothing to find on
//! disk at run time and no Node.js needed to build rust-only. The catalogue is built from
//! `contract::scenario`, so the page keeps no copy of the scenario names.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use contract::scenario::PublishedCatalogue;

/// Where the page's catalogue is served; `web/src/server-info.js` reads it from here.
pub const CATALOGUE_PATH: &str = "/assets/scenarios.json";

/// One file of the bundle.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The bundle `web/build.mjs` writes; a test in `web/` fails when it is older than the sources.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../../web/dist/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/dist/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../web/dist/app.css"),
    },
];

/// The page may load and call only what its own server serves: no CDN, no external fonts, no
/// inline script, so an injected one would not run either.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The page's routes, merged into [`crate::router`].
pub fn routes() -> Router {
    let router = ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(
            asset.path,
            get(move || async move { serve(asset.content_type, asset.body) }),
        )
    });
    router.route(CATALOGUE_PATH, get(catalogue))
}

async fn catalogue() -> Response {
    let body = serde_json::to_vec(&PublishedCatalogue::new()).unwrap_or_default();
    serve("application/json", body)
}

fn serve(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut response = body.into().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The bundle's names carry no content hash, so a browser must ask again after a rebuild.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}
