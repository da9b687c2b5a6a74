//! podman and podman-compose as the deploy stage drives them: always with the project's
//! `deploy/containers.conf` (runc, cgroupfs, ulimits the machine allows:
//! docs/deploy.md#the-machine), every command's output kept for the error it may become.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use thiserror::Error;
use tokio::process::Command;

/// A container command that failed, or a machine that cannot run containers.
#[derive(Debug, Error)]
pub enum PodmanError {
    #[error("`{command}` could not start: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// The programs a container run needs: Debian's packages (docs/deploy.md#the-machine).
pub const TOOLS: [&str; 4] = ["podman", "podman-compose", "runc", "mmdebstrap"];

#[derive(Debug, Clone)]
pub struct Podman {
    conf: PathBuf,
    cwd: PathBuf,
}

impl Podman {
    pub fn new(root: &Path) -> Self {
        Self {
            conf: root.join("deploy/containers.conf"),
            cwd: root.to_owned(),
        }
    }

    /// The repository's root, where every command runs.
    pub fn root(&self) -> &Path {
        &self.cwd
    }

    /// `program args...` with the project's containers.conf, run from the repository's root.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .env("CONTAINERS_CONF", &self.conf)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs `command` to the end; its stdout, or its stderr in the error.
    pub async fn run(&self, mut command: Command) -> Result<String, PodmanError> {
        let shown = show(&command);
        let out = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|source| PodmanError::Spawn {
                command: shown.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(PodmanError::Failed {
                command: shown,
                status: out.status.to_string(),
                stderr: sut_kit::process::text_tail(&String::from_utf8_lossy(&out.stderr), 1500),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub async fn podman(&self, args: &[&str]) -> Result<String, PodmanError> {
        self.run(self.command("podman", args)).await
    }

    /// Why this machine cannot run the deployments, or `None` when it can: every tool on PATH
    /// and `podman info` answering (storage and runtime configured).
    pub async fn cannot_run(&self) -> Option<String> {
        let missing: Vec<&str> = TOOLS
            .into_iter()
            .filter(|t| !crate::tools::present(t))
            .collect();
        if !missing.is_empty() {
            return Some(format!(
                "no {} on PATH (Debian's packages: apt-get install {})",
                missing.join(", "),
                missing.join(" ")
            ));
        }
        match self
            .podman(&["info", "--format", "{{.Host.OCIRuntime.Name}}"])
            .await
        {
            Ok(_) => None,
            Err(e) => Some(format!("podman cannot run containers here: {e}")),
        }
    }

    /// An image's size in bytes, as `podman image inspect` reports it.
    pub async fn image_bytes(&self, image: &str) -> Result<u64, PodmanError> {
        let out = self
            .podman(&["image", "inspect", "--format", "{{.Size}}", image])
            .await?;
        out.trim().parse().map_err(|_| PodmanError::Failed {
            command: format!("podman image inspect {image}"),
            status: "unreadable size".into(),
            stderr: out,
        })
    }

    /// The host pid of a running container's main process.
    pub async fn container_pid(&self, name: &str) -> Option<i32> {
        let out = self
            .podman(&["inspect", "--format", "{{.State.Pid}}", name])
            .await
            .ok()?;
        out.trim().parse().ok().filter(|p: &i32| *p > 0)
    }

    /// Every container, pod, network and volume whose name is `project` or starts with
    /// `project_` (podman-compose's naming), as `kind name`.
    pub async fn leftovers(&self, project: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (kind, args) in [
            ("container", &["ps", "-a", "--format", "{{.Names}}"][..]),
            ("pod", &["pod", "ls", "--format", "{{.Name}}"][..]),
            ("network", &["network", "ls", "--format", "{{.Name}}"][..]),
            ("volume", &["volume", "ls", "--format", "{{.Name}}"][..]),
        ] {
            let Ok(out) = self.podman(args).await else {
                found.push(format!("{kind} (could not list)"));
                continue;
            };
            found.extend(
                out.lines()
                    .map(str::trim)
                    .filter(|n| owned_by(n, project))
                    .map(|n| format!("{kind} {n}")),
            );
        }
        found
    }
}

/// Whether a container, network or volume name belongs to the compose project `project`.
pub fn owned_by(name: &str, project: &str) -> bool {
    name == project
        || name
            .strip_prefix(project)
            .is_some_and(|rest| rest.starts_with('_'))
}

fn show(c: &Command) -> String {
    let c = c.as_std();
    std::iter::once(c.get_program().to_string_lossy().into_owned())
        .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_owns_its_prefixed_names_only() {
        assert!(owned_by("leanspec-unix_sockets", "leanspec-unix"));
        assert!(owned_by("leanspec-unix", "leanspec-unix"));
        assert!(!owned_by("leanspec-unix2_x", "leanspec-unix"));
        assert!(!owned_by("leanspec-http_server_1", "leanspec-unix"));
    }
}
