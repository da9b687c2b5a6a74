//! One fault on one fresh instance of a backend: start it, get the streams going, inject the
//! fault, sample new requests while it plays out, stop watching once everything has settled (or
//! at the watch limit), check whether the server still serves, stop it and count what it left
//! behind, and hand what was seen to [`super::analysis`]. The watch itself ([`watch`]) reads
//! the target only through its URL and [`Target`], so [`super::elsewhere`] plays it on a
//! deployment the harness did not start.

use std::time::{Duration, Instant};

use contract::clock::monotonic_ns;
use contract::results::{CrashOutcome, Fault};
use contract::scenario::{Directive, Scenario};
use rustix::process::{Pid, Signal};

use conformance::cases::IDLE_TIMEOUT_S;
use sut_kit::manifest::Runtime;
use sut_kit::orchestrate::{self, BackendInstance, InstanceOptions};
use sut_kit::process::{STOP_GRACE, pid_alive};

use super::Settings;
use super::analysis::{self, Observed, Replacement};
use super::control::{Aim, Control};
use super::env::{Env, On, Starts, serving_now};
use super::sampler::{self, Sampler};
use super::streams::{self, Stream};
use super::target::Target;
use crate::chat;
use crate::procfs;
use crate::stages::start;

/// The faulted stream misbehaves after this many deltas: 10 gaps into a stream with 90 more to
/// come, so whether its provider request is cancelled shows in the frames that follow.
const FAIL_AT: u32 = 10;
/// The `stall` scenario's silence: well beyond the instance's idle timeout, so the backend's
/// timeout (not the end of the silence) ends the stream.
const STALL_MS: u64 = 6_000;
const _: () = assert!(
    STALL_MS / 1000 > IDLE_TIMEOUT_S * 2,
    "the stall must outlast the idle timeout"
);
/// How often the watch looks whether everything has settled.
const WATCH_POLL: Duration = Duration::from_millis(20);
/// A sidecar prints its ready line 90-140 ms after its spawn on a quiet machine
/// (backends/sidecar-host/src/member.rs); a second covers a loaded one.
const POOL_SETTLE: Duration = Duration::from_secs(1);
/// How often the process group is counted while a pool starts.
const POOL_POLL: Duration = Duration::from_millis(50);
/// `client-disconnect` drops its chat once the provider has sent this many of its text
/// chunks: surely mid-answer, with 90 more to come.
const DROP_AFTER_CHUNKS: usize = 10;
/// After the server exited on SIGTERM, how long its other processes may take to follow: the
/// sidecars watch their parent every 250 ms (docs/architecture.md), so a second is generous.
const LEFTOVER_GRACE: Duration = Duration::from_secs(1);
const LEFTOVER_POLL: Duration = Duration::from_millis(20);

/// Measures `fault` (not a reader fault: [`super::readers`] plays those) on a fresh instance,
/// or on the deployment elsewhere ([`super::elsewhere`]); never fails: what could not be
/// measured says why.
pub(super) async fn measure(env: &Env<'_>, fault: Fault) -> CrashOutcome {
    match &env.on {
        On::Fresh(starts) => fresh(env, starts, fault).await,
        On::Elsewhere(e) => super::elsewhere::measure(env, e, fault).await,
    }
}

/// How the fault is injected.
#[derive(Debug, Clone, Copy)]
pub(super) enum Inject<'a> {
    /// A signal to a process of the backend this stage started (its runtime).
    Signal(u32, Signal),
    /// The deployment owner's `--control` command.
    Control(&'a Control, Aim<'a>),
    /// The faulted request itself (its scenario, or the client dropping it).
    Request,
}

async fn fresh(env: &Env<'_>, starts: &Starts<'_>, fault: Fault) -> CrashOutcome {
    if fault.needs_js_runtime() && starts.backend.manifest.runtime == Runtime::None {
        return CrashOutcome::not_applicable(format!(
            "{} has no JavaScript runtime (its manifest says runtime = \"none\"): nothing for \
             {fault} to act on",
            starts.backend.name()
        ));
    }
    let opts = instance_options(fault, starts.sidecars);
    let started = orchestrate::start_backend(starts.backend, starts.cfg, &opts, &starts.log_dir);
    let mut instance = match started.await {
        Ok(i) => i,
        Err(e) => return CrashOutcome::not_measured(format!("the backend did not start: {e}")),
    };
    let runtime_pid = instance.ready().runtime_pid;
    let signal_target = match fault {
        Fault::KillRuntime | Fault::HangRuntime => match runtime_pid {
            Some(pid) => Some(pid),
            None => {
                instance.stop().await;
                return CrashOutcome::not_measured("the ready line names no runtime_pid");
            }
        },
        _ => None,
    };
    let inject = match (fault, signal_target) {
        (Fault::KillRuntime, Some(pid)) => Inject::Signal(pid, Signal::KILL),
        (Fault::HangRuntime, Some(pid)) => Inject::Signal(pid, Signal::STOP),
        _ => Inject::Request,
    };
    if let Some(n) = starts.sidecars {
        wait_for_pool(&instance, n, env.settings.in_flight_limit).await;
    }
    let tag = format!("{}.{}", env.tag_base, fault.name().trim_start_matches('_'));
    let watched = watch(
        env,
        fault,
        &mut Target::started(&mut instance),
        inject,
        &tag,
    )
    .await;
    let mut observed = match watched {
        Ok(o) => o,
        Err(why) => {
            instance.stop().await;
            return CrashOutcome::not_measured(why);
        }
    };
    let mut tracked = procfs::tree(instance.process.pgid(), instance.ready().runtime_pid);
    tracked.extend(signal_target.filter(|p| !tracked.contains(p)));
    let (leftover_processes, stop_note) =
        stop_counting_leftovers(instance, &tracked, observed.server_exited).await;
    observed.leftover_processes = leftover_processes;
    observed.notes.extend(stop_note);
    if observed.server_exited {
        observed.replacement = Some(replacement(starts, fault, &tag).await);
    }
    settle(env, &mut observed).await;
    analysis::outcome(&observed)
}

/// Reads each stream's provider requests, once each has ended (or as they are a few seconds
/// on), into what was observed.
pub(super) async fn settle(env: &Env<'_>, observed: &mut Observed) {
    for e in observed
        .bystanders
        .iter_mut()
        .chain(observed.faulted.as_mut())
    {
        e.requests = env
            .timelines
            .settled_timeline(&e.tag)
            .await
            .unwrap_or_default();
    }
}

fn instance_options(fault: Fault, sidecars: Option<u32>) -> InstanceOptions {
    let mut extra_args = Vec::new();
    if matches!(fault, Fault::CrashTool | Fault::PanicTool) {
        extra_args.push("--enable-fault-injection".to_owned());
    }
    if fault == Fault::Stall {
        extra_args.extend(["--idle-timeout-s".to_owned(), IDLE_TIMEOUT_S.to_string()]);
    }
    extra_args.extend(pool_args(sidecars));
    InstanceOptions {
        extra_args,
        instance: Some(fault.name().trim_start_matches('_').to_owned()),
    }
}

/// `--sidecars N` for a pool run, nothing otherwise.
fn pool_args(sidecars: Option<u32>) -> Vec<String> {
    sidecars.map_or_else(Vec::new, |n| vec!["--sidecars".to_owned(), n.to_string()])
}

/// The request that carries a fault, paced like the streams around it.
fn fault_directive(fault: Fault, tag: &str, s: &Settings) -> Directive {
    let scenario = match fault {
        Fault::CrashTool => Scenario::CrashTool,
        Fault::PanicTool => Scenario::PanicTool,
        Fault::Http500 => Scenario::Http500,
        Fault::MalformedChunk => Scenario::MalformedChunk,
        Fault::Truncated => Scenario::Truncated,
        Fault::Stall => Scenario::Stall,
        Fault::KillRuntime
        | Fault::HangRuntime
        | Fault::ClientDisconnect
        | Fault::SlowReader
        | Fault::StalledReader
        | Fault::LongStream => Scenario::Text,
    };
    let mut d = chat::directive(scenario, tag, s.stream_chunks, s.stream_gap_ms);
    if matches!(
        fault,
        Fault::MalformedChunk | Fault::Truncated | Fault::Stall
    ) {
        d.params.fail_at = Some(FAIL_AT);
    }
    if fault == Fault::Stall {
        d.params.stall_ms = STALL_MS;
    }
    d
}

/// Everything from the streams' start to the check whether the target still serves; what
/// needs the target's processes (leftovers, a replacement) and the provider's side of each
/// stream ([`settle`]) are the caller's.
pub(super) async fn watch(
    env: &Env<'_>,
    fault: Fault,
    target: &mut Target<'_>,
    inject: Inject<'_>,
    tag: &str,
) -> Result<Observed, String> {
    let s = env.settings;
    // A safety net only: the watch abandons streams at its own limit.
    let stream_limit = s.in_flight_limit + s.watch_limit + s.hang_after;
    let base = target.url().to_owned();
    let bystanders = if matches!(inject, Inject::Request) {
        s.streams.saturating_sub(1)
    } else {
        s.streams
    };
    let streams: Vec<Stream> = (0..bystanders)
        .map(|i| {
            let tag = format!("{tag}.s{i}");
            let d = chat::directive(Scenario::Text, &tag, s.stream_chunks, s.stream_gap_ms);
            Stream::spawn(&env.http, &base, &d, stream_limit)
        })
        .collect();
    let all: Vec<&Stream> = streams.iter().collect();
    if let Err(why) = streams::wait_for_text(&env.timelines, &all, 1, s.in_flight_limit).await {
        streams.iter().for_each(Stream::abort);
        return Err(why);
    }

    let mut notes = Vec::new();
    let injected = Instant::now();
    let injected_ns = monotonic_ns();
    let sampler = Sampler::start(sampler::Target {
        client: env.http.clone(),
        base: base.clone(),
        tag: format!("{tag}.p"),
        interval: s.sample_interval,
        hang_after: s.hang_after,
    });
    let mut dropped_ns = None;
    let faulted = match (fault, inject) {
        (_, Inject::Signal(pid, sig)) => {
            signal(pid, sig);
            None
        }
        (_, Inject::Control(control, aim)) => match control.inject(fault, aim).await {
            Ok(took) => {
                notes.push(format!(
                    "the control command played the fault in {:.0} ms (counted from its start)",
                    took.as_secs_f64() * 1e3
                ));
                None
            }
            Err(e) => {
                streams.iter().for_each(Stream::abort);
                sampler.finish().await;
                return Err(e.to_string());
            }
        },
        (Fault::ClientDisconnect, _) => {
            let d = fault_directive(fault, &format!("{tag}.f"), s);
            let mut st = Stream::spawn(&env.http, &base, &d, stream_limit);
            let one = [&st];
            let waited =
                streams::wait_for_text(&env.timelines, &one, DROP_AFTER_CHUNKS, s.in_flight_limit);
            if let Err(why) = waited.await {
                notes.push(format!("dropped anyway: {why}"));
            }
            st.drop_now();
            dropped_ns = Some(monotonic_ns());
            Some(st)
        }
        _ => {
            let d = fault_directive(fault, &format!("{tag}.f"), s);
            Some(Stream::spawn(&env.http, &base, &d, stream_limit))
        }
    };

    let deadline = injected + s.watch_limit;
    loop {
        let all_done = streams.iter().chain(&faulted).all(Stream::is_finished);
        let settled = all_done
            && injected.elapsed() >= s.min_watch
            && (target.has_exited() || sampler.serving());
        if settled || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(WATCH_POLL).await;
    }
    let mut bystanders = Vec::new();
    for st in streams {
        bystanders.push(st.collect().await);
    }
    let faulted = match faulted {
        Some(st) => Some(st.collect().await),
        None => None,
    };
    let settling = bystanders.iter().chain(&faulted);
    streams::wait_provider_settled(&env.timelines, settling, deadline).await;
    let watch_end_ns = monotonic_ns();
    let server_exited = target.has_exited();
    // The sampler's last probes and the check whether the server still serves each wait up to
    // the hang limit on a hung server: side by side, not one after the other.
    let (samples, survived) = tokio::join!(sampler.finish(), async {
        !server_exited && serving_now(env, &base).await
    });
    Ok(Observed {
        fault,
        injected_ns,
        dropped_ns,
        watch_end_ns,
        bystanders,
        faulted,
        samples,
        server_exited,
        survived,
        replacement: None,
        leftover_processes: None,
        notes,
    })
}

/// A pool's ready line comes once its first sidecar is up; the others may still be starting,
/// and streams sent then would all go to the first. Waits until the backend's process group
/// holds the server and `sidecars` more, then [`POOL_SETTLE`] for the last to listen.
async fn wait_for_pool(instance: &BackendInstance, sidecars: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    let want = usize::try_from(sidecars)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    while procfs::tree(instance.process.pgid(), None).len() < want && Instant::now() < deadline {
        tokio::time::sleep(POOL_POLL).await;
    }
    tokio::time::sleep(POOL_SETTLE).await;
}

/// SIGTERM to the server alone (as a container runtime sends it), then counts the processes
/// of its tree still alive a grace period after it exited: what the fault left behind (`None`
/// when the server itself would not exit). Then stops whatever is left (its group, its runtime,
/// every tracked process). A stopped process is continued first, so it can act on the signal.
async fn stop_counting_leftovers(
    mut instance: BackendInstance,
    tracked: &[u32],
    already_exited: bool,
) -> (Option<u32>, Option<String>) {
    for &p in tracked {
        signal(p, Signal::CONT);
    }
    let pid = instance.ready().pid;
    let mut note = None;
    if !already_exited {
        signal(pid, Signal::TERM);
        let deadline = Instant::now() + STOP_GRACE;
        while !instance.process.has_exited() && Instant::now() < deadline {
            tokio::time::sleep(LEFTOVER_POLL).await;
        }
        if !instance.process.has_exited() {
            note = Some(format!(
                "the server ignored SIGTERM for {STOP_GRACE:?} and was killed"
            ));
        }
    }
    // Only a server that exited can have left something behind.
    let left = if note.is_none() {
        let others: Vec<u32> = tracked.iter().copied().filter(|&p| p != pid).collect();
        let deadline = Instant::now() + LEFTOVER_GRACE;
        while !alive(&others).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(LEFTOVER_POLL).await;
        }
        Some(u32::try_from(alive(&others).len()).unwrap_or(u32::MAX))
    } else {
        None
    };
    instance.stop().await;
    for p in alive(tracked) {
        signal(p, Signal::KILL);
    }
    (left, note)
}

/// The process died and nothing restarts it: a fresh one's cold start, what an outside
/// supervisor would need at best.
async fn replacement(starts: &Starts<'_>, fault: Fault, tag: &str) -> Result<Replacement, String> {
    let opts = InstanceOptions {
        extra_args: pool_args(starts.sidecars),
        instance: Some(format!(
            "{}-replacement",
            fault.name().trim_start_matches('_')
        )),
    };
    let sample = start::once(
        starts.backend,
        starts.cfg,
        &opts,
        &starts.log_dir,
        starts.mock,
        &format!("{tag}.r"),
    )
    .await
    .map_err(|e| format!("{e:#}"))?;
    Ok(Replacement {
        ready_ms: sample.ready_ms,
        first_chat_ms: sample.first_chat_ms,
    })
}

/// Sends `sig` to one process; false when it does not exist (or cannot be signalled).
fn signal(pid: u32, sig: Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|p| rustix::process::kill_process(p, sig).is_ok())
}

/// The processes of `pids` still alive (a zombie is not).
fn alive(pids: &[u32]) -> Vec<u32> {
    pids.iter().copied().filter(|p| pid_alive(*p)).collect()
}
