//! The JavaScript runtime as an axis of a run (`--runtimes node26,node24,node20,bun`): each
//! runtime other than the default stack's makes targets of its own of every backend that runs
//! JavaScript (`unix@bun`, `napi@node20`), verified by the conformance suite and measured by
//! the bench beside the default stack (docs/design.md#runtimes). Runtimes are installed on
//! demand (`npm ci --prefix runtimes/<name>`); one that cannot be is recorded with the reason
//! and the others are still measured.

use std::path::Path;

use anyhow::Result;
use contract::results::{RuntimeInfo, StageSkip, stages};
use contract::runtime::{self, RuntimeSpec};
use sut_kit::manifest::{self, Backend};

use crate::prereq;

/// The package whose sources (and esbuild) a stack's bundles are built from.
const SIDECAR_PACKAGE: &str = "backends/sidecar";
use crate::run_dir::RunDir;
use crate::run_info;

/// Installs `spec` when its lockfile's packages are not there yet, and finds its binary. The
/// error names the runtime and the package, whatever failed.
pub fn install(root: &Path, spec: &RuntimeSpec) -> Result<runtime::Resolved, String> {
    let package = spec
        .package_for(std::env::consts::OS, std::env::consts::ARCH)
        .map_err(|e| e.to_string())?;
    let named = format!("runtime {} ({package}@{})", spec.name, spec.version);
    let dir = root.join(spec.dir());
    if spec.resolve(root).is_err() {
        // npm skips an optional package it cannot fetch and still succeeds, and the binary
        // packages are optional (one per platform): a checkout whose last `npm ci` ran without
        // the registry counts as installed without the binary. Forgetting that install makes
        // this one try the registry again.
        let _ = std::fs::remove_file(dir.join("node_modules/.package-lock.json"));
    }
    prereq::ensure_installed(root, &spec.dir())
        .map_err(|e| format!("{named} cannot be installed: {e}"))?;
    if spec.resolve(root).is_err() {
        return Err(format!(
            "{named} cannot be installed: `npm ci --prefix {}` finished without {package}, \
             which npm skips when it cannot fetch it (is the registry reachable? `npm ci \
             --loglevel=verbose` names the reason)",
            spec.dir()
        ));
    }
    if spec.own_sdk {
        build_sdk_bundles(root, spec).map_err(|e| format!("{named}: {e}"))?;
    }
    spec.resolve(root).map_err(|e| format!("{named}: {e}"))
}

/// A stack with an AI SDK of its own (`node20-ai6`): the sidecar's sources bundled against its
/// packages into `runtimes/<name>/dist` (its `npm run build`, with the sidecar's esbuild), built
/// every run so that the bundles are those of the sources being measured.
fn build_sdk_bundles(root: &Path, spec: &RuntimeSpec) -> Result<(), String> {
    prereq::ensure_installed(root, SIDECAR_PACKAGE)
        .map_err(|e| format!("its bundles need {SIDECAR_PACKAGE}: {e}"))?;
    let output = std::process::Command::new("npm")
        .args(["run", "--silent", "build", "--prefix"])
        .arg(root.join(spec.dir()))
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run npm to bundle its AI SDK: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "bundling the sidecar against its AI SDK failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// `backends` with their targets on each runtime of `names` beyond the default stack's. Each
/// runtime used is recorded in `run.runtimes`; one that cannot be installed is recorded there
/// with its error, printed, and each of its targets gets the reason as a skip of the
/// conformance stage (so nothing measures it). A name that is not a pinned runtime is an error.
pub fn targets(
    root: &Path,
    backends: Vec<Backend>,
    names: &[String],
    run: &mut RunDir,
) -> Result<Vec<Backend>> {
    let axis = runtime::parse_axis(names)?;
    let mut installed: Vec<&str> = Vec::new();
    for spec in axis.iter().filter(|r| r.name != runtime::DEFAULT_RUNTIME) {
        match install(root, spec) {
            Ok(found) => {
                let info = run_info::runtime_info(root, &found, false);
                run.results.run.runtimes.insert(found.name.clone(), info);
                installed.push(spec.name);
            }
            Err(reason) => {
                eprintln!("runtimes: {reason}; its targets are not measured");
                let source = spec
                    .package_for(std::env::consts::OS, std::env::consts::ARCH)
                    .map_or_else(|_| spec.name.to_owned(), str::to_owned);
                run.results.run.runtimes.insert(
                    spec.name.to_owned(),
                    RuntimeInfo {
                        version: None,
                        source: format!("{source}@{}", spec.version),
                        default: false,
                        error: Some(reason.clone()),
                        sdk: run_info::sdk_versions(root, spec),
                    },
                );
                for target in manifest::with_runtimes(&backends, &[spec.name])
                    .iter()
                    .filter(|b| b.js_runtime.is_some())
                {
                    run.results
                        .backend_mut(target.name())
                        .skipped
                        .push(StageSkip {
                            stage: stages::CONFORMANCE.to_owned(),
                            reason: reason.clone(),
                        });
                }
            }
        }
    }
    run.save()?;
    Ok(manifest::with_runtimes(&backends, &installed))
}

/// The names of `--backends` with each target on another runtime (`unix@bun`) replaced by its
/// base (`unix`), once each: what the manifests are selected by.
pub fn base_names(named: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in named {
        let base = runtime::split_target(name).0.to_owned();
        if !out.contains(&base) {
            out.push(base);
        }
    }
    out
}

/// `--runtimes` followed by the runtime of each target named in `--backends` (`bun` for
/// `unix@bun`) that it does not list. A named default stack (`unix@node26`) adds nothing.
pub fn with_named_runtimes(runtimes: &[String], named: &[String]) -> Vec<String> {
    let mut out = runtimes.to_vec();
    for name in named {
        if let (_, Some(rt)) = runtime::split_target(name)
            && !out.iter().any(|r| r == rt)
        {
            out.push(rt.to_owned());
        }
    }
    out
}

/// When backends were named, the targets among `targets` they ask for: a plain name keeps its
/// backend and, on each runtime of `--runtimes`, its targets there (`--backends unix --runtimes
/// bun`); `unix@bun` keeps that target alone. Nothing named keeps everything.
pub fn keep_named(targets: Vec<Backend>, named: &[String], runtimes: &[String]) -> Vec<Backend> {
    if named.is_empty() {
        return targets;
    }
    targets
        .into_iter()
        .filter(|t| {
            let (base, rt) = runtime::split_target(t.name());
            named.iter().any(|n| n == t.name())
                || (named.iter().any(|n| n == base)
                    && rt.is_some_and(|rt| runtimes.iter().any(|r| r == rt)))
        })
        .collect()
}

/// Whether a failure of `name` fails the run: a target of the default stack's does; one of a
/// `--runtimes` comparison is a finding about that runtime (recorded with its failed cases, and
/// not measured), not a failure of the backend.
pub fn counts_as_failure(name: &str) -> bool {
    runtime::split_target(name).1.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkout with one JavaScript backend and one without, and no runtime packages at all:
    /// `runtimes/bun` has no lockfile, so its install fails as an unreachable registry would.
    fn checkout() -> (tempfile::TempDir, Vec<Backend>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, runtime) in [("unix", "node"), ("rust-only", "none")] {
            let folder = dir.path().join("backends").join(name);
            std::fs::create_dir_all(&folder).unwrap();
            let toml = format!(
                "name = {name:?}\nsummary = \"s\"\nstart = [\"x\"]\nruntime = {runtime:?}\n"
            );
            std::fs::write(folder.join("backend.toml"), toml).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("runtimes/bun")).unwrap();
        let backends = manifest::discover(&dir.path().join("backends")).unwrap();
        (dir, backends)
    }

    #[test]
    fn a_runtime_that_cannot_be_installed_is_recorded_and_its_targets_skipped() {
        let (dir, backends) = checkout();
        let reports = dir.path().join("reports");
        let mut run = RunDir::create(&reports, dir.path(), "debug").unwrap();
        let names = ["node26".to_owned(), "bun".to_owned()];
        let targets = targets(dir.path(), backends.clone(), &names, &mut run).unwrap();
        assert_eq!(
            targets, backends,
            "no target of a runtime that is not installed"
        );
        let error = run.results.run.runtimes["bun"].error.clone().unwrap();
        assert!(
            error.contains("runtime bun") && error.contains("@oven/bun-"),
            "{error}"
        );
        let skipped = &run.results.backends["unix@bun"];
        assert_eq!(skipped.runtime.as_deref(), Some("bun"));
        assert_eq!(skipped.skipped[0].reason, error);
        assert!(!run.results.backends.contains_key("rust-only@bun"));
    }

    /// The registry out of reach, without the network: the runtime's own pinned package.json
    /// and lockfile, with npm told to use only an empty cache of its own. npm then skips the
    /// (optional) binary package and succeeds, which must still read as a failed install.
    #[test]
    fn an_unreachable_registry_names_the_runtime_and_its_package() {
        let (dir, backends) = checkout();
        let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes/bun");
        let folder = dir.path().join("runtimes/bun");
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(pinned.join(file), folder.join(file)).unwrap();
        }
        let cache = dir.path().join("npm-cache");
        let npmrc = format!("offline=true\ncache={}\n", cache.display());
        std::fs::write(folder.join(".npmrc"), npmrc).unwrap();
        let mut run = RunDir::create(&dir.path().join("reports"), dir.path(), "debug").unwrap();
        let names = ["bun".to_owned()];
        let targets = targets(dir.path(), backends.clone(), &names, &mut run).unwrap();
        assert_eq!(targets, backends, "the others are still measured");
        let error = run.results.run.runtimes["bun"].error.clone().unwrap();
        assert!(
            error.starts_with("runtime bun (@oven/bun-")
                && error.contains("cannot be installed")
                && error.contains("registry"),
            "{error}"
        );
        assert_eq!(run.results.backends["unix@bun"].skipped[0].reason, error);
    }

    #[test]
    fn the_default_stack_alone_adds_nothing() {
        let (dir, backends) = checkout();
        let mut run = RunDir::create(&dir.path().join("reports"), dir.path(), "debug").unwrap();
        let targets = targets(dir.path(), backends.clone(), &[], &mut run).unwrap();
        assert_eq!(targets, backends);
        assert!(run.results.backends.is_empty());
    }

    #[test]
    fn a_named_target_on_another_runtime_brings_its_runtime_and_alone() {
        let named = ["unix@bun".to_owned()];
        assert_eq!(base_names(&named), ["unix"]);
        assert_eq!(with_named_runtimes(&[], &named), ["bun"]);
        let both = ["bun".to_owned()];
        assert_eq!(with_named_runtimes(&both, &named), ["bun"]);
        let (_, backends) = checkout();
        let all = manifest::with_runtimes(&backends, &["bun"]);
        let kept = |named: &[&str], runtimes: &[&str]| -> Vec<String> {
            let named: Vec<String> = named.iter().map(|s| (*s).to_owned()).collect();
            let runtimes: Vec<String> = runtimes.iter().map(|s| (*s).to_owned()).collect();
            keep_named(all.clone(), &named, &runtimes)
                .iter()
                .map(|b| b.name().to_owned())
                .collect()
        };
        assert_eq!(kept(&["unix@bun"], &[]), ["unix@bun"]);
        assert_eq!(kept(&["unix"], &["bun"]), ["unix", "unix@bun"]);
        assert_eq!(kept(&["unix", "unix@bun"], &[]), ["unix", "unix@bun"]);
        assert_eq!(kept(&[], &["bun"]).len(), all.len());
    }

    #[test]
    fn only_the_default_stack_fails_a_run() {
        assert!(counts_as_failure("unix"));
        assert!(counts_as_failure("unix+sse"));
        assert!(!counts_as_failure("napi@bun"));
    }
}
