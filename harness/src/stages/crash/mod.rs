//! `harness crash`: the fault x backend matrix. For every backend and fault, a fresh instance
//! gets a number of streams going, one fault is injected (into one of the streams, into the
//! provider's answer to it, or into the JS runtime itself), and the stage records whether the
//! server survived, how far the fault reached, what new requests got meanwhile, when the backend
//! served again, and what the provider went on doing for streams that died. The method and its
//! choices are `docs/crash.md`.
//!
//! Layout: this file holds the stage (settings, verify before measuring, one backend after the
//! other, recording); [`fault_run`] plays one fault on one instance, [`readers`] one reader
//! fault, both over [`env::Env`] and a [`target::Target`] (a started instance or a deployment
//! elsewhere, which [`elsewhere`] plays, with [`control`]'s command); [`sampler`] sends the new
//! requests while a fault plays out; [`analysis`] turns what was seen into a
//! [`CrashOutcome`]; [`table`] prints the matrix.
//!
//! Records `crash` (or `crash_pool` with `--pool N`) at the top of results.json and in
//! `backends.<name>`.

mod analysis;
pub mod control;
pub mod elsewhere;
mod env;
mod fault_run;
mod readers;
mod readers_mock;
mod sampler;
mod stage_entry;
mod streams;
pub mod table;
mod target;

pub use stage_entry::Crash;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use contract::results::{CrashOutcome, CrashRun, Fault, StageSkip};
use futures::StreamExt;

use sut_kit::client;
use sut_kit::manifest::Backend;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};

use crate::procfs;
use crate::provider;
use crate::run_dir::RunDir;
use crate::stages;
use crate::verify;

pub const STAGE: &str = contract::results::stages::CRASH;
/// The stage with `--pool N`: its logs folder and its name in skip records.
pub const POOL_STAGE: &str = contract::results::stages::CRASH_POOL;

/// How the stage measures; [`Settings::full`] and [`Settings::quick`] are the two the command
/// line offers, tests shorten the limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Streams in flight when the fault is injected (the faulted one included).
    pub streams: u32,
    /// Every stream is `text` with this many chunks this far apart, so all are still running
    /// well after the fault.
    pub stream_chunks: u32,
    pub stream_gap_ms: u64,
    pub sample_interval: Duration,
    /// A new request with no complete answer for this long is a hang.
    pub hang_after: Duration,
    /// The longest one fault is watched after its injection.
    pub watch_limit: Duration,
    /// The shortest: a fault's after-effects (a delayed exit) get this long to show.
    pub min_watch: Duration,
    /// How long the streams may take to get going before the fault is injected.
    pub in_flight_limit: Duration,
    /// `slow-reader`, `stalled-reader` and `long-stream`.
    pub readers: readers::ReaderSettings,
}

/// The figure: 20 streams in flight (10 with `--quick`).
const STREAMS: u32 = 20;
const QUICK_STREAMS: u32 = 10;
/// A quick run's streams last 3 s: every quick fault but a hang has played out within half a
/// second of its injection (the dropped chat goes after 10 chunks), and a hung sidecar is
/// found and killed 1.6-2.5 s after it stopped, which the provider's side of its streams must
/// outlast for their cancelling to show: with 2 s streams 3 of 10 had ended first
/// (docs/crash.md#quick-runs).
const QUICK_STREAM_CHUNKS: u32 = 60;
/// A quick run watches a fault for at most 8 s: a hung sidecar is replaced within 2 s
/// (docs/crash.md#hang-detection), and the 2 s streams then end; what has not recovered by
/// then (napi's stopped process, which nothing watches) is recorded as not recovered within
/// the watch (`watch_limit_ms`), as a full run records it after 20 s. The provider's faults,
/// which need the full watch for the SDK's retries, are not quick faults.
const QUICK_WATCH_LIMIT: Duration = Duration::from_secs(8);
/// One fault of each kind of blast, within the stage's quick budget (docs/crash.md#quick-runs): the
/// runtime dies, the runtime hangs, a tool panics in Rust, the client leaves. The provider's
/// faults take the SDK's one error path and `http-500` alone waits out 6 s of retries: the full
/// run has them.
pub const QUICK_FAULTS: [Fault; 4] = [
    Fault::KillRuntime,
    Fault::HangRuntime,
    Fault::PanicTool,
    Fault::ClientDisconnect,
];
/// Backends a quick run plays at once, each on its own fresh instances: the faults' streams,
/// watches and restarts are mostly waiting, and two lanes halve the stage's wall time
/// (docs/crash.md#quick-runs). A full run plays one backend at a time, so no fault's timings
/// carry another backend's load; so does a pool run.
const QUICK_LANES: usize = 2;
/// 100 chunks 50 ms apart: five seconds of streaming, so every stream is still running when a
/// fault injected half a second in has played out, even when getting 20 streams going took a
/// few seconds on a loaded machine.
const STREAM_CHUNKS: u32 = 100;
const STREAM_GAP_MS: u64 = 50;
/// The sampling interval for new requests.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(10);
/// A healthy one-chunk chat answers in milliseconds even on a loaded machine; 2 s is also the
/// bound on a sidecar host's hang detection (docs/crash.md#hang-detection).
const HANG_AFTER: Duration = Duration::from_secs(2);
/// `http-500` ends after the AI SDK's retries (2 s + 4 s), and a hung sidecar is replaced
/// within 2 s (docs/crash.md#hang-detection): 20 s watches both through on a loaded machine.
const WATCH_LIMIT: Duration = Duration::from_secs(20);
const MIN_WATCH: Duration = Duration::from_secs(1);
const IN_FLIGHT_LIMIT: Duration = Duration::from_secs(10);

impl Settings {
    pub fn full() -> Self {
        Self {
            streams: STREAMS,
            stream_chunks: STREAM_CHUNKS,
            stream_gap_ms: STREAM_GAP_MS,
            sample_interval: SAMPLE_INTERVAL,
            hang_after: HANG_AFTER,
            watch_limit: WATCH_LIMIT,
            min_watch: MIN_WATCH,
            in_flight_limit: IN_FLIGHT_LIMIT,
            readers: readers::ReaderSettings::full(),
        }
    }

    pub fn quick() -> Self {
        Self {
            streams: QUICK_STREAMS,
            stream_chunks: QUICK_STREAM_CHUNKS,
            watch_limit: QUICK_WATCH_LIMIT,
            readers: readers::ReaderSettings::quick(),
            ..Self::full()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.force`: measure backends that did not pass conformance in this run.
    pub ctx: stages::Context,
    pub settings: Settings,
    /// Faults to inject (empty: every fault).
    pub faults: Vec<Fault>,
    /// `--sidecars N` for the backends that take it; the others are not run.
    pub pool: Option<u32>,
}

impl Options {
    /// A whole run's crash stage: every fault, the quick or full settings, no pool.
    pub fn new(ctx: &stages::Context) -> Self {
        Self {
            ctx: ctx.clone(),
            settings: if ctx.quick {
                Settings::quick()
            } else {
                Settings::full()
            },
            faults: Vec::new(),
            pool: None,
        }
    }
}

/// What the stage measured: per backend, per fault.
pub type Matrix = Vec<(String, Vec<(Fault, CrashOutcome)>)>;

/// Parses `--faults` names.
pub fn parse_faults(names: &[String]) -> Result<Vec<Fault>> {
    names
        .iter()
        .map(|n| {
            Fault::from_name(n).with_context(|| {
                let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault `{n}`; choose from: {}", known.join(", "))
            })
        })
        .collect()
}

/// Runs the stage on the verified `backends`, recording into `run` after every fault.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> Result<Matrix> {
    if opts.settings.streams == 0 {
        bail!("the crash stage needs at least one stream in flight");
    }
    let started = Instant::now();
    let load_avg_start = procfs::load_average();
    let chosen = verify::verified_in_run(run, backends, &opts.ctx.root, STAGE, opts.ctx.force);
    run.save()?;
    if chosen.is_empty() {
        return Ok(Matrix::new());
    }
    let stage_logs = run.logs(if opts.pool.is_some() {
        POOL_STAGE
    } else {
        STAGE
    });
    let profile = run.run().profile.clone();
    let mock = provider::start(&opts.ctx.root, &profile, &stage_logs).await?;
    let cfg = provider::start_settings(&opts.ctx.root, &profile, &mock, opts.ctx.ready_timeout);
    let faults = if !opts.faults.is_empty() {
        opts.faults.clone()
    } else if opts.ctx.quick {
        QUICK_FAULTS.to_vec()
    } else {
        Fault::ALL.to_vec()
    };
    let progress = opts
        .ctx
        .progress(STAGE, (chosen.len() * faults.len()) as u64);
    // Which backends run, and with how many sidecars: a pool run skips those that take none.
    let mut plans: Vec<(&Backend, Option<u32>)> = Vec::new();
    for backend in &chosen {
        let name = backend.name().to_owned();
        let sidecars = match opts.pool {
            Some(n) if takes_flag(backend, &cfg, "--sidecars").await => Some(n),
            Some(_) => {
                let reason = "takes no --sidecars flag: no pool to measure".to_owned();
                progress.note(format!("[{name}] {reason}; skipped"));
                run.results.backend_mut(&name).skipped.push(StageSkip {
                    stage: POOL_STAGE.into(),
                    reason,
                });
                continue;
            }
            None => None,
        };
        plans.push((backend, sidecars));
    }
    // A backend with no JS runtime has the runtime faults not applicable: the shortest list,
    // played last so the lanes end close together.
    plans.sort_by_key(|(b, _)| b.manifest.runtime == sut_kit::manifest::Runtime::None);
    let lanes = if opts.ctx.quick && opts.pool.is_none() {
        QUICK_LANES
    } else {
        1
    };
    let http = client::http_client()?;
    let (seen, mut recorded) = tokio::sync::mpsc::unbounded_channel();
    // Each lane plays one backend's faults in turn; what they measure is recorded here, in the
    // order it comes, and saved after every fault.
    let play = async {
        let ctx = Lane {
            cfg: &cfg,
            mock: &mock,
            http: &http,
            logs: &stage_logs,
            settings: &opts.settings,
            faults: &faults,
            progress: &progress,
        };
        futures::stream::iter(plans.iter().map(|&(backend, sidecars)| {
            let (ctx, seen) = (&ctx, seen.clone());
            async move { ctx.play(backend, sidecars, &seen).await }
        }))
        .buffer_unordered(lanes)
        .collect::<Vec<Result<()>>>()
        .await
        .into_iter()
        .collect::<Result<()>>()?;
        drop(seen);
        Ok::<(), anyhow::Error>(())
    };
    let record = async {
        let mut by_backend: std::collections::BTreeMap<String, Vec<(Fault, CrashOutcome)>> =
            std::collections::BTreeMap::new();
        while let Some((name, fault, outcome)) = recorded.recv().await {
            let entry = run.results.backend_mut(&name);
            let map = if opts.pool.is_some() {
                &mut entry.crash_pool
            } else {
                &mut entry.crash
            };
            map.insert(fault.name().to_owned(), outcome.clone());
            run.save()?;
            by_backend.entry(name).or_default().push((fault, outcome));
        }
        Ok::<_, anyhow::Error>(by_backend)
    };
    let (played, by_backend) = tokio::join!(play, record);
    played?;
    let mut by_backend = by_backend?;
    let matrix: Matrix = chosen
        .iter()
        .filter_map(|b| by_backend.remove_entry(b.name()))
        .collect();
    progress.finish();
    mock.stop().await;
    let record = CrashRun {
        load_avg_end: procfs::load_average(),
        wall_s: started.elapsed().as_secs_f64(),
        ..run_record(&opts.settings, opts.ctx.quick, opts.pool, load_avg_start)
    };
    if opts.pool.is_some() {
        run.results.crash_pool = Some(record);
    } else {
        run.results.crash = Some(record);
    }
    run.save()?;
    Ok(matrix)
}

/// What every lane shares: the stage's mock, settings and fault list.
struct Lane<'a> {
    cfg: &'a StartSettings,
    mock: &'a sut_kit::mock::MockProcess,
    http: &'a reqwest::Client,
    logs: &'a std::path::Path,
    settings: &'a Settings,
    faults: &'a [Fault],
    progress: &'a crate::progress::Progress,
}

impl Lane<'_> {
    /// Plays every fault on `backend`, one after another, each on a fresh instance; sends each
    /// outcome to `seen` as it is measured.
    async fn play(
        &self,
        backend: &Backend,
        sidecars: Option<u32>,
        seen: &tokio::sync::mpsc::UnboundedSender<(String, Fault, CrashOutcome)>,
    ) -> Result<()> {
        let name = backend.name().to_owned();
        let env = env::Env {
            on: env::On::Fresh(env::Starts {
                backend,
                cfg: self.cfg,
                mock: self.mock,
                log_dir: self.logs.join(&name),
                sidecars,
            }),
            // The stage's own mock answers on loopback: one clock.
            timelines: target::Timelines::at(&self.mock.openai_url(), true)?,
            http: self.http.clone(),
            settings: self.settings,
            tag_base: format!("crash.{}.{name}", std::process::id()),
        };
        for (i, &fault) in self.faults.iter().enumerate() {
            self.progress.step(format!(
                "[{name}] fault {}/{}: {fault}",
                i + 1,
                self.faults.len()
            ));
            let started = Instant::now();
            let outcome = if fault.is_reader_fault() {
                readers::measure(&env, fault).await
            } else {
                fault_run::measure(&env, fault).await
            };
            self.progress.note(format!(
                "[{name}] {fault}: {} ({:.1} s)",
                table::summary(&outcome),
                started.elapsed().as_secs_f64()
            ));
            self.progress.advance();
            // The receiver stops only on an error of its own, which the stage then returns.
            let _ = seen.send((name.clone(), fault, outcome));
        }
        Ok(())
    }
}

/// The `crash` record of a run with `settings` (its end and wall time are the caller's).
pub fn run_record(
    s: &Settings,
    quick: bool,
    pool: Option<u32>,
    load_avg_start: Option<f64>,
) -> CrashRun {
    CrashRun {
        quick,
        streams: s.streams,
        sidecars: pool,
        stream_chunks: s.stream_chunks,
        stream_gap_ms: s.stream_gap_ms,
        sample_interval_ms: millis(s.sample_interval),
        max_probes_in_flight: sampler::MAX_CHATS_IN_FLIGHT as u32,
        hang_after_ms: millis(s.hang_after),
        watch_limit_ms: millis(s.watch_limit),
        stall_idle_timeout_s: conformance::cases::IDLE_TIMEOUT_S,
        reader_streams: Some(s.readers.streams),
        reader_chunks: Some(s.readers.chunks),
        long_stream_chunks: Some(s.readers.long_chunks),
        reader_watch_ms: Some(millis(s.readers.watch)),
        reader_rcvbuf_bytes: Some(readers::CLIENT_RCVBUF),
        load_avg_start,
        load_avg_end: None,
        wall_s: 0.0,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether the backend's `--help` lists `flag`: how the stage learns, without knowing backends
/// by name, which of them run a pool of sidecars.
pub(crate) async fn takes_flag(backend: &Backend, cfg: &StartSettings, flag: &str) -> bool {
    const HELP_LIMIT: Duration = Duration::from_secs(10);
    let (program, mut args) = orchestrate::command_line(backend, cfg, &InstanceOptions::default());
    args.push("--help".into());
    let output = tokio::process::Command::new(program)
        .args(&args)
        .current_dir(&cfg.root)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(HELP_LIMIT, output).await {
        Ok(Ok(out)) => String::from_utf8_lossy(&out.stdout).contains(flag),
        _ => false,
    }
}
