//! Static validation of every file under `deploy/`, each with the validator of its kind:
//! compose files against the Compose Specification's JSON schema (`check-jsonschema`),
//! Kubernetes manifests against the API's schemas (`kubernetes-validate`), systemd units with
//! `systemd-analyze verify`, Containerfiles, scripts and the rest with checks of our own. A file
//! no validator knows is an error, so nothing under `deploy/` goes unchecked. The Python
//! validators are pinned in `deploy/requirements.txt` and installed by `scripts/setup` into
//! `.venv/`; a missing validator is an error that says how to get it, never a silent pass.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use super::validate_error::ValidateError;
use super::validate_error::{invalid, read};

/// Native sidecars (an init container with `restartPolicy: Always`) are GA from this
/// Kubernetes release on; the manifests are checked against the first API that has them all
/// (docs/deploy.md#kubernetes).
pub const KUBERNETES_VERSION: &str = "1.33.0";

/// Where `scripts/setup` installs the pinned Python validators, relative to the repository.
pub const VENV_DIR: &str = ".venv";

/// The kinds of file `deploy/` holds, each with its validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Compose,
    SystemdUnit,
    KubernetesManifest,
    Containerfile,
    /// A shell script: `bash -n`.
    Script,
    /// A JSON file (the pinned Node runtime's package.json and lockfile).
    Json,
    /// containers.conf: TOML.
    Toml,
    /// requirements.txt: every line `name==version`.
    PinnedRequirements,
    /// An env file example: `NAME=value` lines.
    EnvFile,
}

impl Kind {
    /// The kind of `rel`, a path relative to `deploy/`; `None` for a file no validator knows.
    pub fn of(rel: &Path) -> Option<Self> {
        let name = rel.file_name().and_then(OsStr::to_str)?;
        let in_kubernetes = rel.components().any(|c| c.as_os_str() == "kubernetes");
        Some(match name {
            "compose.yaml" => Kind::Compose,
            _ if name.ends_with(".service") => Kind::SystemdUnit,
            _ if in_kubernetes && name.ends_with(".yaml") => Kind::KubernetesManifest,
            _ if name.starts_with("Containerfile") => Kind::Containerfile,
            "build-images" | "build-base" | "new-http-env" => Kind::Script,
            "package.json" | "package-lock.json" => Kind::Json,
            "containers.conf" => Kind::Toml,
            "requirements.txt" => Kind::PinnedRequirements,
            _ if name.ends_with(".env.example") => Kind::EnvFile,
            _ => return None,
        })
    }
}

/// Every file under `deploy_dir` that belongs to the project: installed packages
/// (`node_modules`) and generated secrets (`http.env`, ignored by git) are left out.
pub fn files(deploy_dir: &Path) -> Result<Vec<PathBuf>, ValidateError> {
    let mut out = Vec::new();
    let mut dirs = vec![deploy_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| ValidateError::Io {
            file: dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| ValidateError::Io {
                    file: dir.clone(),
                    source,
                })?
                .path();
            let name = path.file_name().and_then(OsStr::to_str).unwrap_or_default();
            if name == "node_modules" || name == "http.env" {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One file and what its check said: its kind, or why it failed.
pub type Outcome = (PathBuf, Result<Kind, ValidateError>);

/// The validators, found once.
#[derive(Debug, Clone)]
pub struct Validators {
    venv_bin: PathBuf,
}

impl Validators {
    /// The validators of the repository at `repo` (its `.venv/`, and `systemd-analyze` and
    /// `bash` from `PATH`).
    pub fn new(repo: &Path) -> Self {
        Self {
            venv_bin: repo.join(VENV_DIR).join("bin"),
        }
    }

    fn python_tool(&self, name: &str) -> Result<PathBuf, ValidateError> {
        let path = self.venv_bin.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(ValidateError::ToolMissing {
                tool: path.display().to_string(),
                hint: "scripts/setup installs the pinned validators of deploy/requirements.txt",
            })
        }
    }

    /// Validates one file as `kind`.
    pub fn check(&self, file: &Path, kind: Kind) -> Result<(), ValidateError> {
        match kind {
            Kind::Compose => {
                let tool = self.python_tool("check-jsonschema")?;
                run_validator(
                    file,
                    Command::new(tool)
                        .args(["--builtin-schema", "vendor.compose-spec"])
                        .arg(file),
                )
            }
            Kind::KubernetesManifest => {
                let tool = self.python_tool("kubernetes-validate")?;
                run_validator(
                    file,
                    Command::new(tool)
                        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
                        .arg(file),
                )
            }
            Kind::SystemdUnit => super::validate_units::verify(file),
            Kind::Containerfile => containerfile(file),
            Kind::Script => run_validator(file, Command::new("bash").arg("-n").arg(file)),
            Kind::Json => {
                let text = read(file)?;
                serde_json::from_str::<serde_json::Value>(&text)
                    .map(drop)
                    .map_err(|e| invalid(file, e.to_string()))
            }
            Kind::Toml => {
                let text = read(file)?;
                text.parse::<toml::Table>()
                    .map(drop)
                    .map_err(|e| invalid(file, e.to_string()))
            }
            Kind::PinnedRequirements => lines_match(file, "name==version", |line| {
                line.split_once("==")
                    .is_some_and(|(name, version)| !name.is_empty() && !version.is_empty())
            }),
            Kind::EnvFile => lines_match(file, "NAME=value", |line| {
                line.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
            }),
        }
    }

    /// Validates every file under `deploy_dir`: each file with what its check said.
    pub fn check_all(&self, deploy_dir: &Path) -> Result<Vec<Outcome>, ValidateError> {
        Ok(files(deploy_dir)?
            .into_iter()
            .map(|file| {
                let rel = file.strip_prefix(deploy_dir).unwrap_or(&file);
                let outcome = match Kind::of(rel) {
                    Some(kind) => self.check(&file, kind).map(|()| kind),
                    None => Err(ValidateError::Unknown { file: file.clone() }),
                };
                (file, outcome)
            })
            .collect())
    }
}

/// Runs a validator; any failure is `Invalid` with what it printed.
pub(super) fn run_validator(file: &Path, command: &mut Command) -> Result<(), ValidateError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ValidateError::ToolMissing {
            tool: program.clone(),
            hint: "install it with the system's package manager",
        },
        _ => ValidateError::Io {
            file: file.to_path_buf(),
            source: e,
        },
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        message.push('\n');
        message.push_str(stderr.trim());
    }
    Err(invalid(file, format!("{program} says:\n{message}")))
}

fn lines_match(file: &Path, form: &str, ok: impl Fn(&str) -> bool) -> Result<(), ValidateError> {
    let text = read(file)?;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || ok(line) {
            continue;
        }
        return Err(invalid(
            file,
            format!("line {}: {line:?} is not of the form {form}", n + 1),
        ));
    }
    Ok(())
}

/// What every image must do (docs/deploy.md#images): start from the base the project builds
/// (`FROM ${BASE}`, never a pulled image), run as a non-root user, and declare a HEALTHCHECK.
fn containerfile(file: &Path) -> Result<(), ValidateError> {
    let text = read(file)?;
    let instructions: Vec<(&str, &str)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .collect();
    let from: Vec<&str> = instructions
        .iter()
        .filter(|(i, _)| i.eq_ignore_ascii_case("FROM"))
        .map(|(_, arg)| arg.trim())
        .collect();
    if from.is_empty() || from.iter().any(|f| !f.starts_with("${BASE}")) {
        return Err(invalid(
            file,
            format!(
                "FROM must be ${{BASE}} (the base deploy/base/build-base makes), found {from:?}"
            ),
        ));
    }
    let user = instructions
        .iter()
        .rev()
        .find(|(i, _)| i.eq_ignore_ascii_case("USER"))
        .map(|(_, arg)| arg.trim());
    match user {
        None => return Err(invalid(file, "USER: none; the image would run as root")),
        Some(u) if u == "root" || u == "0" || u.starts_with("0:") || u.starts_with("root:") => {
            return Err(invalid(
                file,
                format!("USER {u}: the image must not run as root"),
            ));
        }
        Some(_) => {}
    }
    if !instructions
        .iter()
        .any(|(i, _)| i.eq_ignore_ascii_case("HEALTHCHECK"))
    {
        return Err(invalid(
            file,
            "HEALTHCHECK: none; every image checks its /health",
        ));
    }
    Ok(())
}
