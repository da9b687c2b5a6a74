//! [`ApiError`]: every failure a route can answer with, mapped onto the one JSON error body
//! (`contract::api_error::ErrorBody`) and the statuses docs/design.md#error-bodies fixes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::api_error::{ErrorBody, ErrorCode};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// 400: malformed JSON, a body that is not a valid chat request, a bad query parameter.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401: an internal endpoint called without its credential.
    #[error("{0}")]
    Unauthorized(String),
    /// 404: no such route, spec or tool.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists with another method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 413: body over the limit.
    #[error("request body is larger than {limit_bytes} bytes; send a shorter conversation")]
    PayloadTooLarge { limit_bytes: usize },
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: the client's rate limit is spent.
    #[error("rate limit exceeded; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// 500: a bug; the message says where to look.
    #[error("{0}")]
    Internal(String),
    /// 502: the provider failed before the stream began.
    #[error("{0}")]
    Upstream(String),
    /// 503: the chat runtime is down or restarting.
    #[error("{message}; retry in {retry_after_s} s")]
    Unavailable { message: String, retry_after_s: u64 },
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
            Self::Upstream(_) => ErrorCode::UpstreamError,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Seconds the client should wait, for the statuses that carry a `Retry-After`.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_s } | Self::Unavailable { retry_after_s, .. } => {
                Some(*retry_after_s)
            }
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code(), self.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(seconds) = self.retry_after_s() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry_after_follow_the_code() {
        let limited = ApiError::RateLimited { retry_after_s: 7 };
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        let response = limited.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let missing = ApiError::NotFound("no spec".into());
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.body().error.message, "no spec");
        assert!(missing.retry_after_s().is_none());
    }
}
