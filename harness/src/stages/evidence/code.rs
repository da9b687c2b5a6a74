//! The project's own code a backend builds from: which files (its crate and the workspace crates
//! it depends on, the source of the Node packages its build steps install, the JavaScript it
//! ships as source), their non-blank lines per language, and the OS-specific APIs they use.
//! The rule and its limits: docs/report.md#maintainability.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use contract::results::{CodeCount, OsApiUse};

use sut_kit::manifest::Backend;

use super::deps::CargoGraph;

/// Extensions counted as source, and the language each stands for.
const LANGUAGES: [(&str, &str); 7] = [
    ("rs", "Rust"),
    ("js", "JavaScript"),
    ("mjs", "JavaScript"),
    ("cjs", "JavaScript"),
    ("ts", "TypeScript"),
    ("jsx", "JavaScript"),
    ("tsx", "TypeScript"),
];

/// The OS-specific APIs searched for, each with the substrings that mark its use
/// (docs/report.md#cross-platform). A line that is only a comment is not searched.
pub const OS_APIS: [(&str, &[&str]); 5] = [
    (
        "unix-socket",
        &[
            "UnixListener",
            "UnixStream",
            "unix_socket(",
            "os::unix::net",
            "listenUnix",
            "socketPath:",
        ],
    ),
    (
        "posix-signals",
        &[
            "SIGTERM",
            "SIGKILL",
            "SIGINT",
            "SIGHUP",
            "SIGUSR",
            "signal::unix",
        ],
    ),
    (
        "prctl",
        &["prctl", "PR_SET_PDEATHSIG", "parent_process_death_signal"],
    ),
    ("procfs", &["/proc/"]),
    (
        "unix-permissions",
        &[
            "PermissionsExt",
            "from_mode(",
            "0o700",
            "0o600",
            "chmodSync",
            "umask",
        ],
    ),
];

/// The own source files of one backend, relative to the repository root.
#[derive(Debug, Clone, Default)]
pub struct OwnCode {
    /// `crate:<name>` and `npm:<folder>` for what was counted.
    pub components: Vec<String>,
    pub files: BTreeSet<PathBuf>,
    /// The folders of those components (crate and package folders, tests included), relative
    /// to the repository root: what an upgrade's changes are charged against.
    pub folders: BTreeSet<PathBuf>,
}

/// The backend's own files: its crate and every workspace crate it builds (normal and build
/// edges), the `src/` of each Node package a build step installs (`npm ... --prefix DIR`), and
/// the manifest's artifacts that are JavaScript source.
pub fn own_code(root: &Path, backend: &Backend, graph: &CargoGraph) -> OwnCode {
    let mut own = OwnCode::default();
    let dir = backend_dir(root, backend);
    if let Some(id) = graph.package_in(&dir) {
        for member in graph.workspace_closure(&id) {
            own.components.push(format!("crate:{}", member.name));
            let crate_dir = member.dir.clone();
            own.folders.insert(relative(root, &crate_dir));
            collect(root, &crate_dir.join("src"), &mut own.files);
            let build_rs = crate_dir.join("build.rs");
            if build_rs.is_file() {
                insert(root, &build_rs, &mut own.files);
            }
        }
    }
    for prefix in npm_prefixes(backend) {
        own.components.push(format!("npm:{prefix}"));
        own.folders.insert(PathBuf::from(&prefix));
        collect(root, &root.join(&prefix).join("src"), &mut own.files);
    }
    for artifact in &backend.manifest.artifacts {
        let shipped_source = !artifact.starts_with("target/")
            && !artifact.ends_with(".node")
            && !artifact.split('/').any(|s| s == "dist");
        if shipped_source {
            own.folders.insert(PathBuf::from(artifact));
            collect(root, &root.join(artifact), &mut own.files);
        }
    }
    own.components.sort();
    own.components.dedup();
    own
}

/// The folder of the backend's manifest, absolute.
pub fn backend_dir(root: &Path, backend: &Backend) -> PathBuf {
    let dir = backend.path.parent().unwrap_or(Path::new("."));
    let dir = if dir.is_absolute() {
        dir.to_owned()
    } else {
        root.join(dir)
    };
    dir.canonicalize().unwrap_or(dir)
}

/// The folders of the Node packages the build steps install (`--prefix DIR`), in order.
pub fn npm_prefixes(backend: &Backend) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for step in &backend.manifest.build {
        let words: Vec<&str> = step.split_whitespace().collect();
        let found = words
            .windows(2)
            .filter(|w| w[0] == "--prefix")
            .map(|w| w[1].trim_end_matches('/').to_owned());
        for prefix in found {
            if words.first() == Some(&"npm") && !out.contains(&prefix) {
                out.push(prefix);
            }
        }
    }
    out
}

/// Adds `path` (a file, or every source file under a folder) to `files`.
fn collect(root: &Path, path: &Path, files: &mut BTreeSet<PathBuf>) {
    if path.is_file() {
        if language(path).is_some() {
            insert(root, path, files);
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let skip = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "node_modules" || n.starts_with('.'));
        if !skip {
            collect(root, &p, files);
        }
    }
}

fn insert(root: &Path, path: &Path, files: &mut BTreeSet<PathBuf>) {
    files.insert(relative(root, path));
}

/// `path` relative to `root`, both resolved (a path outside the root stays as it is).
fn relative(root: &Path, path: &Path) -> PathBuf {
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    canon
        .strip_prefix(&canon_root)
        .map_or_else(|_| canon.clone(), Path::to_path_buf)
}

/// The language of a source file, from its extension.
pub fn language(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?;
    LANGUAGES.iter().find(|(e, _)| *e == ext).map(|(_, l)| *l)
}

/// Non-blank lines of a file's text.
pub fn count_lines(text: &str) -> u64 {
    text.lines().filter(|l| !l.trim().is_empty()).count() as u64
}

/// Files and non-blank lines per language of `files` (relative to `root`); unreadable files are
/// skipped.
pub fn languages(root: &Path, files: &BTreeSet<PathBuf>) -> BTreeMap<String, CodeCount> {
    let mut out: BTreeMap<String, CodeCount> = BTreeMap::new();
    for f in files {
        let (Some(lang), Ok(text)) = (language(f), std::fs::read_to_string(root.join(f))) else {
            continue;
        };
        let entry = out.entry(lang.to_owned()).or_default();
        entry.files += 1;
        entry.lines += count_lines(&text);
    }
    out
}

/// Non-blank lines of one file (0 when unreadable).
pub fn file_lines(root: &Path, file: &Path) -> u64 {
    std::fs::read_to_string(root.join(file)).map_or(0, |t| count_lines(&t))
}

/// Every use of [`OS_APIS`] in `files`, one entry per API found.
pub fn os_specific(root: &Path, files: &BTreeSet<PathBuf>) -> Vec<OsApiUse> {
    let mut sites: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(root.join(f)) else {
            continue;
        };
        for (api, hits) in scan(&text) {
            let entry = sites.entry(api).or_default();
            entry.extend(hits.into_iter().map(|n| format!("{}:{n}", f.display())));
        }
    }
    OS_APIS
        .iter()
        .filter_map(|(api, patterns)| {
            let found = sites.remove(api)?;
            Some(OsApiUse {
                api: (*api).to_owned(),
                patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
                sites: found,
            })
        })
        .collect()
}

/// The line numbers (1-based) of each API's uses in `text`, comment-only lines left out.
pub fn scan(text: &str) -> BTreeMap<&'static str, Vec<usize>> {
    let mut out: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("//") || t.starts_with('*') || t.starts_with("/*") || t.starts_with('#') {
            continue;
        }
        for (api, patterns) in OS_APIS {
            if patterns.iter().any(|p| line.contains(p)) {
                out.entry(api).or_default().push(i + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_each_api_and_skips_comment_lines() {
        let text = "use tokio::net::UnixListener;\n// SIGTERM in a comment\n\
                    process.on('SIGTERM', stop);\nfs.chmodSync(p, 0o600);\nlet x = 1;\n";
        let found = scan(text);
        assert_eq!(found.get("unix-socket"), Some(&vec![1]));
        assert_eq!(found.get("posix-signals"), Some(&vec![3]));
        assert_eq!(found.get("unix-permissions"), Some(&vec![4]));
        assert!(!found.contains_key("procfs"));
    }

    #[test]
    fn lines_are_non_blank_and_languages_come_from_extensions() {
        assert_eq!(count_lines("a\n\n  \nb\n"), 2);
        assert_eq!(language(Path::new("x/main.js")), Some("JavaScript"));
        assert_eq!(language(Path::new("x/lib.rs")), Some("Rust"));
        assert_eq!(language(Path::new("x/README.md")), None);
    }

    #[test]
    fn npm_prefixes_come_from_npm_steps_only() {
        let backend = Backend {
            manifest: toml::from_str(
                "name = \"x\"\nsummary = \"s\"\nstart = [\"x\"]\nruntime = \"node\"\n\
                 build = [\"npm ci --prefix backends/sidecar\", \
                 \"npm run build --prefix backends/sidecar/\", \"tool --prefix elsewhere\"]",
            )
            .unwrap(),
            path: PathBuf::from("backends/x/backend.toml"),
            js_runtime: None,
        };
        assert_eq!(npm_prefixes(&backend), vec!["backends/sidecar".to_owned()]);
    }
}
