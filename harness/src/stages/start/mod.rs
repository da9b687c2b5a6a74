//! `harness start`: cold start, the processes a deployment runs, and the provider tokens of one
//! conversation.
//!
//! Each start spawns a fresh backend from its manifest (the common flags, the mock provider)
//! and times spawn -> ready line (the backends print it once `/health` answers 200) and spawn ->
//! its first completed chat (`text`, the default 20 chunks, no provider delays, so the figure is
//! the backend's and not the mock's schedule). After the chat it counts the processes under the
//! backend, and reads the chat's token usage from the mock's timeline: the reference
//! conversation the cost stage prices. Records `backends.<name>.cold_start`, `cold_start_ms`
//! (the ready line's median), `size.processes` and `tokens`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use contract::results::{ColdStart, ConversationTokens, SampleStats, StreamEnd};
use contract::scenario::{DEFAULT_CHUNKS, Scenario};

use sut_kit::client;
use sut_kit::manifest::Backend;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};

use crate::chat;
use crate::procfs;
use crate::provider;
use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};
use crate::verify;

pub const STAGE: &str = contract::results::stages::START;
/// Cold start is the median of this many fresh starts (docs/cost.md#cold-start-harness-start).
pub const STARTS: u32 = 10;
/// `--quick`: enough for a median that is not one sample.
pub const QUICK_STARTS: u32 = 3;
/// The first chat's gap between chunks: short, so the figure is the backend's, not the mock's.
const FIRST_CHAT_GAP_MS: u64 = 1;
/// A first chat that has not completed by then is recorded as not completed.
const FIRST_CHAT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.force`: measure backends that did not pass conformance in this run.
    pub ctx: Context,
    /// Fresh starts per backend, the median of which is recorded.
    pub starts: u32,
}

/// One fresh start.
#[derive(Debug, Clone)]
pub struct Sample {
    pub ready_ms: f64,
    /// Absent when the first chat did not complete.
    pub first_chat_ms: Option<f64>,
    pub processes: u32,
    pub tokens: Option<ConversationTokens>,
}

/// Spawns `backend`, waits for its ready line, has one chat, counts its processes, stops it.
pub async fn once(
    backend: &Backend,
    cfg: &StartSettings,
    opts: &InstanceOptions,
    log_dir: &Path,
    mock: &MockProcess,
    tag: &str,
) -> Result<Sample> {
    let http = client::http_client()?;
    let spawned = Instant::now();
    let instance = orchestrate::start_backend(backend, cfg, opts, log_dir).await?;
    let ready_ms = millis(spawned.elapsed());
    let d = chat::directive(Scenario::Text, tag, DEFAULT_CHUNKS, FIRST_CHAT_GAP_MS);
    let sent = chat::send(&http, instance.url(), &chat::body(&d), FIRST_CHAT_LIMIT).await;
    let first_chat_ms =
        (chat::end_of(&sent) == StreamEnd::Completed).then(|| millis(spawned.elapsed()));
    let group = procfs::tree(instance.process.pgid(), instance.ready().runtime_pid);
    let processes = u32::try_from(group.len()).unwrap_or(u32::MAX);
    instance.stop().await;
    let requests = mock.settled_timeline(tag).await?;
    let tokens = first_chat_ms.and_then(|_| {
        let usage: Vec<_> = requests.iter().filter_map(|r| r.usage).collect();
        (!usage.is_empty() && usage.len() == requests.len()).then(|| ConversationTokens {
            scenario: Scenario::Text.name().to_owned(),
            chunks: DEFAULT_CHUNKS,
            provider_requests: u32::try_from(usage.len()).unwrap_or(u32::MAX),
            input: usage.iter().map(|u| u64::from(u.prompt_tokens)).sum(),
            output: usage.iter().map(|u| u64::from(u.completion_tokens)).sum(),
        })
    });
    Ok(Sample {
        ready_ms,
        first_chat_ms,
        processes,
        tokens,
    })
}

/// Runs the stage on the verified `backends`, recording into `run` as it goes; returns each
/// measured backend's cold start.
pub async fn run(
    backends: &[Backend],
    run: &mut RunDir,
    opts: &Options,
) -> Result<Vec<(String, ColdStart)>> {
    let chosen = verify::verified_in_run(run, backends, &opts.ctx.root, STAGE, opts.ctx.force);
    run.save()?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let profile = run.run().profile.clone();
    let logs = run.logs(STAGE);
    let mock = provider::start(&opts.ctx.root, &profile, &logs).await?;
    let cfg = provider::start_settings(&opts.ctx.root, &profile, &mock, opts.ctx.ready_timeout);
    let progress = opts
        .ctx
        .progress(STAGE, chosen.len() as u64 * u64::from(opts.starts));
    let mut measured = Vec::new();
    for backend in &chosen {
        let name = backend.name();
        let log_dir = logs.join(name);
        let mut samples = Vec::new();
        for i in 1..=opts.starts {
            let instance = InstanceOptions {
                extra_args: vec![],
                instance: Some(format!("start-{i}")),
            };
            let tag = format!("start.{}.{name}.{i}", std::process::id());
            progress.step(format!("[{name}] start {i}/{}", opts.starts));
            let sample = once(backend, &cfg, &instance, &log_dir, &mock, &tag).await;
            match sample {
                Ok(s) => {
                    progress.note(format!(
                        "[{name}] start {i}/{}: ready {:.0} ms, first chat {}",
                        opts.starts,
                        s.ready_ms,
                        s.first_chat_ms
                            .map_or_else(|| "did not complete".into(), |ms| format!("{ms:.0} ms"))
                    ));
                    samples.push(s);
                }
                Err(e) => progress.note(format!("[{name}] start {i}/{}: {e:#}", opts.starts)),
            }
            progress.advance();
        }
        let Some(cold) = summarize(&samples) else {
            progress.note(format!(
                "[{name}] no start succeeded; cold start not recorded"
            ));
            continue;
        };
        let entry = run.results.backend_mut(name);
        entry.cold_start_ms = Some(cold.ready_ms.p50);
        entry.size.get_or_insert_default().processes = samples.iter().map(|s| s.processes).max();
        entry.tokens = samples.iter().find_map(|s| s.tokens.clone());
        entry.cold_start = Some(cold.clone());
        run.save()?;
        measured.push((name.to_owned(), cold));
    }
    progress.finish();
    mock.stop().await;
    Ok(measured)
}

/// The samples' medians; `None` without a sample whose chat completed.
fn summarize(samples: &[Sample]) -> Option<ColdStart> {
    let ready = SampleStats::of(samples.iter().map(|s| s.ready_ms).collect())?;
    let chat = SampleStats::of(samples.iter().filter_map(|s| s.first_chat_ms).collect())?;
    Some(ColdStart {
        starts: u32::try_from(samples.len()).unwrap_or(u32::MAX),
        ready_ms: ready,
        first_chat_ms: chat,
    })
}

/// The terminal table of the stage.
pub fn write_table(out: &mut impl std::io::Write, measured: &[(String, ColdStart)]) -> Result<()> {
    writeln!(
        out,
        "{:<10} {:>6} {:>14} {:>20}",
        "backend", "starts", "ready p50 ms", "first chat p50 ms"
    )?;
    for (name, c) in measured {
        writeln!(
            out,
            "{name:<10} {:>6} {:>14.0} {:>20.0}",
            c.starts, c.ready_ms.p50, c.first_chat_ms.p50
        )?;
    }
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The start stage: cold starts, then their table on stdout.
#[derive(Debug)]
pub struct Start;

impl Stage for Start {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::WithRuntimes;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            starts: if ctx.quick { QUICK_STARTS } else { STARTS },
        }
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        let measured = self::run(backends, run, opts).await?;
        write_table(&mut std::io::stdout().lock(), &measured)?;
        Ok(Outcome::measured(measured.len()))
    }
}
