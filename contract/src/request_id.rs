//! The request id: one name per chat request, carried across every hop so that each
//! component's log line about a failure can be matched with what the client saw
//! (docs/architecture.md#request-id).
//!
//! The public server takes the client's `x-request-id` when it is a usable id, or makes one,
//! and returns it in the response's `x-request-id` header. It passes the id on: to a sidecar in
//! the same header (the `sse` wire) or in the `open` frame's body (the `frames` wire), to the
//! napi host's chat call as an argument, and back on tool callbacks in the same header. Every
//! component names it in the log lines it writes about that request's failures.

use std::fmt;
use std::sync::Arc;

/// The header, on the public API and on every internal hop.
pub const HEADER: &str = "x-request-id";
/// The key of the `open` frame's JSON body that carries the id on the `frames` wire, beside the
/// `useChat` body's own keys (docs/frames.md).
pub const OPEN_FRAME_KEY: &str = "requestId";
/// The longest id taken from a client; a longer one is replaced, not cut.
pub const MAX_LEN: usize = 128;

/// A request id: 1 to [`MAX_LEN`] characters of `A-Z a-z 0-9 - _ . :`, so it can be logged,
/// put in a header and searched for in a log without quoting. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The id a client sent, if it is usable (the server makes its own otherwise).
    pub fn parse(value: &str) -> Option<Self> {
        let usable = !value.is_empty()
            && value.len() <= MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        usable.then(|| Self(Arc::from(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_ids_are_kept_and_others_refused() {
        assert_eq!(
            RequestId::parse("debug-http-500.1:a_b").map(|r| r.to_string()),
            Some("debug-http-500.1:a_b".to_owned())
        );
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("line\nbreak").is_none());
        assert!(RequestId::parse("é").is_none());
        assert!(RequestId::parse(&"a".repeat(MAX_LEN)).is_some());
        assert!(RequestId::parse(&"a".repeat(MAX_LEN + 1)).is_none());
    }
}
