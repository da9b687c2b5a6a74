//! `reports/schema.json`: the JSON Schema of results.json, generated from
//! `contract::results` so the two cannot drift (a test compares the file with the types). The
//! files a run writes beside results.json have their schemas under `$defs` in the same file
//! (`GateStudy`: gate-study.json; `ProofsStudy`: proofs-study.json), so there is one schema
//! file to keep and to read.

use std::path::Path;

use anyhow::{Context, Result};
use contract::results::{GateStudy, ProofsStudy, Results};

/// Where the schema lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "reports/schema.json";

/// The schema as the types define it, pretty-printed with a final newline.
pub fn generate() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of results.json, with the other files' types under `$defs`.
fn schema() -> schemars::Schema {
    let mut generator = schemars::SchemaGenerator::default();
    generator.subschema_for::<GateStudy>();
    generator.subschema_for::<ProofsStudy>();
    generator.into_root_schema_for::<Results>()
}

/// The schema of one of the other files: `definition` (e.g. `GateStudy`) of [`generate`]'s
/// `$defs`, as a schema of its own.
pub fn definition(definition: &str) -> serde_json::Value {
    let full = serde_json::to_value(schema()).unwrap_or_default();
    serde_json::json!({
        "$schema": full["$schema"],
        "$ref": format!("#/$defs/{definition}"),
        "$defs": full["$defs"],
    })
}

/// Writes [`generate`]'s output to `reports/schema.json` under `root`.
pub fn write(root: &Path) -> Result<()> {
    crate::atomic::write(&root.join(SCHEMA_PATH), generate())
}

/// What in `instance` breaks the schema the results types define, one readable line each; empty
/// when it conforms. Every check of a written results.json goes through here.
pub fn violations(instance: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::to_value(schema()).unwrap_or_default();
    match jsonschema::validator_for(&schema) {
        Ok(validator) => validator
            .iter_errors(instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect(),
        Err(e) => vec![format!("the results types generate an invalid schema: {e}")],
    }
}

/// [`violations`] of the results.json at `path`.
pub fn file_violations(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let instance: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(violations(&instance))
}
