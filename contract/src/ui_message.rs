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
    },
    Reasoning {
        text: String,
        state: Option<PartState>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
}

#[derive(Serialize, Deserialize)]
struct TextWire {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<PartState>,
}

const TOOL_PREFIX: &str = "tool-";
const DYNAMIC_TOOL: &str = "dynamic-tool";

impl Serialize for UiPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, body) = match self {
            Self::Text { text, state } => (
                "text".to_owned(),
                to_map(&TextWire {
                    text: text.clone(),
                    state: *state,
                }),
            ),
            Self::Reasoning { text, state } => (
                "reasoning".to_owned(),
                to_map(&TextWire {
                    text: text.clone(),
                    state: *state,
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
                }
            }
            "reasoning" => {
                let w = from(raw)?;
                Self::Reasoning {
                    text: w.text,
                    state: w.state,
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
