//! Errors: [`MockError`] for the library's callers, [`ApiError`] for HTTP clients.
//!
//! HTTP errors use OpenAI's shape, `{"error":{"message","type","param","code"}}`, because the
//! clients under test (the AI SDK's OpenAI provider, async-openai) parse exactly that.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why the provider could not start or stopped.
#[derive(Debug, Error)]
pub enum MockError {
    #[error("cannot listen on {addr}: {source}; pick a free address or use port 0")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the listening address: {0}")]
    LocalAddr(std::io::Error),
    #[error("cannot create the chunk timer (Linux timerfd): {0}")]
    Timer(std::io::Error),
    #[error("the server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// OpenAI's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiErrorBody {
    pub error: OpenAiError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAiError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

/// An HTTP error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: OpenAiErrorBody,
    /// `Retry-After`, in seconds.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, code: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            status,
            body: OpenAiErrorBody {
                error: OpenAiError {
                    message: message.into(),
                    kind: kind.to_owned(),
                    param: None,
                    code: code.map(str::to_owned),
                },
            },
            retry_after_s: None,
        }
    }

    /// 400: the request cannot be understood; the message says what to fix.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        )
    }

    /// 413: the body is larger than the provider reads.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            None,
            format!("the request body is larger than {limit} bytes; send a shorter conversation"),
        )
    }

    /// 404 for a path the provider does not serve.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("unknown_url"),
            format!(
                "no route {path}; the mock serves POST /v1/chat/completions, GET /v1/models and /__mock/timeline"
            ),
        )
    }

    /// 500 for a bug in the mock itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            message,
        )
    }

    /// `http-429`, as OpenAI words a rate limit.
    pub fn rate_limited(retry_after_s: u64, attempt: u32) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            Some("rate_limit_exceeded"),
            format!(
                "Rate limit reached (scenario http-429, attempt {attempt}). Please try again in {retry_after_s}s."
            ),
        );
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// `http-500`, as OpenAI words a server error.
    pub fn server_error(attempt: u32) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            format!(
                "The server had an error while processing your request (scenario http-500, attempt {attempt})."
            ),
        )
    }

    pub fn message(&self) -> &str {
        &self.body.error.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}
