//! The chunks of the AI SDK v6 "UI message stream" (`ai/src/ui-message-stream/ui-message-chunks.ts`).
//!
//! Every backend must emit these exactly as `streamText(...).toUIMessageStream()` does, so the
//! field names follow the TypeScript schema (camelCase) and optional fields are omitted, not
//! `null`. Unknown fields are ignored on input, as the SDK's `looseObject` schemas do.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a step or a message ended, as the AI SDK names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
    Error,
    Other,
}

impl FinishReason {
    /// Maps an OpenAI `finish_reason` onto the AI SDK's name for it, the way
    /// `@ai-sdk/openai`'s `mapOpenAIFinishReason` does.
    pub fn from_openai(reason: Option<&str>) -> Self {
        match reason {
            Some("stop") => Self::Stop,
            Some("length") => Self::Length,
            Some("content_filter") => Self::ContentFilter,
            Some("function_call" | "tool_calls") => Self::ToolCalls,
            _ => Self::Other,
        }
    }
}

/// One chunk of the UI message stream. Serialises to the exact JSON the AI SDK emits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum UiChunk {
    #[serde(rename_all = "camelCase")]
    Start {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_metadata: Option<Value>,
    },
    StartStep,
    #[serde(rename_all = "camelCase")]
    TextStart {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    TextDelta {
        id: String,
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    TextEnd {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    ReasoningStart {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    ReasoningDelta {
        id: String,
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    ReasoningEnd {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        error_text: String,
    },
    #[serde(rename_all = "camelCase")]
    ToolInputStart {
        tool_call_id: String,
        tool_name: String,
        #[serde(flatten)]
        extra: ToolChunkExtra,
    },
    #[serde(rename_all = "camelCase")]
    ToolInputDelta {
        tool_call_id: String,
        input_text_delta: String,
    },
    #[serde(rename_all = "camelCase")]
    ToolInputAvailable {
        tool_call_id: String,
        tool_name: String,
        input: Value,
        #[serde(flatten)]
        extra: ToolChunkExtra,
    },
    #[serde(rename_all = "camelCase")]
    ToolInputError {
        tool_call_id: String,
        tool_name: String,
        input: Value,
        error_text: String,
        #[serde(flatten)]
        extra: ToolChunkExtra,
    },
    #[serde(rename_all = "camelCase")]
    ToolApprovalRequest {
        approval_id: String,
        tool_call_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval_descriptor: Option<Value>,
        /// The input as the tool's schema saw it, when that differs from the model's input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_schema_input: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    ToolOutputAvailable {
        tool_call_id: String,
        output: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preliminary: Option<bool>,
        #[serde(flatten)]
        extra: ToolChunkExtra,
    },
    #[serde(rename_all = "camelCase")]
    ToolOutputError {
        tool_call_id: String,
        error_text: String,
        #[serde(flatten)]
        extra: ToolChunkExtra,
    },
    #[serde(rename_all = "camelCase")]
    ToolOutputDenied {
        tool_call_id: String,
    },
    #[serde(rename_all = "camelCase")]
    SourceUrl {
        source_id: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    SourceDocument {
        source_id: String,
        media_type: String,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    #[serde(rename_all = "camelCase")]
    File {
        url: String,
        media_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_metadata: Option<Value>,
    },
    FinishStep,
    #[serde(rename_all = "camelCase")]
    Finish {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finish_reason: Option<FinishReason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_metadata: Option<Value>,
    },
    Abort {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    MessageMetadata {
        message_metadata: Value,
    },
    /// `data-<name>` chunks: custom data parts. Kept as raw JSON because their payload is
    /// application-defined; the `type` field is inside `raw`.
    #[serde(untagged)]
    Data(Value),
}

/// Optional fields every tool chunk may carry. Omitted when absent, as the AI SDK does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolChunkExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_executed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_metadata: Option<Value>,
    /// The tool definition's own `metadata` (for example where it comes from), never sent to
    /// the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `"json"` (the default when absent) or `"text"`: how the input deltas concatenate. Only
    /// `tool-input-start` carries it; it lives here so that chunk keeps its shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_encoding: Option<String>,
}

impl UiChunk {
    /// The chunk's `type` field, as it appears on the wire.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Start { .. } => "start",
            Self::StartStep => "start-step",
            Self::TextStart { .. } => "text-start",
            Self::TextDelta { .. } => "text-delta",
            Self::TextEnd { .. } => "text-end",
            Self::ReasoningStart { .. } => "reasoning-start",
            Self::ReasoningDelta { .. } => "reasoning-delta",
            Self::ReasoningEnd { .. } => "reasoning-end",
            Self::Error { .. } => "error",
            Self::ToolInputStart { .. } => "tool-input-start",
            Self::ToolInputDelta { .. } => "tool-input-delta",
            Self::ToolInputAvailable { .. } => "tool-input-available",
            Self::ToolInputError { .. } => "tool-input-error",
            Self::ToolApprovalRequest { .. } => "tool-approval-request",
            Self::ToolOutputAvailable { .. } => "tool-output-available",
            Self::ToolOutputError { .. } => "tool-output-error",
            Self::ToolOutputDenied { .. } => "tool-output-denied",
            Self::SourceUrl { .. } => "source-url",
            Self::SourceDocument { .. } => "source-document",
            Self::File { .. } => "file",
            Self::FinishStep => "finish-step",
            Self::Finish { .. } => "finish",
            Self::Abort { .. } => "abort",
            Self::MessageMetadata { .. } => "message-metadata",
            Self::Data(raw) => raw.get("type").and_then(Value::as_str).unwrap_or("data-"),
        }
    }

    /// Parses one chunk; a `data-*` chunk is accepted only with a string `type` that starts
    /// with `data-`, as the SDK's schema demands.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let chunk: Self = serde_json::from_str(json)?;
        if let Self::Data(raw) = &chunk {
            let is_data = raw
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("data-"));
            if !is_data {
                return Err(serde::de::Error::custom(format!(
                    "unknown UI message chunk type {}",
                    raw.get("type").unwrap_or(&Value::Null)
                )));
            }
        }
        Ok(chunk)
    }

    /// Serialises the chunk to its wire JSON.
    pub fn to_json(&self) -> String {
        // A map with string keys and JSON values cannot fail to serialise.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// A text delta; the constructor keeps call sites short on the hot path.
    pub fn text_delta(id: impl Into<String>, delta: impl Into<String>) -> Self {
        Self::TextDelta {
            id: id.into(),
            delta: delta.into(),
            provider_metadata: None,
        }
    }

    /// An `error` chunk, the AI SDK's way to end a failed stream.
    pub fn error(error_text: impl Into<String>) -> Self {
        Self::Error {
            error_text: error_text.into(),
        }
    }
}
