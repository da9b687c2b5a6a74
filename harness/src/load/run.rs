//! `harness load --locust`: a Locust master and N local workers (or workers on other machines
//! that connect to `--locust-master ADDR`) play the locustfile against an external target;
//! the workers' reports are merged ([`super::merge`]) into `load.distributed`, beside the
//! harness's own client at the same rate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use contract::results::{ClientFigures, Distributed};
use sut_kit::process;
use tokio::task::JoinHandle;

use super::interleave::{self, Window};
use super::{LOCUST_VERSION, REQUIREMENTS, RunShape, locustfile, merge, parse_reports};
use crate::external::{self, TargetSpec, client};
use crate::run_dir::RunDir;
use crate::stages;
use crate::stats;

/// How long the workers may take to start and connect before the run starts.
const CONNECT_GRACE: Duration = Duration::from_secs(60);
/// After the schedule: the locustfile's own drain (30 s) plus time for its `done` to arrive.
const DRAIN_GRACE: Duration = Duration::from_secs(35);
const POLL: Duration = Duration::from_millis(250);
/// Conversations at the run's rate before either client measures, not recorded: a Node
/// backend's first seconds run code its JIT has not compiled yet (the first interleaved `unix`
/// run's first window: gap p99 59.6 ms Locust / 41.9 ms harness, the seven after 15-31 ms;
/// docs/distributed.md#agreement-between-the-clients).
const WARMUP_S: f64 = 5.0;

#[derive(Debug, Clone)]
pub struct Options {
    /// The shared context: the root, where Locust's environment is installed.
    pub ctx: stages::Context,
    pub target: TargetSpec,
    pub mock_url: String,
    pub workers: u32,
    pub rate_rps: f64,
    pub seconds: f64,
    /// Bind the master here and start no local workers: they run on other machines.
    pub master: Option<String>,
    /// Kill local worker 0 this long after the run starts (to prove a lost worker is reported).
    pub kill_worker_after: Option<Duration>,
    /// Also run the harness's own client at the same rate, for comparison.
    pub harness_client: bool,
    /// With the harness's client and local workers: the two clients take turns in this many
    /// windows each ([`interleave`]); 1 runs the harness's client half before the workers and
    /// half after.
    pub windows: u32,
}

impl Options {
    /// Whether the two clients take turns: only local workers share this machine's clock.
    fn interleaved(&self) -> bool {
        self.harness_client && self.master.is_none() && self.windows > 1
    }
}

/// The target and the mock answer (bad input: the caller exits 2 before making a run folder).
pub async fn check_inputs(opts: &Options) -> Result<()> {
    external::check_reachable("target", &opts.target.url, "/health").await?;
    external::check_reachable(
        "the mock provider",
        &opts.mock_url,
        "/__mock/timeline?tag=probe",
    )
    .await?;
    Ok(())
}

/// Runs the distributed load and records it as `load.distributed`.
pub async fn run(run: &mut RunDir, opts: &Options) -> Result<Distributed> {
    let dir = run.path.join("load");
    std::fs::create_dir_all(&dir)?;
    let locust = ensure_locust(&opts.ctx.root, &dir).await?;
    let file = dir.join("locustfile.py");
    std::fs::write(&file, locustfile())?;
    let out = dir.join("reports.jsonl");
    std::fs::write(&out, "")?;
    let (bind_host, port) = match &opts.master {
        Some(addr) => split_addr(addr)?,
        None => ("127.0.0.1".to_owned(), free_port()?),
    };
    // Interleaved, the two clients take turns in windows; otherwise the harness's own client
    // runs half its time before the workers and half after, its two halves merged: a machine
    // that gets busier or quieter during the run then moves both sides alike at least roughly.
    let interleaved = opts.interleaved();
    let windows = if interleaved { opts.windows } else { 1 };
    let window_s = opts.seconds / f64::from(windows);
    let pause_s = if interleaved {
        interleave::pause_s(window_s)
    } else {
        0.0
    };
    let http = sut_kit::client::http_client()?;
    eprintln!(
        "warming the target up: {}/s for {WARMUP_S} s, not recorded",
        opts.rate_rps
    );
    client::open_loop(&http, &opts.target.url, "warmup", opts.rate_rps, WARMUP_S).await;
    let half = opts.seconds / 2.0;
    let own_before = if opts.harness_client && !interleaved {
        eprintln!(
            "the harness's own client at {}/s for {half} s",
            opts.rate_rps
        );
        Some(client::open_loop(&http, &opts.target.url, "own-a", opts.rate_rps, half).await)
    } else {
        None
    };
    let n = opts.workers.to_string();
    let master_args = [
        "-f",
        &path_str(&file),
        "--master",
        "--headless",
        "--only-summary",
        "--master-bind-host",
        &bind_host,
        "--master-bind-port",
        &port.to_string(),
        "--expect-workers",
        &n,
        "-u",
        &n,
        "-r",
        &n,
        "--host",
        &opts.target.url,
        "--arena-rate",
        &opts.rate_rps.to_string(),
        "--arena-workers",
        &n,
        "--arena-seconds",
        &opts.seconds.to_string(),
        "--arena-windows",
        &windows.to_string(),
        "--arena-pause-s",
        &pause_s.to_string(),
        "--arena-out",
        &path_str(&out),
    ];
    let master = spawn(
        &locust,
        &master_args,
        &opts.ctx.root,
        &dir.join("master.log"),
    );
    let mut workers: Vec<Option<JoinHandle<_>>> = Vec::new();
    if opts.master.is_none() {
        for i in 0..opts.workers {
            let args = [
                "-f",
                &path_str(&file),
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                &port.to_string(),
            ];
            let log = dir.join(format!("worker-{i}.log"));
            workers.push(Some(spawn(&locust, &args, &opts.ctx.root, &log)));
        }
    } else {
        eprintln!(
            "locust master on {bind_host}:{port}: start {} workers with\n  locust -f locustfile.py \
             --worker --master-host <this machine> --master-port {port}\n(the locustfile is {})",
            opts.workers,
            file.display()
        );
    }
    let shape = RunShape {
        target: opts.target.name.clone(),
        url: opts.target.url.clone(),
        workers: opts.workers,
        rate_rps: opts.rate_rps,
        seconds: opts.seconds,
        windows,
    };
    let schedule_s = window_s * f64::from(windows) + pause_s * f64::from(windows - 1);
    let own_turns = async {
        if interleaved {
            let url = &opts.target.url;
            let (rate, grace) = (opts.rate_rps, CONNECT_GRACE);
            Some(interleave::own_windows(&out, url, rate, window_s, windows, grace).await)
        } else {
            None
        }
    };
    let (waited, own_turns) = tokio::join!(
        wait_for_reports(&out, opts, &mut workers, schedule_s),
        own_turns
    );
    master.abort();
    for w in workers.into_iter().flatten() {
        w.abort();
    }
    let reports = parse_reports(&std::fs::read_to_string(&out)?)?;
    waited?;
    let mut figures = merge(&shape, &reports);
    if let Some(turns) = own_turns {
        let turns = turns?;
        let locust = interleave::locust_windows(&reports, windows);
        let own: Vec<Window> = turns.iter().map(Window::from).collect();
        figures.interleaved = Some(interleave::compare(&locust, &own, window_s));
        let mut merged = client::ClientSamples::default();
        for t in turns {
            merged.merge(t);
        }
        figures.harness_client = Some(client_figures(&merged));
    }
    if let Some(mut own) = own_before {
        eprintln!(
            "the harness's own client at {}/s for {half} s",
            opts.rate_rps
        );
        let after = client::open_loop(&http, &opts.target.url, "own-b", opts.rate_rps, half).await;
        own.merge(after);
        figures.harness_client = Some(client_figures(&own));
    }
    super::record(run, &figures)?;
    Ok(figures)
}

fn client_figures(own: &client::ClientSamples) -> ClientFigures {
    ClientFigures {
        conversations: own.conversations,
        errors: own.errors,
        ttft_us: stats::latency_stats(&own.ttft),
        gap_us: stats::latency_stats(&own.gap),
    }
}

/// Polls the reports until every worker said `done`, or the run's time is up.
async fn wait_for_reports(
    out: &Path,
    opts: &Options,
    workers: &mut [Option<JoinHandle<std::io::Result<std::process::ExitStatus>>>],
    schedule_s: f64,
) -> Result<()> {
    let begun = tokio::time::Instant::now();
    let mut first_report: Option<tokio::time::Instant> = None;
    loop {
        tokio::time::sleep(POLL).await;
        let reports = parse_reports(&std::fs::read_to_string(out)?)?;
        if first_report.is_none() && !reports.is_empty() {
            first_report = Some(tokio::time::Instant::now());
        }
        let done = reports.iter().filter(|r| r.kind == "done").count() as u32;
        if done >= opts.workers {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        match first_report {
            None if now - begun > CONNECT_GRACE => bail!(
                "no worker reported within {CONNECT_GRACE:?}; see the logs in {}",
                out.parent()
                    .map_or(String::new(), |p| p.display().to_string())
            ),
            None => {}
            Some(t) => {
                if let (Some(after), Some(slot)) = (opts.kill_worker_after, workers.first_mut())
                    && now - t >= after
                    && let Some(worker) = slot.take()
                {
                    eprintln!("killing worker 0 (SIGKILL) {after:?} into the run");
                    worker.abort();
                }
                if now - t > Duration::from_secs_f64(schedule_s) + DRAIN_GRACE {
                    eprintln!(
                        "{done} of {} workers finished; the others are lost",
                        opts.workers
                    );
                    return Ok(());
                }
            }
        }
    }
}

/// `sh -c` in its own process group, logged; aborting the handle kills the group.
fn spawn(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    log: &Path,
) -> JoinHandle<std::io::Result<std::process::ExitStatus>> {
    let mut command = format!("exec {}", quote(&path_str(program)));
    for a in args {
        command.push(' ');
        command.push_str(&quote(a));
    }
    let (cwd, log) = (cwd.to_owned(), log.to_owned());
    tokio::spawn(async move { process::run_shell(&command, &cwd, &log).await })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn split_addr(addr: &str) -> Result<(String, u16)> {
    let (host, port) = addr
        .rsplit_once(':')
        .with_context(|| format!("--locust-master wants HOST:PORT, got {addr:?}"))?;
    let port = port
        .parse()
        .with_context(|| format!("--locust-master {addr:?}: {port:?} is not a port"))?;
    Ok((host.to_owned(), port))
}

/// `.venv/bin/locust` at the pinned version, installed from [`REQUIREMENTS`] when missing.
async fn ensure_locust(root: &Path, log_dir: &Path) -> Result<PathBuf> {
    let locust = root.join(".venv/bin/locust");
    if has_version(&locust) {
        return Ok(locust);
    }
    let log = log_dir.join("install-locust.log");
    let command = format!(
        "{{ [ -x .venv/bin/pip ] || python3 -m venv .venv; }} && .venv/bin/pip install \
         --quiet --disable-pip-version-check -r {REQUIREMENTS}"
    );
    eprintln!("installing locust {LOCUST_VERSION} into .venv ({REQUIREMENTS})");
    let status = process::run_shell(&command, root, &log).await?;
    if !status.success() || !has_version(&locust) {
        bail!(
            "could not install locust {LOCUST_VERSION} into .venv; see {}:\n{}",
            log.display(),
            process::file_tail(&log, 2000)
        );
    }
    Ok(locust)
}

/// Whether `locust` answers with the pinned version.
fn has_version(locust: &Path) -> bool {
    crate::tools::version(None, locust)
        .is_some_and(|v| format!("{v} ").contains(&format!("locust {LOCUST_VERSION} ")))
}
