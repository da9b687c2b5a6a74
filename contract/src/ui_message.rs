//! The request body `useChat`'s default transport sends, and the `UIMessage` it carries
//! (`ai/src/ui/ui-messages.ts`).
//!
//! Tool parts are typed `tool-<name>` on the wire (or `dynamic-tool` with a `toolName`), which
//! serde's derive cannot express, so [`UiPart`] goes through a small wire struct.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// `POST /api/chat` body, as `DefaultChatTransport` sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRequest {
    pub id: String,
    pub messages: Vec<UiMessage>,
    #[serde(default = "default_trigger")]
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

fn default_trigger() -> Trigger {
    Trigger::SubmitMessage
}

/// Why the client sent the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    SubmitMessage,
    RegenerateMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of the conversation, as the client keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiMessage {
    pub id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    pub parts: Vec<UiPart>,
}

impl UiMessage {
    /// The concatenated text of the message's text parts.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                UiPart::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The message's tool parts, in order.
    pub fn tool_parts(&self) -> impl Iterator<Item = &ToolPart> {
        self.parts.iter().filter_map(|p| match p {
            UiPart::Tool(t) => Some(&**t),
            _ => None,
        })
    }
}

impl UiPart {
    /// A plain text part, as a user message carries it.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            state: None,
            provider_metadata: None,
        }
    }
}

/// Whether a text or reasoning part is still receiving deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartState {
    Streaming,
    Done,
}

/// The life cycle of a tool invocation inside a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolState {
    InputStreaming,
    InputAvailable,
    ApprovalRequested,
    ApprovalResponded,
    OutputAvailable,
    OutputError,
    OutputDenied,
}

/// One part of a [`UiMessage`].
#[derive(Debug, Clone, PartialEq)]
pub enum UiPart {
    Text {
        text: String,
        state: Option<PartState>,
        /// Provider data tied to the text (for example OpenAI's item id); relayed unchanged.
        provider_metadata: Option<Value>,
    },
    Reasoning {
        /// The provider's id of the reasoning block, where it has one.
        id: Option<String>,
        text: String,
        state: Option<PartState>,
        provider_metadata: Option<Value>,
    },
    /// Marks the boundary between two steps of a multi-step answer.
    StepStart,
    Tool(Box<ToolPart>),
    /// Sources, files and `data-*` parts: carried through unchanged, never interpreted.
    Other(Value),
}

/// A tool invocation: `tool-<name>` (static) or `dynamic-tool`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolPart {
    #[serde(skip)]
    pub tool_name: String,
    #[serde(skip)]
    pub dynamic: bool,
    pub tool_call_id: String,
    pub state: ToolState,
    /// `Some(Value::Null)` when the wire has `null`, `None` when the field is absent.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input: Option<Value>,
    /// A tool that returns nothing has `"output": null` (the SDK writes `null` on purpose so the
    /// field survives JSON), which stays `Some(Value::Null)`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_executed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preliminary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_provider_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
    /// The tool definition's own `metadata`, copied from the stream's tool chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_metadata: Option<Value>,
    /// `"json"` or `"text"`, while the input is still streaming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_provider_metadata: Option<Value>,
}

/// Keeps an explicit `null` as `Some(Value::Null)`; serde calls it only for a present field.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// The wire form of text and reasoning parts (`id` exists on reasoning parts only).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TextWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<PartState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_metadata: Option<Value>,
}

const TOOL_PREFIX: &str = "tool-";
const DYNAMIC_TOOL: &str = "dynamic-tool";

impl Serialize for UiPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, body) = match self {
            Self::Text {
                text,
                state,
                provider_metadata,
            } => (
                "text".to_owned(),
                to_map(&TextWire {
                    id: None,
                    text: text.clone(),
                    state: *state,
                    provider_metadata: provider_metadata.clone(),
                }),
            ),
            Self::Reasoning {
                id,
                text,
                state,
                provider_metadata,
            } => (
                "reasoning".to_owned(),
                to_map(&TextWire {
                    id: id.clone(),
                    text: text.clone(),
                    state: *state,
                    provider_metadata: provider_metadata.clone(),
                }),
            ),
            Self::StepStart => ("step-start".to_owned(), Map::new()),
            Self::Tool(tool) => {
                let mut body = to_map(tool);
                if tool.dynamic {
                    body.insert("toolName".into(), Value::String(tool.tool_name.clone()));
                    (DYNAMIC_TOOL.to_owned(), body)
                } else {
                    (format!("{TOOL_PREFIX}{}", tool.tool_name), body)
                }
            }
            Self::Other(raw) => return raw.serialize(serializer),
        };
        let mut map = Map::with_capacity(body.len() + 1);
        map.insert("type".into(), Value::String(kind));
        map.extend(body);
        map.serialize(serializer)
    }
}

fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

impl<'de> Deserialize<'de> for UiPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = Value::deserialize(deserializer)?;
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| D::Error::custom("message part without a string `type`"))?
            .to_owned();
        let from = |v: Value| -> Result<TextWire, D::Error> {
            serde_json::from_value(v).map_err(D::Error::custom)
        };
        Ok(match kind.as_str() {
            "text" => {
                let w = from(raw)?;
                Self::Text {
                    text: w.text,
                    state: w.state,
                    provider_metadata: w.provider_metadata,
                }
            }
            "reasoning" => {
                let w = from(raw)?;
                Self::Reasoning {
                    id: w.id,
                    text: w.text,
                    state: w.state,
                    provider_metadata: w.provider_metadata,
                }
            }
            "step-start" => Self::StepStart,
            DYNAMIC_TOOL => {
                let name = raw
                    .get("toolName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| D::Error::custom("dynamic-tool part without `toolName`"))?
                    .to_owned();
                let mut tool: ToolPart = serde_json::from_value(raw).map_err(D::Error::custom)?;
                tool.tool_name = name;
                tool.dynamic = true;
                Self::Tool(Box::new(tool))
            }
            k if k.starts_with(TOOL_PREFIX) => {
                let name = k[TOOL_PREFIX.len()..].to_owned();
                let mut tool: ToolPart = serde_json::from_value(raw).map_err(D::Error::custom)?;
                tool.tool_name = name;
                Self::Tool(Box::new(tool))
            }
            _ => Self::Other(raw),
        })
    }
}
