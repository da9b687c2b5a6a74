//! A scenario run's parameters with their defaults, and the `[[scenario:NAME key=value ...]]`
//! directive that carries them in a message. A directive that cannot be understood is refused
//! with the reason, never ignored; [`Directive::render`] writes one for clients that build it.

use std::str::FromStr;

use thiserror::Error;

use super::{CATALOGUE, Scenario};

/// Realistic time to first chunk of a hosted model.
pub const DEFAULT_TTFT_MS: u64 = 200;
/// Realistic gap between two streamed chunks.
pub const DEFAULT_GAP_MS: u64 = 20;
/// Realistic length of a short answer, in chunks.
pub const DEFAULT_CHUNKS: u32 = 20;
/// The most chunks a directive may ask for. The mock builds a whole answer before its first
/// chunk (one string per chunk, one timeline record reserved per chunk), so an absurd count
/// such as `chunks=4000000000` would exhaust its memory instead of being refused; a million
/// chunks is over five hours at the default gap, beyond any run the harness makes.
pub const MAX_CHUNKS: u32 = 1_000_000;
/// Long enough to trip any sane idle timeout a test configures, short enough to end by itself.
pub const DEFAULT_STALL_MS: u64 = 5_000;
/// The `Retry-After` the mock sends with a 429, in seconds.
pub const DEFAULT_RETRY_AFTER_S: u64 = 1;
/// Every `key` a directive accepts, in the order [`Directive::render`] writes them.
pub const PARAMETER_KEYS: &[&str] = &[
    "ttft_ms",
    "gap_ms",
    "chunks",
    "stall_ms",
    "retry_after_s",
    "fail_times",
    "fail_at",
    "tag",
];

/// The parameters of one scenario run; every field has a catalogue default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioParams {
    pub ttft_ms: u64,
    pub gap_ms: u64,
    pub chunks: u32,
    pub stall_ms: u64,
    pub retry_after_s: u64,
    /// How many attempts of `http-429` fail before one succeeds; `None` means all of them.
    pub fail_times: Option<u32>,
    /// After how many good chunks a fault scenario misbehaves; `None` means half of `chunks`.
    pub fail_at: Option<u32>,
    /// A caller-chosen tag that keeps attempts of different runs apart (`http-429` counts
    /// attempts per tag) and lets the timeline be filtered.
    pub tag: Option<String>,
}

impl ScenarioParams {
    pub fn defaults_for(scenario: Scenario) -> Self {
        Self {
            ttft_ms: DEFAULT_TTFT_MS,
            gap_ms: DEFAULT_GAP_MS,
            chunks: scenario.default_chunks(),
            stall_ms: DEFAULT_STALL_MS,
            retry_after_s: DEFAULT_RETRY_AFTER_S,
            fail_times: None,
            fail_at: None,
            tag: None,
        }
    }

    /// The chunk index at which a fault scenario misbehaves.
    pub fn fail_index(&self) -> u32 {
        self.fail_at.unwrap_or(self.chunks / 2)
    }
}

/// A parsed `[[scenario:NAME key=value ...]]` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub scenario: Scenario,
    pub params: ScenarioParams,
}

impl Directive {
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            params: ScenarioParams::defaults_for(scenario),
        }
    }

    /// Finds the directive in a message's text. Text without a directive plays `text` with
    /// default parameters; a malformed directive is an error, never silently ignored.
    pub fn find_in(text: &str) -> Result<Self, DirectiveError> {
        let Some(start) = text.rfind(OPEN) else {
            return Ok(Self::new(Scenario::Text));
        };
        let body = &text[start + OPEN.len()..];
        let end = body.find(CLOSE).ok_or(DirectiveError::Unterminated)?;
        body[..end].parse()
    }

    /// Renders the directive back into text a client can put in a message.
    pub fn render(&self) -> String {
        let p = &self.params;
        let d = ScenarioParams::defaults_for(self.scenario);
        let mut out = format!("{OPEN}{}", self.scenario.name());
        let mut kv = |k: &str, v: String| {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            out.push_str(&v);
        };
        if p.ttft_ms != d.ttft_ms {
            kv("ttft_ms", p.ttft_ms.to_string());
        }
        if p.gap_ms != d.gap_ms {
            kv("gap_ms", p.gap_ms.to_string());
        }
        if p.chunks != d.chunks {
            kv("chunks", p.chunks.to_string());
        }
        if p.stall_ms != d.stall_ms {
            kv("stall_ms", p.stall_ms.to_string());
        }
        if p.retry_after_s != d.retry_after_s {
            kv("retry_after_s", p.retry_after_s.to_string());
        }
        if let Some(n) = p.fail_times {
            kv("fail_times", n.to_string());
        }
        if let Some(n) = p.fail_at {
            kv("fail_at", n.to_string());
        }
        if let Some(tag) = &p.tag {
            kv("tag", tag.clone());
        }
        out.push_str(CLOSE);
        out
    }
}

const OPEN: &str = "[[scenario:";
const CLOSE: &str = "]]";

impl FromStr for Directive {
    type Err = DirectiveError;

    /// Parses the inside of a directive: `NAME key=value ...`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut words = s.split_whitespace();
        let name = words.next().ok_or(DirectiveError::MissingName)?;
        let mut directive = Self::new(name.parse()?);
        let p = &mut directive.params;
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| DirectiveError::NotKeyValue(word.to_owned()))?;
            match key {
                "ttft_ms" => p.ttft_ms = number(key, value)?,
                "gap_ms" => p.gap_ms = number(key, value)?,
                "chunks" => p.chunks = number(key, value)?,
                "stall_ms" => p.stall_ms = number(key, value)?,
                "retry_after_s" => p.retry_after_s = number(key, value)?,
                "fail_times" => p.fail_times = Some(number(key, value)?),
                "fail_at" => p.fail_at = Some(number(key, value)?),
                "tag" => p.tag = Some(value.to_owned()),
                _ => return Err(DirectiveError::UnknownParameter(key.to_owned())),
            }
        }
        let chunks = directive.params.chunks;
        if chunks == 0 || chunks > MAX_CHUNKS {
            return Err(DirectiveError::InvalidValue {
                key: "chunks".into(),
                value: chunks.to_string(),
                reason: format!("a stream has between 1 and {MAX_CHUNKS} chunks"),
            });
        }
        Ok(directive)
    }
}

fn number<T: FromStr<Err = std::num::ParseIntError>>(
    key: &str,
    value: &str,
) -> Result<T, DirectiveError> {
    value
        .parse()
        .map_err(|e: std::num::ParseIntError| DirectiveError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

/// Why a directive could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DirectiveError {
    #[error("unknown scenario `{0}`; known scenarios: {known}", known = known_names())]
    UnknownScenario(String),
    #[error("unknown scenario parameter `{0}`; known: {known}", known = PARAMETER_KEYS.join(", "))]
    UnknownParameter(String),
    #[error("scenario parameter `{key}={value}` is invalid: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("`{0}` is not a key=value pair")]
    NotKeyValue(String),
    #[error("the directive names no scenario; write [[scenario:NAME]]")]
    MissingName,
    #[error("the directive is not closed with `]]`")]
    Unterminated,
}

fn known_names() -> String {
    CATALOGUE
        .iter()
        .map(|i| i.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_directive_means_plain_text_with_defaults() {
        let d = Directive::find_in("hello there").unwrap();
        assert_eq!(d, Directive::new(Scenario::Text));
        assert_eq!(d.params.ttft_ms, 200);
        assert_eq!(d.params.gap_ms, 20);
        assert_eq!(d.params.chunks, 20);
    }

    #[test]
    fn parameters_override_defaults() {
        let d = Directive::find_in("please [[scenario:long ttft_ms=0 gap_ms=1 tag=run-7]] now")
            .unwrap();
        assert_eq!(d.scenario, Scenario::Long);
        assert_eq!(d.params.chunks, 1000);
        assert_eq!(d.params.ttft_ms, 0);
        assert_eq!(d.params.gap_ms, 1);
        assert_eq!(d.params.tag.as_deref(), Some("run-7"));
    }

    #[test]
    fn render_round_trips() {
        let d = Directive::find_in("[[scenario:stall fail_at=3 stall_ms=100 chunks=9]]").unwrap();
        assert_eq!(Directive::find_in(&d.render()).unwrap(), d);
        assert_eq!(Directive::new(Scenario::Text).render(), "[[scenario:text]]");
    }

    #[test]
    fn malformed_directives_are_errors_that_say_what_is_wrong() {
        let unknown = Directive::find_in("[[scenario:nope]]").unwrap_err();
        assert!(unknown.to_string().contains("tool-chain"), "{unknown}");
        assert_eq!(
            Directive::find_in("[[scenario:text color=red]]"),
            Err(DirectiveError::UnknownParameter("color".into()))
        );
        assert!(matches!(
            Directive::find_in("[[scenario:text chunks=-1]]"),
            Err(DirectiveError::InvalidValue { .. })
        ));
        assert!(matches!(
            Directive::find_in("[[scenario:text chunks=0]]"),
            Err(DirectiveError::InvalidValue { .. })
        ));
        let too_many = format!("[[scenario:text chunks={}]]", MAX_CHUNKS + 1);
        assert!(matches!(
            Directive::find_in(&too_many),
            Err(DirectiveError::InvalidValue { .. })
        ));
        let most = format!("[[scenario:long chunks={MAX_CHUNKS}]]");
        assert_eq!(
            Directive::find_in(&most).map(|d| d.params.chunks),
            Ok(MAX_CHUNKS)
        );
        assert_eq!(
            Directive::find_in("[[scenario:text"),
            Err(DirectiveError::Unterminated)
        );
        assert_eq!(
            Directive::find_in("[[scenario:]]"),
            Err(DirectiveError::MissingName)
        );
        assert_eq!(
            Directive::find_in("[[scenario:text gap]]"),
            Err(DirectiveError::NotKeyValue("gap".into()))
        );
    }

    #[test]
    fn parameter_keys_are_the_ones_parsed_and_rendered_in_order() {
        let every = PARAMETER_KEYS
            .iter()
            .map(|key| format!("{key}=7"))
            .collect::<Vec<_>>()
            .join(" ");
        let directive = Directive::find_in(&format!("[[scenario:text {every}]]")).unwrap();
        let rendered = directive.render();
        let keys: Vec<&str> = rendered
            .trim_end_matches("]]")
            .split_whitespace()
            .skip(1)
            .filter_map(|word| word.split_once('=').map(|(key, _)| key))
            .collect();
        assert_eq!(keys, PARAMETER_KEYS);
    }

    #[test]
    fn the_last_directive_wins() {
        let d = Directive::find_in("[[scenario:text]] then [[scenario:unicode]]").unwrap();
        assert_eq!(d.scenario, Scenario::Unicode);
    }
}
