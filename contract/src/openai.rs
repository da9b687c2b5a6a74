//! OpenAI Chat Completions types, reused from async-openai so the mock provider emits exactly
//! what the strict client in the rust-only backend accepts.

pub use async_openai::types::chat::{
    ChatChoice, ChatChoiceStream, ChatCompletionMessageToolCall,
    ChatCompletionMessageToolCallChunk, ChatCompletionMessageToolCalls,
    ChatCompletionResponseMessage, ChatCompletionStreamResponseDelta, CompletionUsage,
    CreateChatCompletionResponse, CreateChatCompletionStreamResponse, FinishReason, FunctionCall,
    FunctionCallStream, FunctionType, Role,
};

/// `object` of every stream chunk.
pub const CHUNK_OBJECT: &str = "chat.completion.chunk";
/// `object` of a non-streamed completion.
pub const COMPLETION_OBJECT: &str = "chat.completion";
