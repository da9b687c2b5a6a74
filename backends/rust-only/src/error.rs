//! Why a provider call failed, in words a user of the chat can act on.
//!
//! The text of each variant is what the stream's final `error` chunk carries (see the crate
//! docs for why errors are not masked as the AI SDK's default `onError` would).

use std::time::Duration;

use async_openai::error::OpenAIError;

use crate::provider::api_error_message;
use crate::tool_calls::NamelessToolCall;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider answered with an error status (after the retries the AI SDK makes), or
    /// could not be reached; the message is the one the AI SDK would report.
    #[error("{message}")]
    Failed { status: Option<u16>, message: String },
    #[error(
        "the provider sent nothing for {} s, so the answer was ended (raise --idle-timeout-s if the model is this slow)",
        .0.as_secs_f64()
    )]
    Idle(Duration),
    #[error("the provider stream failed: {0}")]
    Stream(String),
    #[error("the provider sent a chunk that is not a valid chat completion chunk: {0}")]
    InvalidChunk(String),
    #[error("the provider stream ended before its finish reason: the answer is incomplete")]
    Truncated,
    #[error(transparent)]
    NamelessToolCall(#[from] NamelessToolCall),
    #[error("the provider request could not be sent: {0}")]
    Request(String),
}

impl UpstreamError {
    /// Classifies what async-openai returned, unwrapping the errors [`crate::provider`]'s
    /// retry layer boxed for it.
    pub fn from_openai(error: OpenAIError) -> Self {
        match error {
            OpenAIError::Boxed(inner) => match inner.downcast::<UpstreamError>() {
                Ok(upstream) => *upstream,
                Err(other) => Self::Request(other.to_string()),
            },
            OpenAIError::ApiError(response) => {
                let (status, message) = api_error_message(&response);
                Self::Failed {
                    status: Some(status),
                    message,
                }
            }
            OpenAIError::JSONDeserialize(error, content) => {
                // An `{"error":{...}}` event inside the stream is the provider reporting a
                // failure, not a malformed chunk.
                let reported = serde_json::from_str::<serde_json::Value>(&content)
                    .ok()
                    .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned));
                match reported {
                    Some(message) => Self::Failed {
                        status: None,
                        message,
                    },
                    None => Self::InvalidChunk(format!("{error} in `{}`", shorten(&content))),
                }
            }
            OpenAIError::StreamError(e) => Self::Stream(e.to_string()),
            OpenAIError::Reqwest(e) => Self::Stream(e.to_string()),
            other => Self::Request(other.to_string()),
        }
    }
}

/// Keeps a bad chunk quoted in an error message readable.
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
        let boxed = OpenAIError::Boxed(Box::new(UpstreamError::Truncated));
        assert!(matches!(
            UpstreamError::from_openai(boxed),
            UpstreamError::Truncated
        ));
    }

    #[test]
    fn an_error_event_is_a_failure_and_garbage_is_an_invalid_chunk() {
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        let event = r#"{"error":{"message":"overloaded","type":"server_error"}}"#;
        let e = UpstreamError::from_openai(OpenAIError::JSONDeserialize(
            parse("{"),
            event.to_owned(),
        ));
        assert_eq!(e.to_string(), "overloaded");
        let garbage = "x".repeat(500);
        let e = UpstreamError::from_openai(OpenAIError::JSONDeserialize(parse("{"), garbage));
        assert!(matches!(e, UpstreamError::InvalidChunk(_)));
        assert!(e.to_string().len() < 400, "{e}");
    }
}
