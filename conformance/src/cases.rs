//! The cases of the suite: every catalogue scenario, multi-turn conversations, bad input, the
//! API around the stream (health, tool list) and response headers. A case is data;
//! [`crate::play`] plays it and [`crate::expect`] judges it.

use contract::api_error::ErrorCode;
use contract::scenario::{CATALOGUE, Directive, Expected, Scenario};
use contract::ui_message::{Role, UiMessage, UiPart};

/// Fast delays: the suite checks behaviour, not timing, and must finish in seconds.
const FAST_TTFT_MS: u64 = 0;
const FAST_GAP_MS: u64 = 1;
/// `long` in `--quick` runs: still far more chunks than any buffer boundary of interest.
const QUICK_LONG_CHUNKS: u32 = 200;
/// The `stall` case's own instance runs with this idle timeout (`--idle-timeout-s`) so it ends
/// in an error quickly; [`STALL_MS`] is well above it. The shared instance keeps the default,
/// so provider retries (2 s and 4 s of backoff) never look like silence.
pub const IDLE_TIMEOUT_S: u64 = 2;
const STALL_MS: u64 = 6_000;
const _: () = assert!(
    STALL_MS / 1000 > IDLE_TIMEOUT_S * 2,
    "the stall must outlast the idle timeout"
);
/// The multi-turn follow-up's length.
const FOLLOW_UP_CHUNKS: u32 = 5;

/// One bad request and the error it must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadInput {
    MalformedJson,
    InvalidMessages,
    NoMessages,
    UnknownRoute,
    UnknownSpec,
    WrongMethod,
    TooLarge,
    NotJson,
}

impl BadInput {
    pub const ALL: [BadInput; 8] = [
        Self::MalformedJson,
        Self::InvalidMessages,
        Self::NoMessages,
        Self::UnknownRoute,
        Self::UnknownSpec,
        Self::WrongMethod,
        Self::TooLarge,
        Self::NotJson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::MalformedJson => "bad-input/400-malformed-json",
            Self::InvalidMessages => "bad-input/400-invalid-messages",
            Self::NoMessages => "bad-input/400-no-messages",
            Self::UnknownRoute => "bad-input/404-unknown-route",
            Self::UnknownSpec => "bad-input/404-unknown-spec",
            Self::WrongMethod => "bad-input/405-get-chat",
            Self::TooLarge => "bad-input/413-over-1mib",
            Self::NotJson => "bad-input/415-not-json",
        }
    }

    /// The error code (and with it the status) the request must get.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::MalformedJson | Self::InvalidMessages | Self::NoMessages => {
                ErrorCode::InvalidRequest
            }
            Self::UnknownRoute | Self::UnknownSpec => ErrorCode::NotFound,
            Self::WrongMethod => ErrorCode::MethodNotAllowed,
            Self::TooLarge => ErrorCode::PayloadTooLarge,
            Self::NotJson => ErrorCode::UnsupportedMediaType,
        }
    }
}

/// What a case does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseKind {
    /// One request playing a scenario.
    Scenario(Scenario),
    /// `http-429` that fails once and then succeeds: the backend's retry must hide it.
    RetryRecovers,
    /// The scenario, then a follow-up that sends its assistant message back.
    MultiTurn(Scenario),
    /// A crash-fault scenario, on its own instance started with `--enable-fault-injection`.
    Fault(Scenario),
    BadInput(BadInput),
    /// `--rate-limit 2/min` on an instance of its own: the third chat is a 429.
    RateLimited,
    /// `GET /health`: 200 `{"status":"ok","backend":<name>}`.
    Health,
    /// `GET /api/tools`: the three tools, and no fault-injection tool by default.
    ToolList,
    /// The stream's response headers, with a client that invites compression.
    Headers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    pub kind: CaseKind,
}

/// The whole suite, filtered by scenario name (a filter keeps the cases derived from the named
/// scenarios; `bad-input`, `api` and `headers` select those groups).
pub fn all_cases(filter: &[String]) -> Vec<Case> {
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| f == name);
    let mut cases = Vec::new();
    for info in CATALOGUE {
        let s = info.scenario;
        if !wanted(info.name) {
            continue;
        }
        let kind = if info.expected == Expected::BackendFault {
            CaseKind::Fault(s)
        } else {
            CaseKind::Scenario(s)
        };
        cases.push(Case {
            name: info.name.to_owned(),
            kind,
        });
        if s == Scenario::Http429 {
            cases.push(Case {
                name: "http-429/retry-recovers".into(),
                kind: CaseKind::RetryRecovers,
            });
        }
        if matches!(
            s,
            Scenario::Text
                | Scenario::ToolSingle
                | Scenario::ToolParallel
                | Scenario::ToolChain
                | Scenario::ToolError
                | Scenario::ToolBadArgs
        ) {
            cases.push(Case {
                name: format!("multi-turn/{}", info.name),
                kind: CaseKind::MultiTurn(s),
            });
        }
    }
    if wanted("bad-input") {
        cases.extend(BadInput::ALL.iter().map(|b| Case {
            name: b.name().to_owned(),
            kind: CaseKind::BadInput(*b),
        }));
        cases.push(Case {
            name: "bad-input/429-rate-limited".into(),
            kind: CaseKind::RateLimited,
        });
    }
    if wanted("api") {
        cases.push(Case {
            name: "api/health".into(),
            kind: CaseKind::Health,
        });
        cases.push(Case {
            name: "api/tools".into(),
            kind: CaseKind::ToolList,
        });
    }
    if wanted("headers") {
        cases.push(Case {
            name: "headers".into(),
            kind: CaseKind::Headers,
        });
    }
    cases
}

/// Names a filter may use, for the error on an unknown one.
pub fn filter_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = CATALOGUE.iter().map(|i| i.name).collect();
    names.extend(["bad-input", "api", "headers"]);
    names
}

/// A scenario filter that names no case.
#[derive(Debug, thiserror::Error)]
#[error("unknown scenario `{unknown}`; choose from: {choices}")]
pub struct UnknownScenario {
    pub unknown: String,
    pub choices: String,
}

/// Fails on a scenario filter naming no case, before anything starts.
pub fn check_filter(scenarios: &[String]) -> Result<(), UnknownScenario> {
    let names = filter_names();
    match scenarios.iter().find(|s| !names.contains(&s.as_str())) {
        Some(unknown) => Err(UnknownScenario {
            unknown: unknown.clone(),
            choices: names.join(", "),
        }),
        None => Ok(()),
    }
}

/// The directive a case sends, fast and tagged so its timeline can be found.
pub fn directive(scenario: Scenario, tag: &str, quick: bool) -> Directive {
    let mut d = Directive::new(scenario);
    d.params.ttft_ms = FAST_TTFT_MS;
    d.params.gap_ms = FAST_GAP_MS;
    d.params.tag = Some(tag.to_owned());
    match scenario {
        Scenario::Long if quick => d.params.chunks = QUICK_LONG_CHUNKS,
        Scenario::Stall => d.params.stall_ms = STALL_MS,
        // Retry-After 0: the retries still happen, without seconds of waiting.
        Scenario::Http429 => d.params.retry_after_s = 0,
        _ => {}
    }
    d
}

/// A follow-up turn's directive.
pub fn follow_up(tag: &str) -> Directive {
    let mut d = directive(Scenario::Text, tag, false);
    d.params.chunks = FOLLOW_UP_CHUNKS;
    d
}

pub fn user_message(id: &str, text: String) -> UiMessage {
    UiMessage {
        id: id.to_owned(),
        role: Role::User,
        metadata: None,
        parts: vec![UiPart::Text {
            text,
            state: None,
            provider_metadata: None,
        }],
    }
}

/// The body `useChat` sends for a conversation.
pub fn chat_request(chat_id: &str, messages: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "id": chat_id,
        "messages": messages,
        "trigger": "submit-message",
    })
}

/// The body that opens chat `chat_id` with one user message saying `text`.
pub fn single_turn(chat_id: &str, text: String) -> serde_json::Value {
    let user = serde_json::to_value(user_message("u1", text)).unwrap_or_default();
    chat_request(chat_id, vec![user])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suite_covers_the_catalogue_and_filters_by_name() {
        let all = all_cases(&[]);
        for info in CATALOGUE {
            assert!(all.iter().any(|c| c.name == info.name), "{}", info.name);
        }
        assert!(all.iter().any(|c| c.kind == CaseKind::Headers));
        assert_eq!(
            all.iter()
                .filter(|c| matches!(c.kind, CaseKind::BadInput(_)))
                .count(),
            BadInput::ALL.len()
        );
        assert!(all.iter().any(|c| c.kind == CaseKind::RateLimited));
        assert!(all.iter().any(|c| c.kind == CaseKind::ToolList));
        let some = all_cases(&["tool-single".into()]);
        let names: Vec<&str> = some.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["tool-single", "multi-turn/tool-single"]);
        assert!(matches!(
            all_cases(&["crash-tool".into()])[0].kind,
            CaseKind::Fault(Scenario::CrashTool)
        ));
    }

    #[test]
    fn directives_are_fast_and_tagged() {
        let d = directive(Scenario::Long, "t1", true);
        assert_eq!(d.params.chunks, QUICK_LONG_CHUNKS);
        let text = d.render();
        assert!(
            text.contains("tag=t1") && text.contains("gap_ms=1"),
            "{text}"
        );
    }
}
