//! Lenient reading of a Chat Completions request.
//!
//! The AI SDK and async-openai send different optional fields, content as a string or as an
//! array of parts, tool arguments as a string (or, from some clients, an object). The mock reads
//! only what decides its answer (messages, `stream`, `stream_options.include_usage`, `model`)
//! and ignores everything else; what it cannot read is a 400 that says what is wrong.

use serde_json::Value;

use crate::error::ApiError;

/// What the mock needs from a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: Option<String>,
    pub stream: bool,
    pub include_usage: bool,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    /// The text content; parts that are not text are left out.
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// For `role: tool` messages: the call this is the result of.
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One step of tool use after the last user message: the calls the model made and the result
/// the client sent back for each (`None` when it sent none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRound {
    pub calls: Vec<(ToolCall, Option<String>)>,
}

impl ChatRequest {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid_request(format!(
                "the request body is not valid JSON ({e}); send a Chat Completions request object"
            ))
        })?;
        let Value::Object(obj) = value else {
            return Err(ApiError::invalid_request(
                "the request body must be a JSON object with `model` and `messages`",
            ));
        };
        let messages = match obj.get("messages") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, m)| Message::parse(i, m))
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::Array(_)) => {
                return Err(ApiError::invalid_request(
                    "`messages` is empty; send at least one message",
                ));
            }
            Some(_) => {
                return Err(ApiError::invalid_request("`messages` must be an array"));
            }
            None => {
                return Err(ApiError::invalid_request(
                    "the request has no `messages`; send at least one message",
                ));
            }
        };
        let include_usage = obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Self {
            model: obj.get("model").and_then(Value::as_str).map(str::to_owned),
            stream: obj.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage,
            messages,
        })
    }

    fn last_user_index(&self) -> Option<usize> {
        self.messages.iter().rposition(|m| m.role == "user")
    }

    /// The text of the last user message, where the scenario directive is.
    pub fn last_user_text(&self) -> Option<&str> {
        self.last_user_index()
            .map(|i| self.messages[i].text.as_str())
    }

    /// The tool steps taken since the last user message, oldest first.
    pub fn tool_rounds(&self) -> Vec<ToolRound> {
        let start = self.last_user_index().map_or(0, |i| i + 1);
        let mut rounds: Vec<ToolRound> = Vec::new();
        for message in &self.messages[start..] {
            match message.role.as_str() {
                "assistant" if !message.tool_calls.is_empty() => rounds.push(ToolRound {
                    calls: message
                        .tool_calls
                        .iter()
                        .map(|c| (c.clone(), None))
                        .collect(),
                }),
                "tool" | "function" => {
                    if let Some(round) = rounds.last_mut() {
                        round.attach(message);
                    }
                }
                _ => {}
            }
        }
        rounds
    }

    /// A rough prompt size in tokens (four characters a token, as OpenAI's rule of thumb).
    pub fn prompt_tokens(&self) -> u32 {
        let chars: usize = self
            .messages
            .iter()
            .map(|m| {
                m.text.chars().count()
                    + m.tool_calls
                        .iter()
                        .map(|c| c.name.len() + c.arguments.len())
                        .sum::<usize>()
            })
            .sum();
        u32::try_from(chars.div_ceil(4).max(1)).unwrap_or(u32::MAX)
    }
}

impl ToolRound {
    /// Attaches a tool result to its call: by id, else to the first call still without one.
    fn attach(&mut self, message: &Message) {
        let by_id = message
            .tool_call_id
            .as_deref()
            .and_then(|id| self.calls.iter().position(|(c, _)| c.id == id));
        let index = by_id.or_else(|| self.calls.iter().position(|(_, r)| r.is_none()));
        if let Some(i) = index {
            self.calls[i].1 = Some(message.text.clone());
        }
    }

    /// The result sent back for the first call named `name`.
    pub fn result_of(&self, name: &str) -> Option<&str> {
        self.calls
            .iter()
            .find(|(c, _)| c.name == name)
            .and_then(|(_, r)| r.as_deref())
    }
}

impl Message {
    fn parse(index: usize, value: &Value) -> Result<Self, ApiError> {
        let Value::Object(obj) = value else {
            return Err(ApiError::invalid_request(format!(
                "messages[{index}] must be an object with `role` and `content`"
            )));
        };
        let role = obj.get("role").and_then(Value::as_str).ok_or_else(|| {
            ApiError::invalid_request(format!("messages[{index}] has no string `role`"))
        })?;
        let tool_calls = match obj.get("tool_calls") {
            Some(Value::Array(calls)) => calls.iter().filter_map(ToolCall::parse).collect(),
            _ => Vec::new(),
        };
        let tool_call_id = obj
            .get("tool_call_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            role: role.to_owned(),
            text: obj.get("content").map(content_text).unwrap_or_default(),
            tool_calls,
            tool_call_id,
        })
    }
}

impl ToolCall {
    fn parse(value: &Value) -> Option<Self> {
        let function = value.get("function")?;
        let arguments = match function.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        Some(Self {
            id: value
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            name: function.get("name")?.as_str()?.to_owned(),
            arguments,
        })
    }
}

/// The text of a `content` field: a string, an array of parts (text parts joined), or, from
/// clients that send a tool result as a bare JSON value, that value serialized.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p.get("text").and_then(Value::as_str),
            })
            .collect(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ChatRequest, ApiError> {
        ChatRequest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn reads_string_and_part_contents_and_stream_options() {
        let r = parse(json!({
            "model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "[[scenario:text]]"}]}
            ],
            "temperature": 0.2, "tools": []
        }))
        .unwrap();
        assert!(r.stream && r.include_usage);
        assert_eq!(r.model.as_deref(), Some("m"));
        assert_eq!(r.last_user_text(), Some("hi [[scenario:text]]"));
    }

    #[test]
    fn pairs_tool_results_with_calls_after_the_last_user_message() {
        let r = parse(json!({"messages": [
            {"role": "user", "content": "old"},
            {"role": "assistant", "tool_calls": [{"id": "x", "type": "function", "function": {"name": "get_spec", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "x", "content": "stale"},
            {"role": "user", "content": "[[scenario:tool-parallel]]"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "a", "function": {"name": "get_spec", "arguments": {"id": "1"}}},
                {"id": "b", "function": {"name": "search_specs", "arguments": "{\"query\":\"q\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "found"}]},
            {"role": "tool", "tool_call_id": "unknown", "content": "{\"title\":\"T\"}"}
        ]}))
        .unwrap();
        let rounds = r.tool_rounds();
        assert_eq!(rounds.len(), 1);
        assert_eq!(rounds[0].calls[0].0.arguments, r#"{"id":"1"}"#);
        assert_eq!(rounds[0].result_of("search_specs"), Some("found"));
        assert_eq!(rounds[0].result_of("get_spec"), Some(r#"{"title":"T"}"#));
    }

    #[test]
    fn says_what_is_wrong_with_a_bad_request() {
        for (body, needle) in [
            ("not json", "not valid JSON"),
            ("[1]", "JSON object"),
            ("{}", "no `messages`"),
            (r#"{"messages": []}"#, "empty"),
            (r#"{"messages": "hi"}"#, "must be an array"),
            (
                r#"{"messages": [{"content": "hi"}]}"#,
                "messages[0] has no string `role`",
            ),
            (r#"{"messages": [7]}"#, "messages[0] must be an object"),
        ] {
            let e = ChatRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message().contains(needle), "{body}: {}", e.message());
        }
    }
}
