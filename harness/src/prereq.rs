//! What a run needs before it builds anything: the tools it cannot install (checked first, so a
//! missing one costs seconds, not a five-minute build), and the npm packages it can (installed
//! from the committed lockfiles, so a fresh clone needs nothing but the README's command).

use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;

/// The oldest Node.js major the system must have: it only runs npm (and the bundler); the
/// backends run on the pinned runtime (contract::runtime), which npm installs.
pub const MIN_NODE_MAJOR: u32 = 20;

/// The npm packages the harness itself runs (the default stack's pinned Node.js, the AI SDK
/// oracle, `aisdk-node`), relative to the repository root. The backends' own packages are
/// installed by their manifests' build steps.
pub const HARNESS_PACKAGES: &[&str] = &["runtimes/node26", sut_kit::NODE_PACKAGE];

#[derive(Debug, Error)]
pub enum PrereqError {
    #[error(
        "`{tool}` is not on PATH; {why}. Install it and run again (a fresh machine needs the Rust \
         toolchain, Node.js >= {MIN_NODE_MAJOR} with npm, and a C compiler)"
    )]
    Missing {
        tool: &'static str,
        why: &'static str,
    },
    #[error("Node.js {found} is too old: the AI SDK needs Node.js >= {MIN_NODE_MAJOR}")]
    NodeTooOld { found: String },
    #[error("`npm ci --prefix {package}` failed ({status}); its output:\n{output}")]
    Install {
        package: String,
        status: String,
        output: String,
    },
    #[error("{package} has no package-lock.json: the harness installs only pinned versions")]
    NoLockfile { package: String },
    #[error(transparent)]
    Runtime(#[from] contract::runtime::RuntimeError),
}

/// One tool a run needs and cannot install.
struct Tool {
    program: &'static str,
    why: &'static str,
}

const TOOLS: &[Tool] = &[
    Tool {
        program: "node",
        why: "npm runs on it (the backends run on the pinned Node.js that npm installs)",
    },
    Tool {
        program: "npm",
        why: "the pinned AI SDK packages are installed with `npm ci`",
    },
    Tool {
        program: "cc",
        why: "crates with C parts (and the napi addon's link step) need a C compiler",
    },
    Tool {
        program: "cargo",
        why: "the backends are built with cargo",
    },
];

/// Checks every tool a run needs; the first missing one is the error. Returns the Node.js
/// version found.
pub fn check_tools() -> Result<String, PrereqError> {
    let mut node_version = String::new();
    for tool in TOOLS {
        let Some(version) = crate::tools::version(None, tool.program) else {
            return Err(PrereqError::Missing {
                tool: tool.program,
                why: tool.why,
            });
        };
        if tool.program == "node" {
            node_version = version;
        }
    }
    match node_major(&node_version) {
        Some(major) if major >= MIN_NODE_MAJOR => Ok(node_version),
        _ => Err(PrereqError::NodeTooOld {
            found: node_version,
        }),
    }
}

/// `v20.20.2` -> 20.
fn node_major(version: &str) -> Option<u32> {
    version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Whether `package` holds what its lockfile pins: the one check, in the layer below
/// ([`sut_kit::node_package::is_installed`]), so the suites that run Node scripts ask it too.
pub use sut_kit::node_package::is_installed;

/// Installs `package` with `npm ci` unless it already holds what its lockfile pins. Returns
/// whether it installed.
pub fn ensure_installed(root: &Path, package: &str) -> Result<bool, PrereqError> {
    let dir: PathBuf = root.join(package);
    if !dir.join("package-lock.json").is_file() {
        return Err(PrereqError::NoLockfile {
            package: package.to_owned(),
        });
    }
    if is_installed(&dir) {
        return Ok(false);
    }
    eprintln!("installing {package} (npm ci)");
    let output = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .current_dir(root)
        .output()
        .map_err(|_| PrereqError::Missing {
            tool: "npm",
            why: "the pinned AI SDK packages are installed with `npm ci`",
        })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(PrereqError::Install {
            package: package.to_owned(),
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        });
    }
    Ok(true)
}

/// Everything a stage that runs Node needs before it starts: the tools, then the harness's own
/// packages, then a check that the default runtime has a binary for this platform.
pub fn prepare(root: &Path) -> Result<(), PrereqError> {
    check_tools()?;
    for package in HARNESS_PACKAGES {
        ensure_installed(root, package)?;
    }
    contract::runtime::resolve(root, contract::runtime::DEFAULT_RUNTIME)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions() {
        assert_eq!(node_major("v20.20.2\n"), Some(20));
        assert_eq!(node_major("v18.0.0"), Some(18));
        assert_eq!(node_major("garbage"), None);
    }
}
