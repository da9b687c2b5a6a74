//! `reports/schema.json`: the JSON Schema of results.json, generated from
//! `contract::results` so the two cannot drift (a test compares the file with the types).

use std::path::Path;

use anyhow::{Context, Result};
use contract::results::Results;

/// Where the schema lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "reports/schema.json";

/// The schema as the types define it, pretty-printed with a final newline.
pub fn generate() -> String {
    let schema = schemars::schema_for!(Results);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes [`generate`]'s output to `reports/schema.json` under `root`.
pub fn write(root: &Path) -> Result<()> {
    let path = root.join(SCHEMA_PATH);
    std::fs::write(&path, generate()).with_context(|| format!("cannot write {}", path.display()))
}
