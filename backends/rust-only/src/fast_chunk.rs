//! The provider's plain text chunk, read without building async-openai's owned types.
//!
//! Nearly every chunk of an answer is `{"id":..,"choices":[{"index":0,"delta":{"content":".."}}],
//! ..}` with every other field null. Deserialising it into
//! `CreateChatCompletionStreamResponse` costs about 10 µs per chunk at the bench's pace (five
//! owned strings, a vector, the field matching of a dozen optional fields:
//! docs/rust-hop.md#stage-timestamps). [`plain_text`] reads that one shape into a borrowed
//! string and nothing else, and says `None` for anything else, which then goes through the
//! full types as before.
//!
//! Why it cannot change behaviour: the shape it accepts is a strict subset of what the full
//! types accept, with the same required fields and the same types (`created` and `index` as
//! `u32`, strings as strings), no unknown field (`deny_unknown_fields`), exactly one choice, and
//! every field that could mean anything besides text (role, refusal, tool calls, the finish
//! reason, usage, ...) absent or `null`. For such a chunk the full path would do exactly what
//! [`crate::step::Step::on_text`] does; a test checks both on the same bytes.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The content of `data` when it is a plain text chunk; `None` when it is anything else
/// (including malformed JSON: the full types then give the error they always gave).
pub fn plain_text(data: &str) -> Option<Cow<'_, str>> {
    let chunk: PlainChunk<'_> = serde_json::from_str(data).ok()?;
    let [choice] = chunk.choices;
    Some(choice.delta.content)
}

/// The data of `read` when it is exactly one SSE frame `data: <data>\n\n` with no other line
/// in it; `None` for anything else (several frames, a split frame, other fields, comments, CR
/// line ends, `data:` without its space, bytes that are not UTF-8), which the SSE decoder then
/// reads as before.
///
/// Reading such a read without the decoder gives the event the decoder would give, and leaves
/// the decoder where it would be, provided the decoder was at a frame boundary: past the
/// stream's first line (where it strips a byte order mark), with nothing buffered and no field
/// pending. A read that ended in a blank line (`\n\n`) leaves it exactly there, which is what
/// the caller checks (`provider::chunks_on_demand`).
pub fn lone_data_frame(read: &[u8]) -> Option<&str> {
    let data = read.strip_prefix(b"data: ")?.strip_suffix(b"\n\n")?;
    if data.iter().any(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    std::str::from_utf8(data).ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainChunk<'a> {
    #[serde(borrow)]
    choices: [PlainChoice<'a>; 1],
    #[serde(rename = "id")]
    _id: AnyString,
    #[serde(rename = "created")]
    _created: u32,
    #[serde(rename = "model")]
    _model: AnyString,
    #[serde(rename = "object")]
    _object: AnyString,
    #[serde(rename = "system_fingerprint")]
    _system_fingerprint: Option<AnyString>,
    #[serde(rename = "obfuscation")]
    _obfuscation: Option<AnyString>,
    #[serde(rename = "service_tier")]
    _service_tier: Option<NullOnly>,
    #[serde(rename = "usage")]
    _usage: Option<NullOnly>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainChoice<'a> {
    #[serde(borrow)]
    delta: PlainDelta<'a>,
    #[serde(rename = "index")]
    _index: u32,
    #[serde(rename = "finish_reason")]
    _finish_reason: Option<NullOnly>,
    #[serde(rename = "logprobs")]
    _logprobs: Option<NullOnly>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainDelta<'a> {
    /// Required here (optional in the full types): a delta without text is not this shape.
    #[serde(borrow)]
    content: Cow<'a, str>,
    #[serde(rename = "role")]
    _role: Option<NullOnly>,
    #[serde(rename = "refusal")]
    _refusal: Option<NullOnly>,
    #[serde(rename = "tool_calls")]
    _tool_calls: Option<NullOnly>,
    #[serde(rename = "function_call")]
    _function_call: Option<NullOnly>,
    #[serde(rename = "audio")]
    _audio: Option<NullOnly>,
}

/// Only `null` (through `Option`) or an absent field: any value fails, so the chunk is not
/// the plain shape.
struct NullOnly;

impl<'de> Deserialize<'de> for NullOnly {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(de::Error::custom(
            "a value where the plain text chunk has null",
        ))
    }
}

/// Any JSON string, escaped or not, kept nowhere: where the full types hold a `String`.
struct AnyString;

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Strings;
        impl Visitor<'_> for Strings {
            type Value = AnyString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyString, E> {
                Ok(AnyString)
            }
        }
        deserializer.deserialize_str(Strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_openai::types::chat::CreateChatCompletionStreamResponse;

    /// The mock's second and later text chunks, byte for byte.
    const PLAIN: &str = r#"{"id":"chatcmpl-mock-1","choices":[{"index":0,"delta":{"content":"bravo1 ","function_call":null,"tool_calls":null,"role":null,"refusal":null}}],"created":1796630722,"model":"m","service_tier":null,"system_fingerprint":null,"object":"chat.completion.chunk","usage":null}"#;

    fn full(data: &str) -> Option<CreateChatCompletionStreamResponse> {
        serde_json::from_str(data).ok()
    }

    #[test]
    fn the_plain_shape_is_read_and_agrees_with_the_full_types() {
        let minimal = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"#;
        let escaped = PLAIN.replace("bravo1 ", r#"line\n\"q\" \u00e9"#);
        let empty = PLAIN.replace("bravo1 ", "");
        for (data, text) in [
            (PLAIN, "bravo1 "),
            (minimal, "a"),
            (escaped.as_str(), "line\n\"q\" é"),
            (empty.as_str(), ""),
        ] {
            assert_eq!(plain_text(data).as_deref(), Some(text), "{data}");
            let reference = full(data).expect("the full types accept it");
            assert_eq!(reference.choices.len(), 1);
            let delta = &reference.choices[0].delta;
            assert_eq!(delta.content.as_deref(), Some(text));
            assert!(delta.role.is_none() && delta.refusal.is_none() && delta.tool_calls.is_none());
            assert!(reference.choices[0].finish_reason.is_none() && reference.usage.is_none());
        }
    }

    #[test]
    fn every_other_chunk_goes_to_the_full_types() {
        let others = [
            // The first chunk carries the role; the finish, usage and tool chunks their fields.
            PLAIN.replace(r#""role":null"#, r#""role":"assistant""#),
            PLAIN.replace(r#""refusal":null"#, r#""refusal":"no""#),
            PLAIN.replace(r#""usage":null"#, r#""usage":{"prompt_tokens":1}"#),
            PLAIN.replace(r#""tool_calls":null"#, r#""tool_calls":[]"#),
            PLAIN.replace(r#""refusal":null}"#, r#""refusal":null},"finish_reason":"stop""#),
            PLAIN.replace(r#""content":"bravo1 ","#, ""),
            PLAIN.replace(r#""content":"bravo1 ""#, r#""content":null"#),
            // Two choices, none, an unknown field, a wrong type, a missing required field.
            PLAIN.replace(r#"}}],"#, r#"}},{"index":1,"delta":{"content":"x"}}],"#),
            PLAIN.replace(r#""choices":[{"index":0,"delta":{"content":"bravo1 ","function_call":null,"tool_calls":null,"role":null,"refusal":null}}]"#, r#""choices":[]"#),
            PLAIN.replace(r#""usage":null"#, r#""usage":null,"extra":1"#),
            PLAIN.replace(r#""created":1796630722"#, r#""created":"1796630722""#),
            PLAIN.replace(r#""created":1796630722"#, r#""created":-1"#),
            PLAIN.replace(r#""model":"m","#, ""),
            // Malformed JSON is the full types' error to report.
            PLAIN[..40].to_owned(),
        ];
        for data in &others {
            assert_eq!(plain_text(data), None, "{data}");
        }
    }
}
