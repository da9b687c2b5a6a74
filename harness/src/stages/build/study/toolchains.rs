//! The tools a backend needs to be built and run, read from its manifest: the build steps (and
//! the scripts of the repository they call) name the build tools, `runtime` the one it runs on.

use std::path::Path;

use contract::results::Toolchain;

use sut_kit::manifest::{Backend, Runtime};

/// A word in a build step -> the tools it means. cargo links with the system C compiler.
const BUILD_TOOLS: &[(&str, &[&str])] = &[
    ("cargo", &["rustc", "cargo", "cc"]),
    ("npm", &["node", "npm"]),
    ("node", &["node"]),
];

/// The build steps' text, with the text of each repository script a step runs.
fn build_text(backend: &Backend, root: &Path) -> String {
    let mut text = String::new();
    for step in &backend.manifest.build {
        text.push_str(step);
        text.push('\n');
        let program = step.split_whitespace().next().unwrap_or_default();
        if program.contains('/')
            && let Ok(script) = std::fs::read_to_string(root.join(program))
        {
            text.push_str(&script);
            text.push('\n');
        }
    }
    text
}

fn mentions(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(|w| w == word)
}

/// Whether building the backend runs cargo (then the study fetches crates first).
pub fn uses_cargo(backend: &Backend, root: &Path) -> bool {
    mentions(&build_text(backend, root), "cargo")
}

/// Every tool the backend needs, with what for and its version here.
pub fn needed(backend: &Backend, root: &Path) -> Vec<Toolchain> {
    let text = build_text(backend, root);
    let mut tools: Vec<Toolchain> = Vec::new();
    let mut need = |name: &str, what: &str| match tools.iter_mut().find(|t| t.name == name) {
        Some(t) if !t.needed_for.iter().any(|w| w == what) => t.needed_for.push(what.to_owned()),
        Some(_) => {}
        None => tools.push(Toolchain {
            name: name.to_owned(),
            version: crate::tools::version(None, name),
            needed_for: vec![what.to_owned()],
        }),
    };
    for (word, names) in BUILD_TOOLS {
        if mentions(&text, word) {
            for name in *names {
                need(name, "build");
            }
        }
    }
    if backend.manifest.runtime == Runtime::Node {
        need("node", "run");
    }
    tools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tools_from_steps_scripts_and_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/scripts")).unwrap();
        std::fs::write(
            root.join("b/scripts/build"),
            "#!/bin/sh\ncargo build -p x\n",
        )
        .unwrap();
        let toml = "name = \"b\"\nsummary = \"s\"\nbuild = [\"b/scripts/build\", \"npm ci --prefix b\"]\nstart = [\"node\", \"b/main.js\"]\nruntime = \"node\"\n";
        std::fs::write(root.join("b/backend.toml"), toml).unwrap();
        let backend = sut_kit::manifest::load(&root.join("b/backend.toml")).unwrap();
        assert!(uses_cargo(&backend, root));
        let tools = needed(&backend, root);
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["rustc", "cargo", "cc", "node", "npm"]);
        let node = tools.iter().find(|t| t.name == "node").unwrap();
        assert_eq!(node.needed_for, ["build", "run"]);
        assert!(!mentions("cargo-watch", "cargo"));
    }
}
