//! The internal tool router a JS runtime calls back into (docs/architecture.md, "Tool
//! protocol"). Backends serve it on their own internal listener, never the public one: a
//! 0600 Unix socket in a 0700 directory (the file mode is the credential), or a loopback TCP
//! listener that demands a per-launch bearer token.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use contract::tools::{ToolList, ToolOutcome};
use contract::{MAX_BODY_BYTES, error_text};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::rest::path_param;
use crate::server::{log_request, method_not_allowed, not_found, panic_response};
use crate::tools::Toolbox;

/// How callers of the internal router prove they are the backend's own runtime.
#[derive(Clone, PartialEq, Eq)]
pub enum InternalAuth {
    /// The transport is the credential (a Unix socket only its owner can open).
    Transport,
    /// Every request must carry `authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for InternalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport => f.write_str("Transport"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// A fresh random token for [`InternalAuth::Bearer`]: 244 bits from the OS's generator,
/// as two v4 UUIDs in hex.
pub fn random_bearer_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `GET /internal/tools` and `POST /internal/tools/{name}` over `toolbox`.
pub fn internal_router(toolbox: Toolbox, auth: InternalAuth) -> Router {
    Router::new()
        .route("/internal/tools", get(list))
        .route("/internal/tools/{name}", post(execute))
        .with_state(toolbox)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(auth, authorize))
        .layer(middleware::from_fn(log_request))
}

async fn authorize(State(auth): State<InternalAuth>, request: Request, next: Next) -> Response {
    if let InternalAuth::Bearer(token) = &auth {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes()));
        if !ok {
            tracing::warn!(
                path = request.uri().path(),
                with_credential = presented.is_some(),
                "internal request refused"
            );
            return ApiError::Unauthorized(
                "internal endpoint: missing or wrong bearer token".to_owned(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Compares without an early exit, so response timing does not reveal a token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn list(State(toolbox): State<Toolbox>) -> Json<ToolList> {
    Json(toolbox.tool_list())
}

/// The body is the tool's input object; an empty body means `{}`.
async fn execute(
    State(toolbox): State<Toolbox>,
    headers: axum::http::HeaderMap,
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<ToolOutcome>, ApiError> {
    let name = path_param(name)?;
    if !toolbox.has(&name) {
        return Err(ApiError::NotFound(error_text::unknown_tool(&name)));
    }
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit_bytes: MAX_BODY_BYTES,
            }
        } else {
            ApiError::InvalidRequest(format!("cannot read the request body: {e}"))
        }
    })?;
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::InvalidRequest(format!("malformed JSON tool input: {e}")))?
    };
    let outcome = toolbox.execute(&name, input).await;
    if let ToolOutcome::Error { message } = &outcome {
        // The chat request that called the tool, as the sidecar passed it on
        // (docs/architecture.md#request-id).
        let request_id = headers
            .get(contract::request_id::HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info!(tool = %name, %message, request_id, "tool error");
    }
    Ok(Json(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_comparison_is_exact() {
        let (a, b) = (random_bearer_token(), random_bearer_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert_eq!(
            format!("{:?}", InternalAuth::Bearer(a)),
            "Bearer(<redacted>)"
        );
    }
}
