//! Reading and validating a `POST /api/chat` body before any backend sees it: 415 when it is
//! not JSON, 413 over [`MAX_BODY_BYTES`], 400 for malformed JSON or a conversation the model
//! cannot answer.
//!
//! Which conversations are valid follows what the AI SDK's server side accepts
//! (`convertToModelMessages` + `streamText` check no roles) narrowed to what makes sense to
//! answer: at least one message, at least one user message, and a last message from the user
//! or the assistant. A trailing assistant message is legitimate: `useChat` sends one with
//! `trigger: "submit-message"` when it continues after client-side tool results or approvals
//! (`sendAutomaticallyWhen`), and transports that regenerate by `messageId` may keep it.
//! (`useChat`'s own `regenerate()` drops the assistant message before sending, so its
//! `regenerate-message` requests end with the user's message.) A trailing system message has
//! nothing to answer and is refused. `tests/chat_requests.rs` replays every body captured from
//! the real `useChat` (the contract crate's ai@6 fixtures, which include both cases).

use axum::body::Body;
use axum::http::{HeaderMap, header};
use contract::MAX_BODY_BYTES;
use contract::ui_message::{ChatRequest, Role};

use crate::error::ApiError;

/// Whether a `content-type` value declares JSON (`application/json`, with or without
/// parameters, or any `application/*+json`).
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The body as bytes, refusing anything that is not declared as JSON or is over the limit.
pub async fn read_json_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    if !is_json_content_type(headers) {
        let got = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        return Err(ApiError::UnsupportedMediaType(format!(
            "content-type must be application/json (got {got})"
        )));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = ApiError::PayloadTooLarge {
        limit_bytes: MAX_BODY_BYTES,
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let over_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over_limit {
                too_large
            } else {
                ApiError::InvalidRequest(format!("cannot read the request body: {e}"))
            }
        })
}

/// Parses and validates a chat request body.
pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::InvalidRequest(format!("malformed JSON: {e}")))?;
    let request: ChatRequest = serde_json::from_value(value).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "not a chat request ({{\"id\", \"messages\": [UIMessage...], \"trigger\"}}): {e}"
        ))
    })?;
    validate(&request)?;
    Ok(request)
}

/// The conversation-level rules of the module docs.
pub fn validate(request: &ChatRequest) -> Result<(), ApiError> {
    let invalid = |m: &str| Err(ApiError::InvalidRequest(m.to_owned()));
    let Some(last) = request.messages.last() else {
        return invalid("messages must contain at least one message");
    };
    if !request.messages.iter().any(|m| m.role == Role::User) {
        return invalid("messages must contain at least one user message");
    }
    if last.role == Role::System {
        return invalid("the last message must come from the user (or the assistant), not system");
    }
    if last.parts.is_empty() {
        return invalid("the last message has no parts; send its text as a text part");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(messages: &str) -> Result<ChatRequest, ApiError> {
        parse_chat_request(format!(r#"{{"id":"c1","messages":{messages}}}"#).as_bytes())
    }

    const USER: &str = r#"{"id":"u1","role":"user","parts":[{"type":"text","text":"hi"}]}"#;
    const ASSISTANT: &str =
        r#"{"id":"a1","role":"assistant","parts":[{"type":"text","text":"hello"}]}"#;

    #[test]
    fn accepts_user_last_and_assistant_last() {
        assert!(request(&format!("[{USER}]")).is_ok());
        assert!(request(&format!("[{USER},{ASSISTANT}]")).is_ok());
    }

    #[test]
    fn refuses_what_cannot_be_answered_with_a_reason() {
        let system = r#"{"id":"s","role":"system","parts":[{"type":"text","text":"x"}]}"#;
        let empty_user = r#"{"id":"u","role":"user","parts":[]}"#;
        let cases = [
            ("[]".to_owned(), "at least one message"),
            (format!("[{ASSISTANT}]"), "at least one user message"),
            (format!("[{USER},{system}]"), "not system"),
            (format!("[{empty_user}]"), "no parts"),
            (
                r#"[{"id":"x","role":"robot","parts":[]}]"#.to_owned(),
                "not a chat request",
            ),
        ];
        for (messages, expected) in cases {
            let err = request(&messages).unwrap_err();
            assert!(err.to_string().contains(expected), "{messages}: {err}");
        }
        let err = parse_chat_request(b"{\"id\":").unwrap_err();
        assert!(err.to_string().starts_with("malformed JSON"), "{err}");
    }

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json_content_type(&headers));
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/vnd.api+json", true),
            ("text/plain", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json_content_type(&headers), ok, "{value}");
        }
    }
}
