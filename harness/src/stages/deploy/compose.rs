//! One architecture's compose file as the deploy stage runs it: what it declares (services,
//! the published port, volumes, networks, images), `up` with podman-compose pointed at the
//! mock provider on the host, and `down` removing what podman-compose 1.0.3 leaves behind.

use std::path::{Path, PathBuf};

use contract::results::Topology;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::podman::{Podman, PodmanError};

/// The service that runs the sidecar in the two-process architectures' compose files.
pub const SIDECAR_SERVICE: &str = "sidecar";
/// How a container reaches the host (podman's name for it; Docker's is host.docker.internal).
pub const HOST_FROM_CONTAINER: &str = "host.containers.internal";

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    services: BTreeMap<String, Service>,
    #[serde(default)]
    volumes: BTreeMap<String, serde_yaml_ng::Value>,
    #[serde(default)]
    networks: BTreeMap<String, Option<Network>>,
}

#[derive(Debug, Deserialize)]
struct Service {
    image: String,
    #[serde(default)]
    ports: Vec<String>,
    #[serde(default)]
    network_mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Network {
    #[serde(default)]
    internal: bool,
}

/// A compose file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Compose {
    pub arch: String,
    /// The compose project's name (containers are `{project}_{service}_1`).
    pub project: String,
    pub file: PathBuf,
    pub topology: Topology,
    pub images: Vec<String>,
    pub has_sidecar: bool,
}

impl Compose {
    pub fn load(root: &Path, arch: &str) -> anyhow::Result<Self> {
        let file = root.join(format!("deploy/{arch}/compose.yaml"));
        let text = std::fs::read_to_string(&file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        Self::parse(arch, file, &text)
    }

    pub fn parse(arch: &str, file: PathBuf, text: &str) -> anyhow::Result<Self> {
        let f: File = serde_yaml_ng::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: not a compose file: {e}", file.display()))?;
        // The variables podman-compose substitutes: only the port's default matters here.
        let ports = f
            .services
            .values()
            .flat_map(|s| &s.ports)
            .map(|p| p.replace("${LEANSPEC_PORT:-3030}", "3030"))
            .collect();
        let mut images: Vec<String> = f.services.values().map(|s| s.image.clone()).collect();
        images.sort();
        images.dedup();
        Ok(Self {
            arch: arch.to_owned(),
            project: format!("leanspec-{arch}"),
            topology: Topology {
                services: f.services.keys().cloned().collect(),
                ports,
                volumes: f.volumes.keys().cloned().collect(),
                networks: f
                    .networks
                    .iter()
                    .map(|(name, n)| {
                        if n.as_ref().is_some_and(|n| n.internal) {
                            format!("{name} (internal)")
                        } else {
                            name.clone()
                        }
                    })
                    // A service in another's namespace has no network of its own.
                    .chain(f.services.iter().filter_map(|(name, s)| {
                        let mode = s.network_mode.as_deref()?;
                        Some(format!("{name}: network_mode {mode}"))
                    }))
                    .collect(),
            },
            images,
            has_sidecar: f.services.contains_key(SIDECAR_SERVICE),
            file,
        })
    }

    /// The container podman-compose names for `service`.
    pub fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }

    fn compose(&self, podman: &Podman, env: &Env, args: &[&str]) -> tokio::process::Command {
        let file = self.file.display().to_string();
        let mut argv = vec!["-p", self.project.as_str(), "-f", file.as_str()];
        argv.extend_from_slice(args);
        let mut c = podman.command("podman-compose", &argv);
        c.envs(env.vars());
        c
    }

    pub async fn up(&self, podman: &Podman, env: &Env) -> Result<(), PodmanError> {
        podman
            .run(self.compose(podman, env, &["up", "-d"]))
            .await
            .map(drop)
    }

    /// `down -v`, then the project's networks, which podman-compose 1.0.3 leaves behind.
    pub async fn down(&self, podman: &Podman, env: &Env) -> Result<(), PodmanError> {
        let down = podman.run(self.compose(podman, env, &["down", "-v"])).await;
        let networks = podman
            .podman(&["network", "ls", "--format", "{{.Name}}"])
            .await?;
        for n in networks
            .lines()
            .map(str::trim)
            .filter(|n| super::podman::owned_by(n, &self.project))
        {
            podman.podman(&["network", "rm", "-f", n]).await?;
        }
        down.map(drop)
    }
}

/// The variables the compose files read, for one run against the host's mock.
#[derive(Debug, Clone)]
pub struct Env {
    pub port: u16,
    pub mock_port: u16,
    pub api_key: String,
}

impl Env {
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("LEANSPEC_PORT".into(), self.port.to_string()),
            // The suite and the measurements send faster than a public deployment's limit.
            ("LEANSPEC_RATE_LIMIT".into(), "off".into()),
            (contract::API_KEY_ENV.into(), self.api_key.clone()),
            (
                "LEANSPEC_PROVIDER_URL".into(),
                format!("http://{HOST_FROM_CONTAINER}:{}/v1", self.mock_port),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compose_file_gives_its_topology_images_and_sidecar() {
        let text = r#"
name: leanspec-unix
services:
  server:
    image: localhost/a:latest
    ports: ["${LEANSPEC_PORT:-3030}:3030"]
  sidecar:
    image: localhost/b:latest
    network_mode: "service:server"
networks:
  inside: {internal: true}
  outside:
volumes:
  sockets: {}
"#;
        let c = Compose::parse("unix", "x.yaml".into(), text).unwrap();
        assert_eq!(c.topology.services, ["server", "sidecar"]);
        assert_eq!(c.topology.ports, ["3030:3030"]);
        assert_eq!(c.topology.volumes, ["sockets"]);
        assert_eq!(
            c.topology.networks,
            [
                "inside (internal)",
                "outside",
                "sidecar: network_mode service:server"
            ]
        );
        assert_eq!(c.images, ["localhost/a:latest", "localhost/b:latest"]);
        assert!(c.has_sidecar);
        assert_eq!(c.container("sidecar"), "leanspec-unix_sidecar_1");
    }

    #[test]
    fn a_file_that_is_not_compose_says_which() {
        let e = Compose::parse("x", "deploy/x/compose.yaml".into(), "services: 3").unwrap_err();
        assert!(e.to_string().contains("deploy/x/compose.yaml"), "{e}");
    }
}
