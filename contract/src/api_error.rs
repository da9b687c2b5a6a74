//! The one error body every backend returns: `{"error":{"code":"...","message":"..."}}`.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes, one per status docs/design.md#error-bodies fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON or messages the server cannot use.
    InvalidRequest,
    /// 401: a missing or wrong credential on an internal endpoint.
    Unauthorized,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the route exists with another method.
    MethodNotAllowed,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: body is not `application/json`.
    UnsupportedMediaType,
    /// 429: the client's rate limit is spent.
    RateLimited,
    /// 500: a bug; the message says where to look.
    Internal,
    /// 502: the upstream provider failed before the stream began.
    UpstreamError,
    /// 503: the JS runtime is down or restarting.
    Unavailable,
}

impl ErrorCode {
    /// Every code, in status order (the generated JavaScript lists them all); a new variant
    /// goes here too.
    pub const ALL: &[ErrorCode] = &[
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::Internal,
        Self::UpstreamError,
        Self::Unavailable,
    ];

    /// The code as it appears in the JSON body, e.g. `invalid_request`.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::UpstreamError => 502,
            Self::Unavailable => 503,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_codes_once_in_status_order_by_their_json_names() {
        let statuses: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status()).collect();
        assert!(statuses.windows(2).all(|w| w[0] < w[1]), "{statuses:?}");
        assert_eq!(ErrorCode::InvalidRequest.name(), "invalid_request");
    }
}
