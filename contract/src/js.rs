//! The contract for the JavaScript parts: [`module`] renders the ES module `contract/js/contract.mjs`
//! that the sidecar (bundled by esbuild) and the AI SDK oracle in `sut-kit/node` import, so a
//! limit, a default, an error phrase or the ready line's shape is written once, here, and never
//! copied into JavaScript by hand.
//!
//! The file is committed, so a fresh clone runs without a Rust build first; a test
//! (`tests/js_module.rs`) fails when it differs from what this module renders, and names the
//! command that rewrites it: `cargo run -p contract --bin contract-js`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::api_error::ErrorCode;
use crate::ready::{READY_EVENT, ReadyLine};

/// Where the module lives, relative to the repository root.
pub const MODULE_PATH: &str = "contract/js/contract.mjs";
/// The command that rewrites the module, for the stale-file test's message.
pub const REGENERATE_COMMAND: &str = "cargo run -p contract --bin contract-js";

/// The whole module, as committed.
pub fn module() -> String {
    use crate::error_text as t;
    let mut js = Module::default();
    js.header();

    js.section("contract", "the limits and defaults every server shares.");
    js.number("MAX_STEPS", crate::MAX_STEPS.into());
    js.number("MAX_BODY_BYTES", crate::MAX_BODY_BYTES as u64);
    js.string("DEFAULT_MODEL", crate::DEFAULT_MODEL);
    js.millis("DEFAULT_IDLE_TIMEOUT", crate::DEFAULT_IDLE_TIMEOUT);
    js.number("DEFAULT_MAX_RETRIES", crate::DEFAULT_MAX_RETRIES.into());
    js.millis("TOOLS_WAIT", crate::TOOLS_WAIT);
    js.millis("SHUTDOWN_DEADLINE", crate::SHUTDOWN_DEADLINE);
    js.millis("SHUTDOWN_GRACE", crate::SHUTDOWN_GRACE);

    js.section(
        "contract::error_text",
        "the client-facing error text (docs/architecture.md#error-text).",
    );
    js.string("PROVIDER_UNREACHABLE", t::PROVIDER_UNREACHABLE);
    js.string("PROVIDER_MALFORMED", t::PROVIDER_MALFORMED);
    js.string("PROVIDER_TRUNCATED", t::PROVIDER_TRUNCATED);
    js.string("INTERNAL_ERROR", t::INTERNAL_ERROR);
    js.string("SHUTTING_DOWN", t::SHUTTING_DOWN);
    js.template("provider_status", &["status"], |p| t::provider_status(p[0]));
    js.template("provider_idle", &["seconds"], |p| t::provider_idle(p[0]));
    js.template("unknown_tool", &["name"], |p| t::unknown_tool(p[0]));
    js.template("invalid_tool_input", &["name"], |p| {
        t::invalid_tool_input(p[0])
    });
    js.template("tool_not_called", &["name", "reason"], |p| {
        t::tool_not_called(p[0], p[1])
    });
    js.template("tool_panicked", &["message"], |p| t::tool_panicked(p[0]));

    js.section(
        "contract::api_error",
        "the JSON error body's codes and their statuses.",
    );
    js.error_statuses();

    js.section(
        "contract::frames",
        "the `frames` sidecar wire's header, limits and kinds (docs/frames.md).",
    );
    js.export(
        "HEADER_LEN",
        "FRAME_HEADER_LEN",
        &crate::frames::HEADER_LEN.to_string(),
    );
    js.export(
        "MAX_PAYLOAD",
        "FRAME_MAX_PAYLOAD",
        &crate::frames::MAX_PAYLOAD.to_string(),
    );
    js.export(
        "STREAM_WINDOW",
        "FRAME_STREAM_WINDOW",
        &crate::frames::STREAM_WINDOW.to_string(),
    );
    js.frame_kinds();

    js.section(
        "contract::request_id",
        "the request id's header on every hop (docs/architecture.md#request-id).",
    );
    js.export(
        "HEADER",
        "REQUEST_ID_HEADER",
        &js_string(crate::request_id::HEADER),
    );
    js.export(
        "OPEN_FRAME_KEY",
        "REQUEST_ID_OPEN_FRAME_KEY",
        &js_string(crate::request_id::OPEN_FRAME_KEY),
    );

    js.section(
        "contract::runtime_memory",
        "the sidecar's memory route (docs/soak.md#the-samples).",
    );
    js.export(
        "SIDECAR_MEMORY_PATH",
        "SIDECAR_MEMORY_PATH",
        &js_string(crate::runtime_memory::SIDECAR_MEMORY_PATH),
    );

    js.section(
        "contract::sdk_timing",
        "the AI SDK's own step timing as a log line (docs/runtimes.md#two-readings-of-ttft-and-chunk-gaps).",
    );
    js.export(
        "SDK_TIMING_ENV",
        "SDK_TIMING_ENV",
        &js_string(crate::sdk_timing::SDK_TIMING_ENV),
    );
    js.export(
        "SDK_TIMING_LINE",
        "SDK_TIMING_LINE",
        &js_string(crate::sdk_timing::SDK_TIMING_LINE),
    );

    js.section("contract::ready", "the ready line.");
    js.ready_line();
    js.text
}

/// The module's text, built item by item.
#[derive(Default)]
struct Module {
    text: String,
    /// The Rust module the current section's items come from, named in each item's comment.
    source: &'static str,
}

/// Marks where a template's parameter goes; no phrase contains this control character.
const PLACEHOLDER: char = '\u{1}';

impl Module {
    fn header(&mut self) {
        self.line("// Generated from the contract crate (contract/src/js.rs); do not edit.");
        let _ = writeln!(
            self.text,
            "// Rewrite with `{REGENERATE_COMMAND}`; a test fails when this file is stale."
        );
        self.line(
            "// Every rule here is written once, in Rust: docs/design.md#one-source-for-each-rule.",
        );
    }

    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn section(&mut self, source: &'static str, title: &str) {
        self.source = source;
        let _ = write!(self.text, "\n// {source}: {title}\n\n");
    }

    /// `export const NAME = value;`, with the Rust item it comes from.
    fn export(&mut self, rust_name: &str, js_name: &str, value: &str) {
        let _ = writeln!(
            self.text,
            "/** {}::{rust_name} */\nexport const {js_name} = {value};",
            self.source
        );
    }

    fn number(&mut self, name: &str, value: u64) {
        self.export(name, name, &value.to_string());
    }

    /// A duration, exported in milliseconds as `<name>_MS`.
    fn millis(&mut self, name: &str, value: Duration) {
        let millis = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
        let rust_name = format!("{name}, in milliseconds");
        self.export(&rust_name, &format!("{name}_MS"), &millis.to_string());
    }

    fn string(&mut self, name: &str, value: &str) {
        self.export(name, name, &js_string(value));
    }

    /// A phrase with variable parts, as an arrow function (the Rust function's name in camel
    /// case) returning a template literal: `fill` gets one placeholder per parameter and
    /// returns the phrase with them in place.
    fn template(&mut self, name: &str, params: &[&str], fill: impl Fn(&[&str]) -> String) {
        let markers: Vec<String> = (0..params.len())
            .map(|i| format!("{PLACEHOLDER}{i}{PLACEHOLDER}"))
            .collect();
        let marker_refs: Vec<&str> = markers.iter().map(String::as_str).collect();
        let mut body = escape_template(&fill(&marker_refs));
        for (marker, param) in markers.iter().zip(params) {
            body = body.replace(marker, &format!("${{{param}}}"));
        }
        let function = format!("({}) => `{body}`", params.join(", "));
        self.export(name, &camel_case(name), &function);
    }

    fn error_statuses(&mut self) {
        self.line("/** contract::api_error::ErrorCode: each code with its HTTP status */");
        self.line("export const ERROR_STATUS = Object.freeze({");
        for code in ErrorCode::ALL {
            let _ = writeln!(self.text, "  {}: {},", code.name(), code.status());
        }
        self.line("});");
    }

    /// `readyLine({backend, url, pid, runtimePid})`: the line without its newline, keys in the
    /// order `ReadyLine` serialises them; an undefined `runtimePid` is left out, as in Rust.
    /// `FRAME_KIND`: each kind's name and byte, frozen.
    fn frame_kinds(&mut self) {
        let entries: Vec<String> = crate::frames::Kind::ALL
            .iter()
            .map(|k| format!("{}: {}", k.name(), *k as u8))
            .collect();
        let value = format!("Object.freeze({{ {} }})", entries.join(", "));
        self.export("Kind", "FRAME_KIND", &value);
    }

    fn ready_line(&mut self) {
        let mut params = Vec::new();
        let mut fields = Vec::new();
        for &field in ReadyLine::FIELDS {
            if field == "event" {
                fields.push(format!("event: {}", js_string(READY_EVENT)));
                continue;
            }
            let param = camel_case(field);
            fields.push(if param == field {
                param.clone()
            } else {
                format!("{field}: {param}")
            });
            params.push(param);
        }
        let _ = writeln!(
            self.text,
            "/** contract::ready::ReadyLine, without the newline */\n\
             export const readyLine = ({{ {} }}) =>\n  JSON.stringify({{ {} }});",
            params.join(", "),
            fields.join(", ")
        );
    }
}

/// A JavaScript string literal (JSON's quoting is valid JavaScript).
fn js_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Text that stands for itself inside a template literal.
fn escape_template(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('`', "\\`")
        .replace("${", "\\${")
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_keeps_its_text_literal_and_its_parameters_live() {
        let mut js = Module {
            source: "test",
            ..Module::default()
        };
        js.template("odd_one", &["a", "b"], |p| {
            format!("`{}` costs ${{x}} \\ {}", p[0], p[1])
        });
        assert_eq!(
            js.text,
            "/** test::odd_one */\nexport const oddOne = (a, b) => `\\`${a}\\` costs \\${x} \\\\ ${b}`;\n"
        );
    }

    #[test]
    fn the_ready_line_follows_the_rust_fields() {
        let mut js = Module::default();
        js.ready_line();
        assert!(
            js.text.contains(
                "({ backend, url, pid, runtimePid }) =>\n  JSON.stringify({ event: \"ready\", \
                 backend, url, pid, runtime_pid: runtimePid });"
            ),
            "{}",
            js.text
        );
    }

    #[test]
    fn every_error_code_is_listed_with_its_status() {
        let text = module();
        assert!(text.contains("  invalid_request: 400,\n"));
        assert!(text.contains("  unavailable: 503,\n"));
    }
}
