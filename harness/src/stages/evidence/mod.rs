//! `harness evidence`: measured proxies for the notes' rows that are not timings, recorded as
//! `backends.<name>.evidence`:
//!
//! - maintainability: the project's own code each backend's manifest builds from (lines and
//!   languages), its dependencies (crates from `cargo metadata`, npm packages from the
//!   lockfiles it ships) and what the last major SDK upgrade changed in it (from git);
//! - cross-platform: the native artifacts it needs per platform, the runtimes it ships and the
//!   OS-specific APIs of its own code;
//! - port conflicts: instances side by side and a fixed port twice, failed binds and leftovers;
//! - security: another local user's probes against a running instance;
//! - deployment: the processes, images, secrets, volumes and ports one instance of the shipped
//!   deployment (`deploy/<name>/`) declares, and its configuration lines;
//! - development speed: the edit-build-test loop, timed from a marked edit of the chat path to
//!   one conformance case's verdict on a fresh instance;
//! - debug experience: failures seeded into a running instance and what an operator gets from
//!   each (a log line naming where, the request id in every component's lines, a stack across
//!   the language boundary, each hop replayed with curl, a profiler attached to each process).
//!
//! Maintainability, cross-platform and deployment read files and need no build; the last two start the backend, so they run on
//! the backends that passed conformance (verify before benchmark). Methods, and what each proxy
//! cannot see: docs/report.md#evidence.

pub mod code;
pub mod debug;
pub mod debug_hops;
pub mod debug_logs;
pub mod deployment;
pub mod deps;
pub mod devloop;
pub mod platform;
pub mod ports;
pub mod security;
mod stage_entry;
pub mod upgrade;

pub use stage_entry::EvidenceStage;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use contract::results::{Evidence, Maintainability};
use futures::StreamExt;

use sut_kit::manifest::Backend;

use crate::provider;
use crate::run_dir::RunDir;
use crate::stages;
use crate::verify;

pub const STAGE: &str = contract::results::stages::EVIDENCE;
/// Instances started side by side: two per core of the two-core machine the project is
/// measured on, enough for a clash of kernel-chosen ports to show (docs/report.md#port-conflicts).
pub const INSTANCES: u32 = 4;
/// Backends whose debug experience a quick run gathers at once, each on its own instance: what
/// it records is what the logs and tools showed, not how long they took, and the seeds are
/// mostly waits (an idle timeout, logs going quiet); two lanes take half the time
/// (docs/architecture.md#budgets). A full run takes one backend at a time.
const QUICK_DEBUG_LANES: usize = 2;
/// How shared code is attributed (docs/report.md#maintainability).
pub const ATTRIBUTION: &str = "every backend is charged every line it builds from: a file two \
    backends build counts for both (shared_lines says how much of a total is shared)";

#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.force`: start backends that did not pass conformance in this run.
    pub ctx: stages::Context,
    /// Instances started side by side for the port-conflict proxy. The same in a quick run and
    /// a full one, since each part is one start per instance (docs/report.md#evidence).
    pub instances: u32,
}

/// Gathers the evidence of `backends` into `run`, saving after each part.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> Result<()> {
    let root = opts.ctx.root.as_path();
    let mut phase = std::time::Instant::now();
    // What the stage's budget goes on (docs/architecture.md#budgets), said as each part ends.
    let mut took = |what: &str| {
        eprintln!(
            "evidence: {what} took {:.1} s",
            phase.elapsed().as_secs_f64()
        );
        phase = std::time::Instant::now();
    };
    // The file-read parts failing (no cargo metadata) must not cost the parts that start the
    // backends, and the other way round: each is recorded as far as it got.
    if let Err(e) = statics(root, backends, run) {
        eprintln!("maintainability and cross-platform evidence not gathered: {e:#}");
    }
    run.save()?;
    took("the files read (maintainability, cross-platform, deployment)");

    let chosen = verify::verified_in_run(run, backends, root, STAGE, opts.ctx.force);
    run.save()?;
    if chosen.is_empty() {
        return Ok(());
    }
    let profile = run.run().profile.clone();
    let logs = run.logs(STAGE);
    let mock = provider::start(root, &profile, &logs).await?;
    let cfg = provider::start_settings(root, &profile, &mock, opts.ctx.ready_timeout);
    let user = security::probe_user();
    for backend in &chosen {
        let name = backend.name();
        let log_dir = logs.join(name);
        match ports::measure(backend, &cfg, opts.instances, &log_dir, &user).await {
            Ok((ports, security)) => {
                let e = &mut run.results.backend_mut(name).evidence;
                e.port_conflicts = Some(ports);
                e.security = Some(security);
            }
            Err(err) => eprintln!("[{name}] port conflicts and security not measured: {err:#}"),
        }
        run.save()?;
    }
    took("port conflicts and security");
    let lanes = if opts.ctx.quick { QUICK_DEBUG_LANES } else { 1 };
    let debugged: Vec<(&str, Result<_>)> = futures::stream::iter(chosen.iter().map(|backend| {
        let (cfg, logs) = (&cfg, &logs);
        async move {
            let name = backend.name();
            (name, debug::measure(backend, cfg, &logs.join(name)).await)
        }
    }))
    .buffered(lanes)
    .collect()
    .await;
    for (name, measured) in debugged {
        match measured {
            Ok(debug) => {
                eprintln!(
                    "[{name}] debug: {} of {} checks met ({} not applicable) in {:.1} s",
                    debug.checks_met,
                    debug.checks_applicable,
                    debug.checks_not_applicable,
                    debug.wall_s
                );
                run.results.backend_mut(name).evidence.debug = Some(debug);
            }
            Err(err) => eprintln!("[{name}] debug experience not measured: {err:#}"),
        }
    }
    run.save()?;
    mock.stop().await;
    took("debug experience");
    let speed = development_speed(&chosen, run, opts).await;
    took("development speed");
    speed
}

/// The edit-build-test loop of each backend, one after another: each rebuilds, and two
/// rebuilds side by side would time each other.
async fn development_speed(chosen: &[Backend], run: &mut RunDir, opts: &Options) -> Result<()> {
    let profile = run.run().profile.clone();
    if profile != devloop::PROFILE {
        eprintln!(
            "development speed not measured: the manifests build {} and this run starts {profile} builds",
            devloop::PROFILE
        );
        return Ok(());
    }
    let logs = run.logs(STAGE);
    let mock = sut_kit::mock::Mock::start().await?;
    let oracle = sut_kit::oracle::Oracle::start(&opts.ctx.root, &logs)?;
    let env = conformance::suite::SuiteEnv {
        start: sut_kit::orchestrate::StartSettings::new(
            &opts.ctx.root,
            &profile,
            mock.openai_url(),
            opts.ctx.ready_timeout,
        ),
        oracle: &oracle,
        mock: &mock,
        quick: true,
        run_path: run.path.join("devloop"),
    };
    for backend in chosen {
        let name = backend.name();
        eprintln!("[{name}] development speed: edit, rebuild, restart, one case");
        match devloop::measure(backend, &env, &logs.join(name).join("devloop")).await {
            Ok(speed) => {
                eprintln!(
                    "[{name}] edit to verdict in {:.1} s ({})",
                    speed.loop_s,
                    if speed.passed { "passed" } else { "failed" }
                );
                run.results.backend_mut(name).evidence.development_speed = Some(speed);
            }
            Err(e) => eprintln!("[{name}] development speed not measured: {e:#}"),
        }
        run.save()?;
    }
    drop(oracle);
    mock.stop().await;
    Ok(())
}

/// Maintainability, cross-platform and deployment evidence, read from files.
fn statics(root: &Path, backends: &[Backend], run: &mut RunDir) -> Result<()> {
    let graph = deps::CargoGraph::load(root)?;
    let installed = platform::installed_targets();
    let upgrade = upgrade::load(root)
        .inspect_err(|e| eprintln!("the last upgrade's cost not gathered: {e}"))
        .ok();
    let owned: Vec<(String, code::OwnCode)> = backends
        .iter()
        .map(|b| (b.name().to_owned(), code::own_code(root, b, &graph)))
        .collect();
    let mut builders: BTreeMap<&Path, u32> = BTreeMap::new();
    for (_, own) in &owned {
        for f in &own.files {
            *builders.entry(f.as_path()).or_default() += 1;
        }
    }
    for (backend, (name, own)) in backends.iter().zip(&owned) {
        let languages = code::languages(root, &own.files);
        let shared_lines = own
            .files
            .iter()
            .filter(|f| builders.get(f.as_path()).is_some_and(|n| *n > 1))
            .map(|f| code::file_lines(root, f))
            .sum();
        let (crates_direct, crates_transitive) = graph
            .package_in(&code::backend_dir(root, backend))
            .map_or((0, 0), |id| graph.registry_counts(&id));
        let (mut npm_direct, mut npm_transitive) = (0, 0);
        for prefix in code::npm_prefixes(backend) {
            let lock = root.join(&prefix).join("package-lock.json");
            let Ok(text) = std::fs::read_to_string(&lock) else {
                continue;
            };
            let (d, t) = deps::npm_counts(&serde_json::from_str(&text)?);
            npm_direct += d;
            npm_transitive += t;
        }
        let maintainability = Maintainability {
            own_lines: languages.values().map(|c| c.lines).sum(),
            own_files: languages.values().map(|c| c.files).sum(),
            shared_lines,
            languages,
            components: own.components.clone(),
            rule: ATTRIBUTION.to_owned(),
            crates_direct,
            crates_transitive,
            npm_direct,
            npm_transitive,
            dependencies_transitive: crates_transitive + npm_transitive,
            last_upgrade: upgrade
                .as_ref()
                .map(|(record, changes)| upgrade::cost(record, changes, &own.folders)),
        };
        let cross = platform::gather(root, backend, &own.files, &installed);
        let deployed = deployment::gather(root, backend)
            .inspect_err(|err| eprintln!("[{name}] deployment evidence not gathered: {err}"))
            .ok();
        let e = &mut run.results.backend_mut(name).evidence;
        e.maintainability = Some(maintainability);
        e.cross_platform = Some(cross);
        e.deployment = deployed;
    }
    Ok(())
}

/// The terminal table of the stage.
pub fn write_table(
    out: &mut impl std::io::Write,
    results: &contract::results::Results,
) -> Result<()> {
    writeln!(
        out,
        "{:<10} {:>9} {:>7} {:>7} {:>6} {:>7} {:>9} {:>9} {:>12} {:>7}",
        "backend",
        "own lines",
        "crates",
        "npm",
        "os-api",
        "natives",
        "port prob",
        "sec hits",
        "deploy parts",
        "debug"
    )?;
    for (name, b) in &results.backends {
        let e: &Evidence = &b.evidence;
        if e.is_empty() {
            continue;
        }
        let m = e.maintainability.as_ref();
        let c = e.cross_platform.as_ref();
        let dash = || "-".to_owned();
        let sec = e.security.as_ref().map_or_else(dash, |s| {
            match (s.succeeded, s.attempts, &s.skipped) {
                (Some(hit), Some(of), _) => format!("{hit}/{of}"),
                (_, _, Some(_)) => "skipped".to_owned(),
                _ => dash(),
            }
        });
        writeln!(
            out,
            "{name:<10} {:>9} {:>7} {:>7} {:>6} {:>7} {:>9} {:>9} {:>12} {:>7}",
            m.map_or_else(dash, |m| m.own_lines.to_string()),
            m.map_or_else(dash, |m| m.crates_transitive.to_string()),
            m.map_or_else(dash, |m| m.npm_transitive.to_string()),
            c.map_or_else(dash, |c| c.os_specific_apis.to_string()),
            c.map_or_else(dash, |c| c.native_builds.to_string()),
            e.port_conflicts
                .as_ref()
                .map_or_else(dash, |p| p.problems.to_string()),
            sec,
            e.deployment
                .as_ref()
                .map_or_else(dash, |d| d.moving_parts.to_string()),
            e.debug.as_ref().map_or_else(dash, |d| format!(
                "{}/{}",
                d.checks_met, d.checks_applicable
            )),
        )?;
    }
    Ok(())
}
