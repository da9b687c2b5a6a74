//! The scenario catalogue and the `[[scenario:NAME key=value ...]]` directive.
//!
//! Message text is the one thing every architecture passes to the provider unchanged, so the
//! client picks the mock provider's behaviour by writing a directive into the last user message.
//! The catalogue says what each scenario promises; the conformance suite checks those promises.
//!
//! Layout: this file holds the catalogue ([`Scenario`], [`CATALOGUE`], what each promises);
//! `directive` holds a run's parameters and their defaults ([`ScenarioParams`]) and the
//! directive's parsing and rendering ([`Directive`], [`DirectiveError`]); `published` is the
//! catalogue as clients read it ([`PublishedCatalogue`], the chat page's scenario picker); both
//! are re-exported here.

use std::fmt;
use std::str::FromStr;

mod directive;
mod published;

pub use directive::{
    DEFAULT_CHUNKS, DEFAULT_GAP_MS, DEFAULT_RETRY_AFTER_S, DEFAULT_STALL_MS, DEFAULT_TTFT_MS,
    Directive, DirectiveError, MAX_CHUNKS, PARAMETER_KEYS, ScenarioParams,
};
pub use published::{PublishedCatalogue, PublishedScenario};

/// A spec id that exists in `fixtures/specs` (and in every generated corpus): the tool
/// scenarios ask for it so their results are predictable.
pub const KNOWN_SPEC_ID: &str = "001-chat-sidecar-architecture";
/// A spec id that exists in no corpus: `tool-error` asks for it.
pub const MISSING_SPEC_ID: &str = "999-no-such-spec";
/// The arguments `tool-bad-args` calls get_spec with: JSON cut off mid-string, as a model's
/// truncated or garbled call arrives, so every backend refuses the call before the tool runs.
pub const BAD_TOOL_ARGUMENTS: &str = r#"{"id": "001-chat"#;
/// The query `tool-parallel` searches for; the fixture corpus has several matches.
pub const PARALLEL_SEARCH_QUERY: &str = "streaming";

/// Every scenario the mock provider can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    Text,
    ToolSingle,
    ToolParallel,
    ToolChain,
    ToolError,
    ToolBadArgs,
    Long,
    Unicode,
    Http429,
    Http500,
    MalformedChunk,
    Truncated,
    Stall,
    CrashTool,
    PanicTool,
}

/// What a client should see at the end of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The answer completes with `finish` and the promised content.
    Completes,
    /// The stream ends with an `error` chunk and `[DONE]` (or the backend fails as documented).
    EndsInError,
    /// The scenario injects a fault into the backend itself (`__crash`, `__panic`); what it does
    /// depends on the architecture and is measured, not asserted, by the crash study.
    BackendFault,
}

impl Expected {
    /// The name clients read (`completes`, `ends-in-error`, `backend-fault`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completes => "completes",
            Self::EndsInError => "ends-in-error",
            Self::BackendFault => "backend-fault",
        }
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioInfo {
    pub scenario: Scenario,
    pub name: &'static str,
    pub expected: Expected,
    /// Number of provider calls (steps) a complete answer takes.
    pub steps: u32,
    /// What the scenario promises, in words; shown in reports next to its outcome.
    pub promise: &'static str,
}

/// The catalogue, in the order reports list it.
pub const CATALOGUE: &[ScenarioInfo] = &[
    info(
        Scenario::Text,
        "text",
        Expected::Completes,
        1,
        "`chunks` text chunks, each one text-delta, finish reason stop",
    ),
    info(
        Scenario::ToolSingle,
        "tool-single",
        Expected::Completes,
        2,
        "one get_spec call; the second step quotes the spec's title from the tool result",
    ),
    info(
        Scenario::ToolParallel,
        "tool-parallel",
        Expected::Completes,
        2,
        "get_spec and search_specs in one step, argument fragments interleaved; the answer quotes both results",
    ),
    info(
        Scenario::ToolChain,
        "tool-chain",
        Expected::Completes,
        3,
        "list_specs, then get_spec on an id taken from that result, then an answer quoting its title",
    ),
    info(
        Scenario::ToolError,
        "tool-error",
        Expected::Completes,
        2,
        "get_spec on a missing id: tool-output-error, and the next step quotes the error text",
    ),
    info(
        Scenario::ToolBadArgs,
        "tool-bad-args",
        Expected::Completes,
        2,
        "get_spec with arguments that are not JSON: the call is refused before the tool runs \
         (output-error), and the next step quotes the first line of what the model was told",
    ),
    info(
        Scenario::Long,
        "long",
        Expected::Completes,
        1,
        "1000 text chunks (unless `chunks` says otherwise), none lost or merged",
    ),
    info(
        Scenario::Unicode,
        "unicode",
        Expected::Completes,
        1,
        "CJK, emoji with modifiers and combining marks arrive byte-exact",
    ),
    info(
        Scenario::Http429,
        "http-429",
        Expected::EndsInError,
        1,
        "HTTP 429 with Retry-After for `fail_times` attempts (all by default), then a normal answer",
    ),
    info(
        Scenario::Http500,
        "http-500",
        Expected::EndsInError,
        1,
        "HTTP 500 with an OpenAI-style error body",
    ),
    info(
        Scenario::MalformedChunk,
        "malformed-chunk",
        Expected::EndsInError,
        1,
        "a chunk that is not JSON after `fail_at` good chunks",
    ),
    info(
        Scenario::Truncated,
        "truncated",
        Expected::EndsInError,
        1,
        "the connection closes after `fail_at` chunks, without [DONE]",
    ),
    info(
        Scenario::Stall,
        "stall",
        Expected::EndsInError,
        1,
        "after `fail_at` chunks nothing is sent for `stall_ms`, then the stream resumes",
    ),
    info(
        Scenario::CrashTool,
        "crash-tool",
        Expected::BackendFault,
        2,
        "asks for the fault-injection tool __crash (the JS runtime dies); a backend that survives answers \
         in a second step quoting the result",
    ),
    info(
        Scenario::PanicTool,
        "panic-tool",
        Expected::BackendFault,
        2,
        "asks for the fault-injection tool __panic (a Rust panic inside the tool); a backend that survives answers \
         in a second step quoting the result",
    ),
];

const fn info(
    scenario: Scenario,
    name: &'static str,
    expected: Expected,
    steps: u32,
    promise: &'static str,
) -> ScenarioInfo {
    ScenarioInfo {
        scenario,
        name,
        expected,
        steps,
        promise,
    }
}

impl Scenario {
    /// Every scenario, in catalogue order.
    pub fn all() -> impl Iterator<Item = Scenario> {
        CATALOGUE.iter().map(|i| i.scenario)
    }

    pub fn info(self) -> &'static ScenarioInfo {
        // CATALOGUE lists every variant; the position is found, never assumed.
        CATALOGUE
            .iter()
            .find(|i| i.scenario == self)
            .unwrap_or(&CATALOGUE[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Scenarios a correct backend completes normally (the ones parity is asserted on).
    pub fn is_fault(self) -> bool {
        self.info().expected != Expected::Completes
    }

    /// The default chunk count: `long` is long, everything else is the realistic 20.
    pub fn default_chunks(self) -> u32 {
        match self {
            Self::Long => 1000,
            _ => DEFAULT_CHUNKS,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = DirectiveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CATALOGUE
            .iter()
            .find(|i| i.name == s)
            .map(|i| i.scenario)
            .ok_or_else(|| DirectiveError::UnknownScenario(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_scenario() {
        for s in Scenario::all() {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
            assert_eq!(s.info().scenario, s);
        }
        assert_eq!(CATALOGUE.len(), 15);
    }
}
