//! Backend discovery: every `backends/*/backend.toml` is one system under test.
//!
//! The harness knows no backend by name; a new architecture joins the arena by adding a
//! manifest (TechEmpower's `benchmark_config.json` idea). Paths in a manifest are relative to
//! the repository root, and `target/release/` paths follow the run's profile.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// The manifest's file name inside a backend folder.
pub const MANIFEST_FILE: &str = "backend.toml";

/// One `backend.toml`, as written.
/// Unknown keys are ignored, so a backend may carry notes of its own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    /// As in the ready line and in results.json.
    pub name: String,
    pub summary: String,
    /// Shell commands run in order from the repository root.
    #[serde(default)]
    pub build: Vec<String>,
    /// The argv that starts the backend; the common flags are appended.
    pub start: Vec<String>,
    /// What a deployment ships.
    #[serde(default)]
    pub artifacts: Vec<String>,
    /// `node` where a Node.js process is part of it, else `none`.
    pub runtime: Runtime,
    /// The hop this architecture adds over its in-process equivalent (the AI SDK in one Node
    /// process for the Node architectures, the client reading the provider itself otherwise):
    /// the bench stage shows each overhead as a multiple of that hop's measured floor.
    #[serde(default)]
    pub ipc_hop: Option<IpcHop>,
    /// The file a developer edits to change how a chat is answered: the evidence stage's
    /// edit-build-test loop starts from it (docs/report.md#development-speed).
    #[serde(default)]
    pub chat_path: Option<String>,
    /// The same architecture started with other flags, each measured as a backend of its own
    /// named `<name>+<variant>` (docs/design.md#backend-manifests): `unix+sse`.
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// One `[[variants]]` entry: a name and the flags appended to `start`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Variant {
    pub name: String,
    pub args: Vec<String>,
}

/// Joins a backend's name and its variant's in results.json and on the command line.
pub const VARIANT_SEPARATOR: char = '+';

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpcHop {
    /// A message over a Unix socket.
    UnixSocket,
    /// A message over loopback TCP.
    LoopbackTcp,
    /// A call between JavaScript and Rust in one process.
    NapiCall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Node,
    None,
}

/// A manifest together with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub manifest: Manifest,
    /// The manifest file, for messages.
    pub path: PathBuf,
    /// The JavaScript runtime it runs on when that is not the default stack's (`bun` for
    /// `unix@bun`, [`Backend::on_runtime`]); `None` for the default stack.
    pub js_runtime: Option<String>,
}

impl Backend {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The start argv with `target/release/` mapped onto `profile`'s output folder.
    pub fn start_argv(&self, profile: &str) -> Vec<String> {
        self.manifest
            .start
            .iter()
            .map(|a| for_profile(a, profile))
            .collect()
    }

    /// Each of its variants as a backend of its own: named `<name>+<variant>`, started with the
    /// variant's flags after the manifest's `start`, built and shipped as this one.
    pub fn variants(&self) -> Vec<Backend> {
        self.manifest
            .variants
            .iter()
            .map(|v| {
                let mut manifest = self.manifest.clone();
                manifest.name = format!("{}{VARIANT_SEPARATOR}{}", self.manifest.name, v.name);
                manifest.start.extend(v.args.iter().cloned());
                manifest.variants = Vec::new();
                Backend {
                    manifest,
                    path: self.path.clone(),
                    js_runtime: self.js_runtime.clone(),
                }
            })
            .collect()
    }

    /// This backend on another JavaScript runtime, a target of its own named
    /// `<name>@<runtime>` (contract::runtime::target_name), built and shipped as this one;
    /// `None` for a backend without JavaScript or on the default runtime.
    pub fn on_runtime(&self, runtime: &str) -> Option<Backend> {
        if self.manifest.runtime != Runtime::Node || runtime == contract::runtime::DEFAULT_RUNTIME {
            return None;
        }
        let mut manifest = self.manifest.clone();
        manifest.name = contract::runtime::target_name(&self.manifest.name, runtime);
        manifest.variants = Vec::new();
        Some(Backend {
            manifest,
            path: self.path.clone(),
            js_runtime: Some(runtime.to_owned()),
        })
    }

    /// The backend it was derived from: `unix` for `unix+sse` and for `unix@bun`.
    pub fn base_name(&self) -> &str {
        self.name()
            .split([VARIANT_SEPARATOR, contract::runtime::RUNTIME_SEPARATOR])
            .next()
            .unwrap_or_else(|| self.name())
    }

    /// The runtime that runs its JavaScript: its own, or the default stack's.
    pub fn runtime_name(&self) -> &str {
        self.js_runtime
            .as_deref()
            .unwrap_or(contract::runtime::DEFAULT_RUNTIME)
    }

    /// The name the backend itself reports (ready line, `/health`): a variant runs its base's
    /// binary, so `unix+sse` and `unix@bun` report `unix`.
    pub fn reported_name(&self) -> &str {
        self.base_name()
    }

    /// Whether this is derived from another backend, built with it and measured only by the
    /// stages that take variants: another wire (`unix+sse`) or another runtime (`unix@bun`).
    pub fn is_variant(&self) -> bool {
        self.name().contains(VARIANT_SEPARATOR) || self.js_runtime.is_some()
    }

    /// Artifacts that do not exist under `root`: a backend with any is not built.
    pub fn missing_artifacts(&self, root: &Path, profile: &str) -> Vec<String> {
        self.manifest
            .artifacts
            .iter()
            .map(|a| for_profile(a, profile))
            .filter(|a| !root.join(a).exists())
            .collect()
    }
}

/// Maps a release output path onto another profile's (`target/release/x` -> `target/debug/x`).
pub fn for_profile(path: &str, profile: &str) -> String {
    match path.strip_prefix("target/release/") {
        Some(rest) if profile != "release" => format!("target/{profile}/{rest}"),
        _ => path.to_owned(),
    }
}

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid backend manifest: {message}; see docs/design.md#backend-manifests for the format"
    )]
    Invalid { path: PathBuf, message: String },
    #[error("backend name `{name}` is declared twice: {first} and {second}")]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no backend named `{0}`; discovered: {1}")]
    UnknownBackend(String, String),
    #[error("no backend manifests found under {0}; each backend folder needs a backend.toml")]
    NoneFound(PathBuf),
}

/// Parses and checks one manifest file.
pub fn load(path: &Path) -> Result<Backend, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |message: String| ManifestError::Invalid {
        path: path.to_owned(),
        message,
    };
    let manifest: Manifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let valid = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid(&manifest.name) {
        return Err(invalid(format!(
            "`name = {:?}` must be non-empty and use only letters, digits, `-` and `_`",
            manifest.name
        )));
    }
    if let Some(v) = manifest.variants.iter().find(|v| !valid(&v.name)) {
        return Err(invalid(format!(
            "variant `name = {:?}` must be non-empty and use only letters, digits, `-` and `_`",
            v.name
        )));
    }
    if manifest.start.first().is_none_or(|p| p.trim().is_empty()) {
        return Err(invalid("`start` must name the program to run".into()));
    }
    if let Some(step) = manifest.build.iter().find(|s| s.trim().is_empty()) {
        return Err(invalid(format!("`build` holds an empty step ({step:?})")));
    }
    Ok(Backend {
        manifest,
        path: path.to_owned(),
        js_runtime: None,
    })
}

/// Finds every `<backends_dir>/*/backend.toml`, sorted by name. Any bad manifest is an error:
/// silently dropping a backend would hide it from every comparison.
pub fn discover(backends_dir: &Path) -> Result<Vec<Backend>, ManifestError> {
    let entries = std::fs::read_dir(backends_dir).map_err(|source| ManifestError::Read {
        path: backends_dir.to_owned(),
        source,
    })?;
    let mut found: Vec<Backend> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join(MANIFEST_FILE);
        if !path.is_file() {
            continue;
        }
        let backend = load(&path)?;
        if let Some(first) = found.iter().find(|b| b.name() == backend.name()) {
            return Err(ManifestError::DuplicateName {
                name: backend.manifest.name,
                first: first.path.clone(),
                second: path,
            });
        }
        found.push(backend);
    }
    if found.is_empty() {
        return Err(ManifestError::NoneFound(backends_dir.to_owned()));
    }
    found.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(found)
}

/// Every backend of `bases` followed by its variants.
pub fn with_variants(bases: &[Backend]) -> Vec<Backend> {
    bases
        .iter()
        .flat_map(|b| std::iter::once(b.clone()).chain(b.variants()))
        .collect()
}

/// `backends` followed by each JavaScript-running base backend of them on each of `runtimes`
/// but the default stack's (`unix@bun`, ...), runtime by runtime in the order given.
pub fn with_runtimes(backends: &[Backend], runtimes: &[&str]) -> Vec<Backend> {
    let mut out = backends.to_vec();
    for runtime in runtimes {
        out.extend(
            backends
                .iter()
                .filter(|b| !b.is_variant())
                .filter_map(|b| b.on_runtime(runtime)),
        );
    }
    out
}

/// Keeps the backends named in `wanted` (in discovery order), or all when `wanted` is empty.
pub fn select(all: Vec<Backend>, wanted: &[String]) -> Result<Vec<Backend>, ManifestError> {
    if let Some(unknown) = wanted.iter().find(|w| !all.iter().any(|b| b.name() == *w)) {
        let names: Vec<&str> = all.iter().map(Backend::name).collect();
        return Err(ManifestError::UnknownBackend(
            unknown.clone(),
            names.join(", "),
        ));
    }
    Ok(all
        .into_iter()
        .filter(|b| wanted.is_empty() || wanted.iter().any(|w| w == b.name()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, folder: &str, text: &str) {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::write(dir.join(folder).join(MANIFEST_FILE), text).unwrap();
    }

    const GOOD: &str = r#"
        name = "unix"
        summary = "Rust server + Node.js sidecar over a Unix socket"
        build = ["cargo build --release -p backend-unix"]
        start = ["target/release/backend-unix"]
        artifacts = ["target/release/backend-unix", "backends/sidecar/dist"]
        runtime = "node"
    "#;

    #[test]
    fn discovers_sorted_and_selects_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "unix", GOOD);
        write(dir.path(), "aaa", &GOOD.replace("\"unix\"", "\"aaa\""));
        std::fs::create_dir_all(dir.path().join("sidecar")).unwrap();
        let all = discover(dir.path()).unwrap();
        let names: Vec<&str> = all.iter().map(Backend::name).collect();
        assert_eq!(names, ["aaa", "unix"]);
        assert_eq!(all[1].manifest.runtime, Runtime::Node);
        let one = select(all.clone(), &["unix".into()]).unwrap();
        assert_eq!(one.len(), 1);
        let err = select(all, &["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("aaa, unix"), "{err}");
    }

    #[test]
    fn a_variant_is_a_backend_of_its_own_with_its_flags_appended() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            format!("{GOOD}\n[[variants]]\nname = \"sse\"\nargs = [\"--sidecar-wire\", \"sse\"]\n");
        write(dir.path(), "unix", &text);
        let bases = discover(dir.path()).unwrap();
        let names: Vec<String> = with_variants(&bases)
            .iter()
            .map(|b| b.name().to_owned())
            .collect();
        assert_eq!(names, ["unix", "unix+sse"]);
        let variant = &bases[0].variants()[0];
        assert!(variant.is_variant() && !bases[0].is_variant());
        assert_eq!(variant.reported_name(), "unix");
        assert_eq!(
            variant.start_argv("debug"),
            ["target/debug/backend-unix", "--sidecar-wire", "sse"]
        );
        assert_eq!(variant.manifest.artifacts, bases[0].manifest.artifacts);
        let bad = format!("{GOOD}\n[[variants]]\nname = \"a+b\"\nargs = []\n");
        write(dir.path(), "unix", &bad);
        assert!(discover(dir.path()).is_err());
    }

    #[test]
    fn a_runtime_target_is_each_javascript_backend_on_another_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            format!("{GOOD}\n[[variants]]\nname = \"sse\"\nargs = [\"--sidecar-wire\", \"sse\"]\n");
        write(dir.path(), "unix", &text);
        let rust = GOOD
            .replace("\"unix\"", "\"rust-only\"")
            .replace("runtime = \"node\"", "runtime = \"none\"");
        write(dir.path(), "rust-only", &rust);
        let all = with_variants(&discover(dir.path()).unwrap());
        let names = |runtimes: &[&str]| -> Vec<String> {
            with_runtimes(&all, runtimes)
                .iter()
                .map(|b| b.name().to_owned())
                .collect()
        };
        assert_eq!(
            names(&["node26", "bun", "node20"]),
            ["rust-only", "unix", "unix+sse", "unix@bun", "unix@node20"]
        );
        let on_bun = &with_runtimes(&all, &["bun"])[3];
        assert_eq!(on_bun.runtime_name(), "bun");
        assert_eq!(on_bun.reported_name(), "unix");
        assert!(on_bun.is_variant());
        assert_eq!(on_bun.start_argv("debug"), all[1].start_argv("debug"));
        assert_eq!(all[1].runtime_name(), contract::runtime::DEFAULT_RUNTIME);
    }

    #[test]
    fn bad_manifests_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "x",
            "name = \"x\"\nsummary = \"s\"\nstart = []\nruntime = \"none\"",
        );
        let err = discover(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("backend.toml") && err.contains("`start`"),
            "{err}"
        );

        write(
            dir.path(),
            "x",
            "name = \"x\"\nsummary = \"s\"\nstart = [\"a\"]\nruntime = \"java\"",
        );
        let err = discover(dir.path()).unwrap_err().to_string();
        assert!(err.contains("java"), "{err}");

        write(
            dir.path(),
            "x",
            "name = \"x y\"\nsummary = \"s\"\nstart = [\"a\"]\nruntime = \"none\"",
        );
        assert!(
            discover(dir.path())
                .unwrap_err()
                .to_string()
                .contains("x y")
        );

        write(dir.path(), "x", GOOD);
        write(dir.path(), "y", GOOD);
        let err = discover(dir.path()).unwrap_err().to_string();
        assert!(err.contains("declared twice"), "{err}");
    }

    #[test]
    fn release_paths_follow_the_profile() {
        assert_eq!(for_profile("target/release/b", "debug"), "target/debug/b");
        assert_eq!(
            for_profile("target/release/b", "release"),
            "target/release/b"
        );
        assert_eq!(for_profile("node", "debug"), "node");
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            discover(dir.path()),
            Err(ManifestError::NoneFound(_))
        ));
    }
}
