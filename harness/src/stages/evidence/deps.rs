//! What a backend depends on: registry crates from `cargo metadata` (the resolved graph for the
//! host platform, normal and build edges; dev-dependencies are the tests', not the backend's),
//! and npm packages from the lockfiles of the Node packages its build installs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One package of the graph.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The folder of its Cargo.toml.
    pub dir: PathBuf,
    /// A workspace (path) package: the project's own code.
    pub own: bool,
}

/// The resolved dependency graph of the workspace.
#[derive(Debug, Clone, Default)]
pub struct CargoGraph {
    packages: BTreeMap<String, Package>,
    /// Per package id: the ids it depends on through a normal or build edge.
    edges: BTreeMap<String, Vec<String>>,
}

impl CargoGraph {
    /// Runs `cargo metadata` in `root` for the host platform.
    pub fn load(root: &Path) -> Result<Self> {
        let host = host_triple()?;
        let out = std::process::Command::new("cargo")
            .args([
                "metadata",
                "--format-version",
                "1",
                "--locked",
                "--filter-platform",
                &host,
            ])
            .current_dir(root)
            .output()
            .context("running cargo metadata")?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let json: Value = serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
        Self::from_metadata(&json)
    }

    /// The graph of a `cargo metadata --format-version 1` document.
    pub fn from_metadata(json: &Value) -> Result<Self> {
        let mut graph = Self::default();
        for p in json["packages"]
            .as_array()
            .context("metadata without packages")?
        {
            let id = p["id"].as_str().context("package without id")?.to_owned();
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
            let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
            graph.packages.insert(
                id,
                Package {
                    name: p["name"].as_str().unwrap_or_default().to_owned(),
                    dir: dir.canonicalize().unwrap_or(dir),
                    own: p["source"].is_null(),
                },
            );
        }
        let nodes = json["resolve"]["nodes"]
            .as_array()
            .context("metadata without a resolved graph")?;
        for node in nodes {
            let id = node["id"].as_str().unwrap_or_default().to_owned();
            let deps = node["deps"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let shipped = deps
                .iter()
                .filter(|d| {
                    d["dep_kinds"].as_array().is_some_and(|kinds| {
                        kinds.iter().any(|k| k["kind"].as_str() != Some("dev"))
                    })
                })
                .filter_map(|d| d["pkg"].as_str().map(str::to_owned))
                .collect();
            graph.edges.insert(id, shipped);
        }
        Ok(graph)
    }

    /// The id of the package whose Cargo.toml is in `dir`.
    pub fn package_in(&self, dir: &Path) -> Option<String> {
        self.packages
            .iter()
            .find(|(_, p)| p.dir == dir)
            .map(|(id, _)| id.clone())
    }

    /// Every package `id` builds (itself included), through normal and build edges.
    fn closure(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([id.to_owned()]);
        while let Some(next) = queue.pop_front() {
            if seen.insert(next.clone()) {
                for d in self.edges.get(&next).into_iter().flatten() {
                    queue.push_back(d.clone());
                }
            }
        }
        seen
    }

    /// The workspace packages `id` builds, itself first.
    pub fn workspace_closure(&self, id: &str) -> Vec<&Package> {
        let mut out: Vec<&Package> = self.packages.get(id).into_iter().collect();
        out.extend(
            self.closure(id)
                .iter()
                .filter(|d| *d != id)
                .filter_map(|d| self.packages.get(d))
                .filter(|p| p.own),
        );
        out
    }

    /// (direct, transitive) registry crates of `id`: direct ones are named by one of its
    /// workspace crates, transitive ones are every registry crate it builds.
    pub fn registry_counts(&self, id: &str) -> (u32, u32) {
        let all = self.closure(id);
        let registry = |d: &&String| self.packages.get(*d).is_some_and(|p| !p.own);
        let transitive: BTreeSet<&String> = all.iter().filter(registry).collect();
        let direct: BTreeSet<&String> = all
            .iter()
            .filter(|d| self.packages.get(*d).is_some_and(|p| p.own))
            .flat_map(|d| self.edges.get(d).into_iter().flatten())
            .filter(registry)
            .collect();
        (count(direct.len()), count(transitive.len()))
    }
}

/// (direct, transitive) npm packages of the lockfile in `prefix`: direct are the root's
/// `dependencies`, transitive every package entry not marked `dev`.
pub fn npm_counts(lockfile: &Value) -> (u32, u32) {
    let packages = lockfile["packages"].as_object();
    let direct = packages
        .and_then(|p| p.get(""))
        .and_then(|root| root["dependencies"].as_object())
        .map_or(0, serde_json::Map::len);
    let transitive = packages.map_or(0, |p| {
        p.iter()
            .filter(|(k, v)| !k.is_empty() && v["dev"].as_bool() != Some(true))
            .count()
    });
    (count(direct), count(transitive))
}

/// The host's target triple (`rustc -vV`).
pub fn host_triple() -> Result<String> {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_counts_follow_normal_and_build_edges_not_dev() {
        let pkg = |id: &str, source: Value| json!({"id": id, "name": id, "manifest_path": format!("/nowhere/{id}/Cargo.toml"), "source": source});
        let reg = json!("registry+https://github.com/rust-lang/crates.io-index");
        let dep = |pkg: &str, kind: Value| json!({"pkg": pkg, "dep_kinds": [{"kind": kind}]});
        let meta = json!({
            "packages": [pkg("app", Value::Null), pkg("core", Value::Null), pkg("serde", reg.clone()),
                         pkg("cc", reg.clone()), pkg("insta", reg.clone()), pkg("itoa", reg)],
            "resolve": {"nodes": [
                {"id": "app", "deps": [dep("core", Value::Null), dep("insta", json!("dev"))]},
                {"id": "core", "deps": [dep("serde", Value::Null), dep("cc", json!("build"))]},
                {"id": "serde", "deps": [dep("itoa", Value::Null)]},
                {"id": "cc", "deps": []}, {"id": "insta", "deps": []}, {"id": "itoa", "deps": []}
            ]}
        });
        let g = CargoGraph::from_metadata(&meta).unwrap();
        assert_eq!(g.registry_counts("app"), (2, 3));
        let names: Vec<&str> = g
            .workspace_closure("app")
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["app", "core"]);
    }

    #[test]
    fn npm_counts_leave_dev_packages_out() {
        let lock = json!({"packages": {
            "": {"dependencies": {"ai": "7"}, "devDependencies": {"esbuild": "1"}},
            "node_modules/ai": {}, "node_modules/zod": {},
            "node_modules/esbuild": {"dev": true}
        }});
        assert_eq!(npm_counts(&lock), (1, 2));
    }
}
