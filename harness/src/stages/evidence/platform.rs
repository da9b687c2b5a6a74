//! Cross-platform evidence from a backend's manifest and code: the artifacts compiled for one
//! platform, the builds a release for each listed platform needs and whether this machine can
//! make them, the runtimes shipped, and the OS-specific APIs of its own code. Nothing here
//! guesses whether the code would compile elsewhere: a platform this machine cannot build for
//! is said to be so (docs/report.md#cross-platform).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use contract::results::{CrossPlatform, NativeArtifact, PlatformBuild};

use sut_kit::manifest::{Backend, Runtime};

use super::code;

/// The platforms a release is counted over: the 64-bit desktop and server platforms that Node.js
/// and Rust both ship for (docs/report.md#cross-platform).
pub const PLATFORMS: [&str; 6] = [
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
];

/// The Rust targets this machine has a standard library for (`rustup target list
/// --installed`; the host alone without rustup).
pub fn installed_targets() -> BTreeSet<String> {
    let listed = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect::<BTreeSet<_>>()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        super::deps::host_triple().into_iter().collect()
    } else {
        listed
    }
}

/// The cross-platform evidence of `backend` over its own `files`.
pub fn gather(
    root: &Path,
    backend: &Backend,
    files: &BTreeSet<PathBuf>,
    installed: &BTreeSet<String>,
) -> CrossPlatform {
    let native_artifacts: Vec<NativeArtifact> = backend
        .manifest
        .artifacts
        .iter()
        .filter_map(|a| {
            let kind = if a.ends_with(".node") {
                "node-addon"
            } else if a.starts_with("target/") {
                "executable"
            } else {
                return None;
            };
            Some(NativeArtifact {
                path: a.clone(),
                kind: kind.to_owned(),
            })
        })
        .collect();
    let platforms: Vec<PlatformBuild> = PLATFORMS
        .iter()
        .map(|t| {
            let here = installed.contains(*t);
            PlatformBuild {
                target: (*t).to_owned(),
                buildable_here: here,
                why_not: (!here).then(|| {
                    format!(
                        "this machine has no Rust standard library for {t} (rustup target add \
                         {t}), nor its linker; no build for it was tried"
                    )
                }),
            }
        })
        .collect();
    let runtimes = match backend.manifest.runtime {
        Runtime::Node => vec!["node".to_owned()],
        Runtime::None => Vec::new(),
    };
    let os_specific = code::os_specific(root, files);
    CrossPlatform {
        native_builds: u32::try_from(native_artifacts.len() * platforms.len()).unwrap_or(u32::MAX),
        os_specific_apis: u32::try_from(os_specific.len()).unwrap_or(u32::MAX),
        native_artifacts,
        platforms,
        runtimes,
        os_specific,
    }
}
