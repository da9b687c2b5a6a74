//! The text a client reads in `error` and `tool-output-error` chunks: one fixed phrase per
//! failure class, the same in every backend (the table is docs/architecture.md#error-text).
//!
//! Why fixed phrases: a provider's own message may quote request details or a key, and the same
//! failure must read the same whatever the architecture. Each phrase is written here once; the
//! Rust backends call these functions, the conformance suite expects their output, and the
//! JavaScript (the sidecar's `onError`, the AI SDK oracle's rule) imports them from the module
//! [`crate::js`] generates. A phrase with a variable part is a function generic over
//! `Display`, so the generator can render it as a JavaScript template.

use std::fmt::Display;
use std::time::Duration;

/// The provider could not be reached, or closed the connection before answering.
pub const PROVIDER_UNREACHABLE: &str = "could not reach the provider";
/// A provider chunk that is not JSON, or not a valid chunk.
pub const PROVIDER_MALFORMED: &str = "provider sent a malformed chunk";
/// The provider's stream ended before `data: [DONE]` (connection lost, or closed early).
pub const PROVIDER_TRUNCATED: &str = "provider stream ended unexpectedly";
/// Anything else that failed inside the chat runtime.
pub const INTERNAL_ERROR: &str = "internal error in the chat runtime";
/// A stream the server ended because it is shutting down.
pub const SHUTTING_DOWN: &str = "the server is shutting down; retry the request";

/// The provider answered with HTTP `status` ≥ 400 (after any retries).
pub fn provider_status(status: impl Display) -> String {
    format!("provider returned HTTP {status}")
}

/// The provider sent nothing for the idle timeout; `seconds` as [`seconds`] writes them.
pub fn provider_idle(seconds: impl Display) -> String {
    format!("provider sent nothing for {seconds} s")
}

/// The model called a tool that does not exist.
pub fn unknown_tool(name: impl Display) -> String {
    format!("unknown tool: {name}")
}

/// The model's input for a tool does not match the tool's schema.
pub fn invalid_tool_input(name: impl Display) -> String {
    format!("invalid input for tool {name}")
}

/// The tool callback itself failed (socket gone, bad answer), as opposed to a tool error.
pub fn tool_not_called(name: impl Display, reason: impl Display) -> String {
    format!("tool {name} could not be called: {reason}")
}

/// A tool panicked inside the Rust side; the panic's message follows.
pub fn tool_panicked(message: impl Display) -> String {
    format!("tool panicked: {message}")
}

/// A duration as the phrases write seconds: `60`, `0.5`, `1.25` (whole milliseconds, no
/// trailing zeros).
pub fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        let text = format!("{}.{:03}", millis / 1000, millis % 1000);
        text.trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_read_as_the_architecture_doc_writes_them() {
        assert_eq!(provider_status(429), "provider returned HTTP 429");
        assert_eq!(provider_idle(60), "provider sent nothing for 60 s");
        assert_eq!(unknown_tool("nope"), "unknown tool: nope");
        assert_eq!(
            invalid_tool_input("get_spec"),
            "invalid input for tool get_spec"
        );
        assert_eq!(
            tool_not_called("get_spec", "bridge is down"),
            "tool get_spec could not be called: bridge is down"
        );
        assert_eq!(tool_panicked("boom"), "tool panicked: boom");
    }

    #[test]
    fn seconds_drop_trailing_zeros() {
        let text = |ms| seconds(Duration::from_millis(ms));
        assert_eq!(text(60_000), "60");
        assert_eq!(text(1000), "1");
        assert_eq!(text(500), "0.5");
        assert_eq!(text(1250), "1.25");
        assert_eq!(text(2), "0.002");
    }
}
