//! What the tool loop needs from the tools: their definitions and a way to run one.
//!
//! `leanspec_core::Toolbox` is the implementation the server uses; the trait keeps the loop
//! testable with scripted tools and free of the server shell.

use std::future::Future;

use contract::tools::{ToolDefinition, ToolOutcome};
use serde_json::Value;

pub trait ToolRunner: Clone + Send + Sync + 'static {
    fn definitions(&self) -> Vec<ToolDefinition>;
    fn execute(&self, name: &str, input: Value) -> impl Future<Output = ToolOutcome> + Send;
}
