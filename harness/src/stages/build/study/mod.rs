//! The build study: what building a backend costs from nothing and after a one-file change.
//!
//! With `harness build --clean-builds`, each backend is built in a fresh copy of the sources (a
//! git snapshot, [`source`]) with its own target folder and an empty npm cache: `cargo fetch`
//! (download), the manifest's `npm ci` steps (download and install), its other steps (compile).
//! Then two incremental rebuilds rerun the compile steps after touching one source file: one of
//! the backend's own crate, one of `backends/core`; each rebuild's cargo output must name the
//! touched crate, or the figure is marked as no rebuild. A clean build takes minutes on two
//! cores, so the result is kept in `reports/build-cache.json` ([`cache`]) under the sources'
//! hash and reused, marked so, by any later run of the same sources. Every run records the
//! toolchains each backend needs ([`toolchains`]). Method and figures: `docs/cost.md`.

pub mod cache;
pub mod source;
pub mod toolchains;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use contract::results::{BuildPhase, BuildResult, CleanBuild, Rebuild, StudyStep};

use sut_kit::manifest::Backend;

use crate::procfs;
use crate::progress::Progress;
use crate::run_dir::RunDir;
use crate::stages;
use cache::BuildCache;
use source::Snapshot;

pub const STAGE: &str = contract::results::stages::BUILD_STUDY;
/// The crate every Rust backend builds on; the second rebuild touches it.
pub const CORE_CRATE_DIR: &str = "backends/core";
/// A crate's own source files, in the order the rebuild picks the one to touch.
const CRATE_ROOTS: [&str; 2] = ["src/lib.rs", "src/main.rs"];

#[derive(Debug, Clone)]
pub struct Options {
    /// The shared context: its root holds the sources studied, its progress the study's lines.
    pub ctx: stages::Context,
    /// Measure clean builds that are not cached for these sources.
    pub clean_builds: bool,
    /// The folder holding the cache (`reports/`).
    pub reports: PathBuf,
}

/// What the study did for one backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Study {
    Measured,
    /// Taken from the cache, measured at that time: for these sources, or for the same
    /// dependencies with the own sources changed since.
    Reused {
        measured_at: String,
        sources_changed_since: bool,
    },
    /// Nothing cached for these sources and no `--clean-builds`.
    NotMeasured,
    Failed(String),
}

/// Runs the study on `backends`, recording into `run` (`backends.<name>.build`).
pub async fn run(
    backends: &[Backend],
    run: &mut RunDir,
    opts: &Options,
) -> Result<Vec<(String, Study)>> {
    let root = opts.ctx.root.as_path();
    let snapshot = source::snapshot(root)?;
    let cache = BuildCache::new(&opts.reports);
    let progress = opts.ctx.progress(STAGE, backends.len() as u64);
    let mut studies = Vec::new();
    for backend in backends {
        let name = backend.name().to_owned();
        progress.step(format!("[{name}]"));
        let toolchains = toolchains::needed(backend, root);
        run.results
            .backend_mut(&name)
            .build
            .get_or_insert_default()
            .toolchains = toolchains;
        let study = match cache.find(&name, &snapshot.source_hash, &snapshot.dependency_hash) {
            Some(mut cached) => {
                let (measured_at, sources_changed_since) = cached
                    .clean_build
                    .as_mut()
                    .map(|c| {
                        c.reused = true;
                        (c.measured_at.clone(), c.sources_changed_since)
                    })
                    .unwrap_or_default();
                if sources_changed_since {
                    progress.note(format!(
                        "[{name}] clean build measured {measured_at} for the same dependencies (the own sources changed since): reused"
                    ));
                } else {
                    progress.note(format!(
                        "[{name}] clean build of these sources measured {measured_at}: reused"
                    ));
                }
                record(run, &name, cached);
                Study::Reused {
                    measured_at,
                    sources_changed_since,
                }
            }
            None if !opts.clean_builds => {
                progress.note(format!(
                    "[{name}] no clean build measured for sources {}; `harness build --clean-builds` measures one (minutes per backend)",
                    short(&snapshot.source_hash)
                ));
                Study::NotMeasured
            }
            None => match measure(backend, root, &snapshot, run, &progress).await {
                Ok(figures) => {
                    cache.store(&name, &figures)?;
                    record(run, &name, figures);
                    Study::Measured
                }
                Err(e) => {
                    progress.note(format!("[{name}] build study failed: {e:#}"));
                    Study::Failed(format!("{e:#}"))
                }
            },
        };
        run.save()?;
        studies.push((name, study));
        progress.advance();
    }
    progress.finish();
    Ok(studies)
}

/// Copies the study's figures into the run, beside the steps `harness build` recorded.
fn record(run: &mut RunDir, name: &str, figures: BuildResult) {
    let build = run.results.backend_mut(name).build.get_or_insert_default();
    build.clean_s = figures.clean_s;
    build.install_s = figures.install_s;
    build.download_s = figures.download_s;
    build.compile_s = figures.compile_s;
    build.incremental_s = figures.incremental_s;
    build.incremental_core_s = figures.incremental_core_s;
    build.clean_build = figures.clean_build;
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The clean build and both rebuilds of one backend, in a temporary copy of the sources.
async fn measure(
    backend: &Backend,
    root: &Path,
    snapshot: &Snapshot,
    run: &RunDir,
    progress: &Progress,
) -> Result<BuildResult> {
    let name = backend.name();
    let load_avg_start = procfs::load_average();
    let work = tempfile::Builder::new()
        .prefix("arena-clean-build-")
        .tempdir()
        .context("cannot create a folder for the clean build")?;
    let src = work.path().join("src");
    std::fs::create_dir_all(&src)?;
    source::extract(root, snapshot, &src)?;
    let env = format!(
        "export CARGO_TARGET_DIR={} npm_config_cache={}; unset RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER; ",
        sh_quote(&work.path().join("target")),
        sh_quote(&work.path().join("npm-cache"))
    );
    let logs = run.logs(STAGE);
    std::fs::create_dir_all(&logs)?;
    let runner = StepRunner {
        name,
        src: &src,
        env: &env,
        logs: &logs,
        run,
        progress,
    };

    let mut plan: Vec<(String, BuildPhase)> = Vec::new();
    if toolchains::uses_cargo(backend, root) {
        plan.push(("cargo fetch --locked".to_owned(), BuildPhase::Download));
    }
    for step in &backend.manifest.build {
        plan.push((step.clone(), phase_of(step)));
    }
    let mut steps = Vec::new();
    for (i, (command, phase)) in plan.iter().enumerate() {
        let label = format!("clean.{}", i + 1);
        let (wall_s, log) = runner.step(&label, command).await?;
        steps.push(StudyStep {
            command: command.clone(),
            phase: *phase,
            wall_s,
            ok: true,
            log,
        });
    }
    let compile_steps: Vec<&String> = plan
        .iter()
        .filter(|(_, p)| *p == BuildPhase::Compile)
        .map(|(c, _)| c)
        .collect();
    let own_dir = backend
        .path
        .parent()
        .and_then(|d| d.strip_prefix(root).ok())
        .map(Path::to_path_buf);
    let mut rebuilds = Vec::new();
    for (label, dir) in [
        ("own", own_dir),
        ("core", Some(PathBuf::from(CORE_CRATE_DIR))),
    ] {
        let Some(dir) = dir else { continue };
        match runner.rebuild(label, &dir, &compile_steps).await? {
            Some(r) => rebuilds.push(r),
            None => progress.note(format!(
                "[{name}] {} has no Rust crate to touch; no {label} rebuild",
                dir.display()
            )),
        }
    }

    let sum = |phase: BuildPhase| -> Option<f64> {
        let walls: Vec<f64> = steps
            .iter()
            .filter(|s| s.phase == phase)
            .map(|s| s.wall_s)
            .collect();
        (!walls.is_empty()).then(|| walls.iter().sum())
    };
    let rebuild_s = |dir: &str| {
        rebuilds
            .iter()
            .find(|r| r.touched.starts_with(dir))
            .map(|r| r.wall_s)
    };
    let own_s = rebuilds
        .iter()
        .find(|r| !r.touched.starts_with(CORE_CRATE_DIR))
        .map(|r| r.wall_s);
    Ok(BuildResult {
        clean_s: Some(steps.iter().map(|s| s.wall_s).sum()),
        incremental_s: own_s,
        install_s: sum(BuildPhase::Install),
        download_s: sum(BuildPhase::Download),
        compile_s: sum(BuildPhase::Compile),
        incremental_core_s: rebuild_s(CORE_CRATE_DIR),
        clean_build: Some(CleanBuild {
            source_hash: snapshot.source_hash.clone(),
            dependency_hash: Some(snapshot.dependency_hash.clone()),
            git_sha: snapshot.git_sha.clone(),
            measured_at: crate::run_info::now_rfc3339(),
            measured_in_run: run.run().id.clone(),
            reused: false,
            sources_changed_since: false,
            load_avg_start,
            load_avg_end: procfs::load_average(),
            steps,
            rebuilds,
        }),
        toolchains: Vec::new(),
        steps: Vec::new(),
    })
}

/// The terminal table of the study: one row per backend, reused figures marked.
pub fn write_table(
    out: &mut impl std::io::Write,
    run: &RunDir,
    studies: &[(String, Study)],
) -> std::io::Result<()> {
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    writeln!(
        out,
        "{:<10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}  measured",
        "backend", "clean s", "download", "install", "compile", "incr own", "incr core"
    )?;
    for (name, study) in studies {
        let b = run
            .results
            .backends
            .get(name)
            .and_then(|b| b.build.as_ref());
        let get = |f: fn(&BuildResult) -> Option<f64>| b.and_then(f);
        let when = match study {
            Study::Measured => "now".to_owned(),
            Study::Reused {
                measured_at,
                sources_changed_since: false,
            } => format!("reused, measured {measured_at}"),
            Study::Reused { measured_at, .. } => {
                format!("reused, measured {measured_at} for the same dependencies")
            }
            Study::NotMeasured => "not measured (--clean-builds)".to_owned(),
            Study::Failed(_) => "FAILED (see above)".to_owned(),
        };
        writeln!(
            out,
            "{name:<10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}  {when}",
            cell(get(|b| b.clean_s)),
            cell(get(|b| b.download_s)),
            cell(get(|b| b.install_s)),
            cell(get(|b| b.compile_s)),
            cell(get(|b| b.incremental_s)),
            cell(get(|b| b.incremental_core_s)),
        )?;
    }
    Ok(())
}

/// `npm ci` / `npm install` fetch and install packages; every other step compiles.
fn phase_of(step: &str) -> BuildPhase {
    let words: Vec<&str> = step.split_whitespace().take(2).collect();
    match words[..] {
        ["npm", "ci" | "install" | "i"] => BuildPhase::Install,
        _ => BuildPhase::Compile,
    }
}

/// Runs steps in the copy of the sources, each logged under the run folder.
struct StepRunner<'a> {
    name: &'a str,
    src: &'a Path,
    env: &'a str,
    logs: &'a Path,
    run: &'a RunDir,
    progress: &'a Progress,
}

impl StepRunner<'_> {
    /// Runs one step; its wall time and log (relative to the run folder), or why it failed.
    async fn step(&self, label: &str, command: &str) -> Result<(f64, String)> {
        let log = self.logs.join(format!("{}.{label}.log", self.name));
        self.progress
            .step(format!("[{}] {label}: {command}", self.name));
        let ran = crate::step::run(&format!("{}{command}", self.env), self.src, &log)
            .await
            .with_context(|| format!("could not run `{command}`"))?;
        // The error names the command as the manifest has it, not with the study's variables.
        let wall_s = crate::step::check(command, &log, ran)?.wall_s;
        self.progress
            .note(format!("[{}] {label}: ok in {wall_s:.1}s", self.name));
        Ok((wall_s, self.run.relative(&log)))
    }

    /// Touches the crate root under `dir`, reruns `steps`, and reads which crates they
    /// compiled. `None` when `dir` holds no Rust crate.
    async fn rebuild(&self, label: &str, dir: &Path, steps: &[&String]) -> Result<Option<Rebuild>> {
        let Some(crate_name) = crate_name(&self.src.join(dir).join("Cargo.toml")) else {
            return Ok(None);
        };
        let Some(file) = CRATE_ROOTS
            .iter()
            .map(|f| dir.join(f))
            .find(|f| self.src.join(f).is_file())
        else {
            return Ok(None);
        };
        touch(&self.src.join(&file))?;
        let mut wall_s = 0.0;
        let mut compiled = Vec::new();
        for (i, command) in steps.iter().enumerate() {
            let (wall, log) = self.step(&format!("{label}.{}", i + 1), command).await?;
            wall_s += wall;
            let text = std::fs::read_to_string(self.run.path.join(&log)).unwrap_or_default();
            compiled.extend(compiled_crates(&text));
        }
        let rebuilt = compiled.contains(&crate_name);
        if !rebuilt {
            self.progress.note(format!(
                "[{}] {label} rebuild did not recompile {crate_name}: its figure is no rebuild",
                self.name
            ));
        }
        Ok(Some(Rebuild {
            touched: file.display().to_string(),
            crate_name,
            wall_s,
            compiled,
            rebuilt,
            ok: true,
        }))
    }
}

/// Sets a file's modification time to now, which is what makes cargo rebuild its crate.
fn touch(file: &Path) -> Result<()> {
    std::fs::File::options()
        .write(true)
        .open(file)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .with_context(|| format!("cannot touch {}", file.display()))
}

/// `[package] name` of a Cargo.toml.
fn crate_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    Some(value.get("package")?.get("name")?.as_str()?.to_owned())
}

/// The crates a cargo output says it compiled (`   Compiling name v1.2.3 (...)`).
fn compiled_crates(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.trim_start().strip_prefix("Compiling "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_and_compiled_crates() {
        assert_eq!(phase_of("npm ci --prefix x"), BuildPhase::Install);
        assert_eq!(phase_of("npm run build --prefix x"), BuildPhase::Compile);
        assert_eq!(phase_of("cargo build --release -p b"), BuildPhase::Compile);
        let log = "   Compiling leanspec-core v0.1.0 (/x/backends/core)\n   Compiling backend-unix v0.1.0 (/x)\n    Finished `release` profile";
        assert_eq!(compiled_crates(log), ["leanspec-core", "backend-unix"]);
        assert_eq!(sh_quote(Path::new("/a b/it's")), "'/a b/it'\\''s'");
    }
}
