//! The design documents stay true to the code that cites them: every `<doc>.md#...` link to a
//! document of docs/ names a heading that exists, and the scenario table of docs/design.md lists
//! exactly the catalogue of `contract::scenario`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use contract::scenario::CATALOGUE;

/// Where the documents code cites by heading live: every `docs/*.md`.
const DOCS_DIR: &str = "docs";
/// Folders that hold generated or installed files, not the project's own text.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", ".git", "dist"];
/// Files that can carry a citation.
const TEXT_EXTENSIONS: &[&str] = &["rs", "md", "mjs", "js", "toml", "json"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("contract/ sits in the repository root")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The headings' anchors, and the explicit ones (`<a id="name"></a>`), which GitHub keeps as
/// written: a bullet of a list can be cited that way without a heading of its own.
fn anchors(doc: &str) -> BTreeSet<String> {
    let headings = doc
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| anchor_of(line.trim_start_matches('#')));
    let explicit = doc.split("<a id=\"").skip(1).filter_map(|rest| {
        rest.split_once('"')
            .map(|(id, _)| id.to_owned())
            .filter(|id| !id.is_empty())
    });
    headings.chain(explicit).collect()
}

/// Every project text file under `dir`; run folders under `reports/` are generated and skipped.
fn text_files(dir: &Path, root: &Path, found: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            let is_run_folder = dir == root.join("reports");
            if !SKIPPED_DIRS.contains(&name.as_ref()) && !is_run_folder {
                text_files(&path, root, found);
            }
        } else if path
            .extension()
            .is_some_and(|ext| TEXT_EXTENSIONS.iter().any(|t| ext == *t))
        {
            found.push(path);
        }
    }
}

/// The anchor of each `<document>#<anchor>` in `text` (a bare `<document>#` cites nothing).
fn citations<'a>(text: &'a str, document: &str) -> Vec<&'a str> {
    let marker = format!("{document}#");
    text.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|anchor| !anchor.is_empty())
        .collect()
}

#[test]
fn every_cited_heading_exists() {
    let root = repo_root();
    let mut files = Vec::new();
    text_files(&root, &root, &mut files);
    let mut broken = Vec::new();
    let docs: Vec<PathBuf> = std::fs::read_dir(root.join(DOCS_DIR))
        .expect("docs/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    assert!(docs.iter().any(|d| d.ends_with("design.md")));
    for doc in &docs {
        let known = anchors(&read(doc));
        let file_name = doc.file_name().unwrap().to_string_lossy();
        for file in &files {
            let text = read(file);
            for anchor in citations(&text, &file_name) {
                if !known.contains(anchor) {
                    let file = file.strip_prefix(&root).unwrap_or(file).display();
                    broken.push(format!("{file}: {file_name}#{anchor}"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "citations of headings that do not exist (rename the heading back or fix the link):\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_scenario_table_lists_the_catalogue() {
    let design = read(&repo_root().join("docs/design.md"));
    let section = design
        .split("### Scenario catalogue")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/design.md has a Scenario catalogue section");
    let documented: BTreeSet<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let catalogue: BTreeSet<&str> = CATALOGUE.iter().map(|info| info.name).collect();
    assert_eq!(
        documented, catalogue,
        "docs/design.md#scenario-catalogue must list every scenario of contract::scenario::CATALOGUE"
    );
}

#[test]
fn anchors_follow_the_rules_of_github() {
    assert_eq!(
        anchor_of(" Tools run on the caller's task"),
        "tools-run-on-the-callers-task"
    );
    assert_eq!(
        anchor_of("Sidecar hosts (`backends/sidecar-host`, `backends/unix`, `backends/http`)"),
        "sidecar-hosts-backendssidecar-host-backendsunix-backendshttp"
    );
    assert_eq!(anchor_of("Node.js 20 and ai@6"), "nodejs-20-and-ai6");
}
