//! `harness deploy`: each architecture of `deploy/` validated, built into images and run in
//! containers against the mock provider on the host, its figures recorded as
//! `deploy.<backend>` (docs/deploy.md#run). A machine that cannot run containers records why,
//! with what it still validated, and the command succeeds: that is the machine, not the run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use conformance::cases;
use conformance::external::{self as suite, ExternalEnv};
use contract::results::{
    Conformance, DeployConformance, DeployResults, ImageSize, SystemdRun, ValidatedFiles, stages,
};
use sut_kit::manifest::{self, Backend};
use sut_kit::mock::Mock;
use sut_kit::oracle::Oracle;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};
use sut_kit::process::{self, ProcessSpec, RunningProcess};

use super::compose::{Compose, Env};
use super::podman::Podman;
use super::validate::Validators;
use super::{hop, images, probe};
use crate::progress::Progress;
use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

/// The architectures `deploy/` ships a folder for.
pub const ARCHITECTURES: [&str; 4] = ["rust-only", "napi", "unix", "http"];

/// What `compare --quick` records instead of the container run: it takes minutes
/// (docs/deploy.md#in-ci), and `scripts/test` validates every file already.
const LEFT_OUT_OF_QUICK: &str = "compare --quick leaves the container run out (minutes of image \
     builds and containers; docs/deploy.md#in-ci): `harness deploy --quick` runs it";

#[derive(Debug, Clone)]
pub struct Options {
    pub ctx: Context,
    /// Run the containers in a quick run too (`harness deploy --quick` asks for them by name;
    /// `compare --quick` does not).
    pub in_quick_runs: bool,
}

/// The deploy stage.
#[derive(Debug)]
pub struct DeployStage;

impl Stage for DeployStage {
    const NAME: &'static str = stages::DEPLOY;
    const TAKES: Takes = Takes::Built;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            in_quick_runs: false,
        }
    }

    fn unavailable(opts: &Options) -> Option<String> {
        (opts.ctx.quick && !opts.in_quick_runs).then(|| LEFT_OUT_OF_QUICK.to_owned())
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        let archs: Vec<String> = backends.iter().map(|b| b.name().to_owned()).collect();
        let failed = run_archs(run, opts, &archs).await?;
        Ok(Outcome::failed(failed))
    }
}

/// Runs each architecture; returns those that failed (built, ran and did not pass
/// conformance, or left something behind). Skips are not failures.
async fn run_archs(run: &mut RunDir, opts: &Options, archs: &[String]) -> Result<Vec<String>> {
    let root = &opts.ctx.root;
    let validated = validate(root)?;
    let podman = Podman::new(root);
    if let Some(reason) = podman.cannot_run().await {
        eprintln!("deploy: not run: {reason}");
        for arch in archs {
            skip(run, arch, &validated, &reason)?;
        }
        return Ok(Vec::new());
    }
    eprintln!("deploy: base image ({})", images::BASE_IMAGE);
    match images::base(&podman).await {
        Ok(b) => eprintln!(
            "deploy: base {} in {:.1} s",
            if b.cached { "cached" } else { "built" },
            b.seconds
        ),
        Err(e) => {
            let reason = format!("the base image did not build: {e}");
            for arch in archs {
                skip(run, arch, &validated, &reason)?;
            }
            return Ok(archs.to_vec());
        }
    }
    let logs = run.logs(stages::DEPLOY);
    std::fs::create_dir_all(&logs)?;
    crate::provider::ensure_built(root, "release", &logs).await?;
    let (mock_process, mock_port) = start_mock(root, &logs, opts.ctx.ready_timeout).await?;
    let mock = Mock::remote(&format!("http://127.0.0.1:{mock_port}")).await?;
    let oracle = Oracle::start(root, &run.logs(stages::CONFORMANCE))?;
    let backends = manifest::discover(&root.join("backends"))?;
    let mut failed = Vec::new();
    for arch in archs {
        let files = validated.for_arch(arch);
        let mut entry = DeployResults {
            validated: Some(files.clone()),
            ..DeployResults::default()
        };
        let backend = backends.iter().find(|b| b.name() == arch);
        if !ARCHITECTURES.contains(&arch.as_str()) {
            entry.skipped = Some(format!("deploy/ has no folder for {arch}"));
        } else if files.failed > 0 {
            entry.skipped = Some(format!(
                "{} of deploy/{arch}/'s files failed validation (`harness deploy --validate-only`)",
                files.failed
            ));
            failed.push(arch.clone());
        } else if let Some(backend) = backend {
            let ctx = ArchCtx {
                podman: &podman,
                mock: &mock,
                mock_port,
                oracle: &oracle,
                backend,
                run_path: run.path.clone(),
                logs: logs.clone(),
                opts,
            };
            if !deploy_one(&ctx, arch, &mut entry).await {
                failed.push(arch.clone());
            }
        } else {
            entry.skipped = Some(format!("no backend named {arch} under backends/"));
        }
        entry.loadavg = probe::loadavg();
        run.results.deploy.insert(arch.clone(), entry);
        run.save()?;
    }
    mock_process.stop().await;
    Ok(failed)
}

struct ArchCtx<'a> {
    podman: &'a Podman,
    mock: &'a Mock,
    mock_port: u16,
    oracle: &'a Oracle,
    backend: &'a Backend,
    run_path: PathBuf,
    logs: PathBuf,
    opts: &'a Options,
}

/// One architecture from images to `down`; false when it failed (a skip is recorded as such).
async fn deploy_one(ctx: &ArchCtx<'_>, arch: &str, entry: &mut DeployResults) -> bool {
    let missing = images::missing_artifacts(&ctx.opts.ctx.root, arch);
    if !missing.is_empty() {
        entry.skipped = Some(format!(
            "release artifacts missing: {} (harness build --backends {arch})",
            missing.join(", ")
        ));
        return false;
    }
    eprintln!("[deploy {arch}] building images");
    match images::build(ctx.podman, arch).await {
        Ok((built, secs)) => eprintln!("[deploy {arch}] {} images in {secs:.1} s", built.len()),
        Err(e) => {
            entry.skipped = Some(format!("its images did not build: {e}"));
            return false;
        }
    }
    let compose = match Compose::load(&ctx.opts.ctx.root, arch) {
        Ok(c) => c,
        Err(e) => {
            entry.skipped = Some(format!("{e:#}"));
            return false;
        }
    };
    entry.topology = Some(compose.topology.clone());
    for image in &compose.images {
        if let Ok(bytes) = ctx.podman.image_bytes(image).await {
            entry.images.push(ImageSize {
                name: image.clone(),
                bytes,
            });
        }
    }
    let env = Env {
        port: probe::free_port().unwrap_or(0),
        mock_port: ctx.mock_port,
        api_key: orchestrate::api_key_canary(),
    };
    let url = format!("http://127.0.0.1:{}", env.port);
    let up = probe::up(ctx.podman, &compose, &env).await;
    let ok = match up {
        Ok(started) => exercise(ctx, arch, &compose, &url, started, entry).await,
        Err(e) => {
            entry.skipped = Some(format!("`up` failed: {e}"));
            false
        }
    };
    if let Err(e) = probe::down(ctx.podman, &compose, &env).await {
        eprintln!("[deploy {arch}] down: {e}");
    }
    let left = ctx.podman.leftovers(&compose.project).await;
    if !left.is_empty() {
        eprintln!("[deploy {arch}] left behind: {}", left.join(", "));
    }
    let clean = left.is_empty();
    entry.left_behind = Some(left);
    entry.systemd = Some(systemd_run());
    ok && clean
}

/// Everything measured while the deployment is up.
async fn exercise(
    ctx: &ArchCtx<'_>,
    arch: &str,
    compose: &Compose,
    url: &str,
    started: Instant,
    entry: &mut DeployResults,
) -> bool {
    let http = match sut_kit::client::http_client() {
        Ok(h) => h,
        Err(e) => {
            entry.skipped = Some(format!("no HTTP client: {e:#}"));
            return false;
        }
    };
    let Some(cold) = probe::first_chat(&http, url, started, probe::COLD_START_LIMIT).await else {
        entry.skipped = Some(format!(
            "no chat completed through {url} within {} s of `up`",
            probe::COLD_START_LIMIT.as_secs()
        ));
        return false;
    };
    entry.cold_start_ms = Some(cold.as_secs_f64() * 1e3);
    eprintln!(
        "[deploy {arch}] first chat {:.0} ms after `up`",
        cold.as_secs_f64() * 1e3
    );

    let env = ExternalEnv {
        name: format!("deploy-{arch}"),
        base: url.to_owned(),
        oracle: ctx.oracle,
        mock: ctx.mock,
        quick: ctx.opts.ctx.quick,
        run_path: &ctx.run_path,
    };
    let verdict = Conformance::from_cases(suite::run(&cases::all_cases(&[]), &env).await);
    eprintln!(
        "[deploy {arch}] conformance through the port: {} passed, {} failed, {} unsupported",
        verdict.passed, verdict.failed, verdict.unsupported
    );
    let passed = verdict.is_verified();
    entry.conformance = Some(DeployConformance {
        passed: verdict.passed,
        failed: verdict.failed,
        unsupported: verdict.unsupported,
    });

    entry.container_hop_us = container_hop(ctx, arch, &http, url).await;

    if compose.has_sidecar {
        let kill = probe::kill_sidecar(ctx.podman, &http, url, &compose.container("sidecar")).await;
        match kill {
            Ok(k) => {
                eprintln!(
                    "[deploy {arch}] sidecar SIGKILL: status {:?}, recovered in {:?} ms",
                    k.status, k.recovery_ms
                );
                entry.sidecar_kill = Some(k);
            }
            Err(e) => eprintln!("[deploy {arch}] sidecar kill not measured: {e}"),
        }
    }
    passed
}

/// The same backend on plain loopback against the same mock, interleaved with the deployment.
async fn container_hop(
    ctx: &ArchCtx<'_>,
    arch: &str,
    http: &reqwest::Client,
    url: &str,
) -> Option<contract::results::ContainerHop> {
    let settings = StartSettings::new(
        &ctx.opts.ctx.root,
        "release",
        ctx.mock.openai_url(),
        ctx.opts.ctx.ready_timeout,
    );
    let local = match orchestrate::start_backend(
        ctx.backend,
        &settings,
        &InstanceOptions {
            instance: Some("loopback".into()),
            ..InstanceOptions::default()
        },
        &ctx.logs,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("[deploy {arch}] no loopback twin, no hop figure: {e}");
            return None;
        }
    };
    let progress = Progress::new(&format!("deploy {arch} hop"), 0);
    let hop = hop::measure(
        http,
        ctx.mock,
        arch,
        url,
        local.url(),
        hop::Plan::new(ctx.opts.ctx.quick),
        &progress,
    )
    .await;
    progress.finish();
    local.stop().await;
    if let Some(h) = &hop {
        let interval = h.ci95_us.map_or_else(
            || "no interval: fewer than two rounds".to_owned(),
            |[lo, hi]| format!("95% [{lo:+.0}, {hi:+.0}]"),
        );
        eprintln!(
            "[deploy {arch}] container hop: {:+.0} µs p50 ({interval}), {:.0} vs {:.0} µs on loopback",
            h.added_us, h.container_p50_us, h.loopback_p50_us
        );
    }
    hop
}

/// The systemd units are started for real only under a systemd init: `systemd-run` needs a
/// running manager (sd_booted's test is `/run/systemd/system`).
fn systemd_run() -> SystemdRun {
    if Path::new("/run/systemd/system").is_dir() {
        SystemdRun {
            ran: false,
            note: "systemd is this machine's init, but the transient-unit rehearsal is not \
                   implemented; the units were checked with systemd-analyze verify"
                .into(),
        }
    } else {
        SystemdRun {
            ran: false,
            note: "this machine's init is not systemd (no /run/systemd/system), so systemd-run \
                   cannot start a unit; the units were checked with systemd-analyze verify"
                .into(),
        }
    }
}

fn skip(run: &mut RunDir, arch: &str, v: &Validation, reason: &str) -> Result<()> {
    run.results.deploy.insert(
        arch.to_owned(),
        DeployResults {
            skipped: Some(reason.to_owned()),
            validated: Some(v.for_arch(arch)),
            systemd: Some(systemd_run()),
            loadavg: probe::loadavg(),
            ..DeployResults::default()
        },
    );
    run.save()
}

/// Every file under deploy/ and its verdict, by path.
struct Validation {
    outcomes: Vec<(PathBuf, bool)>,
}

impl Validation {
    /// The files of `deploy/<arch>/` plus the shared ones (`deploy/*` outside any
    /// architecture's folder: the base, the scripts, containers.conf).
    fn for_arch(&self, arch: &str) -> ValidatedFiles {
        let archs = ["unix", "http", "napi", "rust-only", "locust"];
        let mine = |p: &Path| {
            let first = p.iter().next().and_then(|c| c.to_str()).unwrap_or_default();
            first == arch || !archs.contains(&first)
        };
        let chosen: Vec<bool> = self
            .outcomes
            .iter()
            .filter(|(p, _)| mine(p))
            .map(|(_, ok)| *ok)
            .collect();
        ValidatedFiles {
            files: u32::try_from(chosen.len()).unwrap_or(u32::MAX),
            failed: u32::try_from(chosen.iter().filter(|ok| !**ok).count()).unwrap_or(u32::MAX),
        }
    }
}

fn validate(root: &Path) -> Result<Validation> {
    let deploy = root.join("deploy");
    let outcomes = Validators::new(root)
        .check_all(&deploy)
        .context("cannot list deploy/'s files")?;
    for (file, outcome) in &outcomes {
        if let Err(e) = outcome {
            eprintln!("deploy: {} failed validation: {e}", file.display());
        }
    }
    Ok(Validation {
        outcomes: outcomes
            .into_iter()
            .map(|(f, o)| (f.strip_prefix(&deploy).unwrap_or(&f).to_owned(), o.is_ok()))
            .collect(),
    })
}

/// The mock provider on every address of this host (the containers reach it through
/// `host.containers.internal`), its port.
async fn start_mock(
    root: &Path,
    logs: &Path,
    ready_timeout: Duration,
) -> Result<(RunningProcess, u16)> {
    let spec = ProcessSpec {
        label: "mock-provider".into(),
        program: root.join("target/release/mock-provider"),
        args: vec!["--listen".into(), "0.0.0.0:0".into()],
        env: vec![],
        cwd: root.to_owned(),
        log_dir: logs.to_owned(),
        ready_timeout,
    };
    let process = process::start(&spec).await?;
    let port = process
        .ready
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("the mock's ready line has no port: {}", process.ready.url))?;
    Ok((process, port))
}
