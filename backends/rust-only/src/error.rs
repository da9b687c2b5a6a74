//! Why a provider call failed, and the text the client reads for it.
//!
//! The text is the fixed phrase per error class of docs/architecture.md#error-text, written once
//! in `contract::error_text` (the sidecar's `onError` imports the same phrases), so every
//! backend reports the same failure the same way and never echoes a provider's own message
//! (which may quote the request). `Display` is that phrase; [`UpstreamError::detail`] is what
//! the server log gets.

use std::time::Duration;

use async_openai::error::OpenAIError;
use contract::error_text;

use crate::tool_calls::NamelessToolCall;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider answered with an error status (after any retries).
    #[error("{}", error_text::provider_status(.status))]
    Status { status: u16, detail: String },
    /// The connection could not be made, or closed before the provider answered.
    #[error("{}", error_text::PROVIDER_UNREACHABLE)]
    Unreachable { detail: String },
    #[error("{}", error_text::provider_idle(error_text::seconds(*.0)))]
    Idle(Duration),
    /// A chunk async-openai cannot read as a chat completion chunk (an in-stream `error`
    /// event included), or tool-call fragments that make no call.
    #[error("{}", error_text::PROVIDER_MALFORMED)]
    Malformed { detail: String },
    /// The body broke off, or ended without a finish reason.
    #[error("{}", error_text::PROVIDER_TRUNCATED)]
    Truncated { detail: String },
    #[error("{}", error_text::INTERNAL_ERROR)]
    Internal { detail: String },
}

impl UpstreamError {
    /// Classifies what async-openai returned, unwrapping the errors [`crate::provider`]'s
    /// retry layer boxed for it.
    pub fn from_openai(error: OpenAIError) -> Self {
        match error {
            OpenAIError::Boxed(inner) => match inner.downcast::<UpstreamError>() {
                Ok(upstream) => *upstream,
                Err(other) => Self::Internal {
                    detail: other.to_string(),
                },
            },
            OpenAIError::ApiError(response) => Self::Status {
                status: response.status_code.as_u16(),
                detail: response.api_error.message,
            },
            OpenAIError::JSONDeserialize(error, content) => Self::Malformed {
                detail: format!("{error} in `{}`", shorten(&content)),
            },
            OpenAIError::StreamError(e) => Self::Truncated {
                detail: e.to_string(),
            },
            OpenAIError::Reqwest(e) if e.is_connect() => Self::Unreachable {
                detail: e.to_string(),
            },
            OpenAIError::Reqwest(e) => Self::Truncated {
                detail: e.to_string(),
            },
            other => Self::Internal {
                detail: other.to_string(),
            },
        }
    }

    /// The provider's stream ended without telling why it stopped.
    pub fn no_finish_reason() -> Self {
        Self::Truncated {
            detail: "the stream ended before any chunk carried a finish_reason".to_owned(),
        }
    }

    /// More than the client text, for the server log (never the API key: nothing here
    /// carries request headers).
    pub fn detail(&self) -> &str {
        match self {
            Self::Status { detail, .. }
            | Self::Unreachable { detail }
            | Self::Malformed { detail }
            | Self::Truncated { detail }
            | Self::Internal { detail } => detail,
            Self::Idle(_) => "idle timeout",
        }
    }
}

impl From<NamelessToolCall> for UpstreamError {
    fn from(error: NamelessToolCall) -> Self {
        Self::Malformed {
            detail: error.to_string(),
        }
    }
}

/// Keeps a bad chunk quoted in a log line readable.
const QUOTED_CHUNK_LIMIT: usize = 200;

fn shorten(text: &str) -> &str {
    match text.char_indices().nth(QUOTED_CHUNK_LIMIT) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxed_errors_come_back_as_themselves() {
        let boxed = OpenAIError::Boxed(Box::new(UpstreamError::Idle(Duration::from_secs(60))));
        let error = UpstreamError::from_openai(boxed);
        assert_eq!(error.to_string(), "provider sent nothing for 60 s");
    }

    #[test]
    fn idle_seconds_are_written_as_the_phrases_write_them() {
        let text = |ms| UpstreamError::Idle(Duration::from_millis(ms)).to_string();
        assert_eq!(text(1000), "provider sent nothing for 1 s");
        assert_eq!(text(500), "provider sent nothing for 0.5 s");
    }

    #[test]
    fn texts_are_the_documented_phrases_and_details_stay_in_the_log() {
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        let garbage = "x".repeat(500);
        let e = UpstreamError::from_openai(OpenAIError::JSONDeserialize(parse("{"), garbage));
        assert_eq!(e.to_string(), error_text::PROVIDER_MALFORMED);
        assert!(e.detail().len() < 400, "{}", e.detail());
        let status = UpstreamError::Status {
            status: 429,
            detail: "slow down".into(),
        };
        assert_eq!(status.to_string(), "provider returned HTTP 429");
        assert_eq!(
            UpstreamError::no_finish_reason().to_string(),
            error_text::PROVIDER_TRUNCATED
        );
        let internal = UpstreamError::Internal { detail: "x".into() };
        assert_eq!(internal.to_string(), error_text::INTERNAL_ERROR);
        let unreachable = UpstreamError::Unreachable { detail: "x".into() };
        assert_eq!(unreachable.to_string(), error_text::PROVIDER_UNREACHABLE);
    }
}
