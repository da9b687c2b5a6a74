//! The ready line every server prints on stdout once its `/health` answers 200.
//!
//! The harness starts each process on port 0 and learns its address, pid and runtime pid from
//! this one line; anything else goes to stderr.

use serde::{Deserialize, Serialize};

/// `{"event":"ready","backend":"unix","url":"http://127.0.0.1:43121","pid":123,"runtime_pid":456}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyLine {
    pub event: String,
    pub backend: String,
    pub url: String,
    pub pid: u32,
    /// The Node.js process, where the architecture has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_pid: Option<u32>,
}

/// The value of `event` in a ready line.
pub const READY_EVENT: &str = "ready";

impl ReadyLine {
    /// The fields as serialised, in order; the generated JavaScript builds the line from this
    /// list (a test below keeps it equal to the struct).
    pub const FIELDS: &[&str] = &["event", "backend", "url", "pid", "runtime_pid"];

    pub fn new(
        backend: impl Into<String>,
        url: impl Into<String>,
        runtime_pid: Option<u32>,
    ) -> Self {
        Self {
            event: READY_EVENT.to_owned(),
            backend: backend.into(),
            url: url.into(),
            pid: std::process::id(),
            runtime_pid,
        }
    }

    /// Parses a line of a child's stdout; `None` for any line that is not a ready line.
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str::<Self>(line.trim())
            .ok()
            .filter(|r| r.event == READY_EVENT)
    }

    /// The one line to print, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_lines() {
        let line = r#"{"event":"ready","backend":"unix","url":"http://127.0.0.1:43121","pid":123,"runtime_pid":456}"#;
        let ready = ReadyLine::parse(line).unwrap();
        assert_eq!(ready.runtime_pid, Some(456));
        assert_eq!(ready.to_line(), line);
        assert!(ReadyLine::parse("listening on 3030").is_none());
        assert!(
            ReadyLine::parse(r#"{"event":"stopped","backend":"x","url":"","pid":1}"#).is_none()
        );
    }

    #[test]
    fn fields_lists_every_serialised_field_in_order() {
        let line = ReadyLine::new("b", "u", Some(1)).to_line();
        let keys: Vec<&str> = line
            .split('"')
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|pair| pair[1].starts_with(':'))
            .map(|pair| pair[0])
            .collect();
        assert_eq!(keys, ReadyLine::FIELDS);
    }
}
