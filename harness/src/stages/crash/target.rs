//! What a fault is played on, so one fault run serves a backend this stage started and a
//! deployment elsewhere (`crash --target`): the URL every client request goes to; the
//! processes, only when this machine started them (memory from `/proc`, signals, "has it
//! exited"); and the mock provider's record of what it sent ([`Timelines`]), read over HTTP from
//! the stage's own mock process or from the mock the deployment was pointed at
//! (docs/distributed.md#soak-and-crash-against-a-target).

use std::time::Duration;

use anyhow::Result;
use contract::timeline::{RequestTimeline, Timeline};

use sut_kit::mock::MockTimelines;
use sut_kit::orchestrate::BackendInstance;

use crate::procfs;

/// The target of one fault run.
#[derive(Debug)]
pub(super) struct Target<'a> {
    url: String,
    /// Present when this machine started it: its processes can be read and signalled.
    instance: Option<&'a mut BackendInstance>,
}

impl<'a> Target<'a> {
    /// A backend this stage started.
    pub fn started(instance: &'a mut BackendInstance) -> Self {
        Self {
            url: instance.url().to_owned(),
            instance: Some(instance),
        }
    }

    /// A deployment the harness did not start: only its URL.
    pub fn elsewhere(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            instance: None,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process tree (the server's group, its descendants and its runtime), when this
    /// machine started it.
    pub fn pids(&self) -> Option<Vec<u32>> {
        let i = self.instance.as_deref()?;
        Some(procfs::tree(i.process.pgid(), i.ready().runtime_pid))
    }

    /// CPU spent so far (ms) by its runtime process (the sidecar, napi's one process) and by
    /// its whole tree, when this machine started it.
    pub fn cpu_ms(&self) -> Option<(f64, f64)> {
        let i = self.instance.as_deref()?;
        let runtime = i
            .ready()
            .runtime_pid
            .map_or(0.0, |pid| procfs::cpu_ms(&[pid]));
        Some((runtime, procfs::cpu_ms(&self.pids()?)))
    }

    /// Whether the server this stage started has exited; a deployment elsewhere is never known
    /// to have (what a client sees of it is in the samples).
    pub fn has_exited(&mut self) -> bool {
        self.instance
            .as_deref_mut()
            .is_some_and(|i| i.process.has_exited())
    }
}

/// How long one read of the mock's record may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The mock provider's record (`GET /__mock/timeline?tag=`), wherever the mock runs.
#[derive(Debug, Clone)]
pub(super) struct Timelines {
    mock: MockTimelines,
    /// The mock stamps with this machine's `CLOCK_MONOTONIC` (it answers on loopback), so its
    /// send times subtract from the client's receipts. Without it only counts are read.
    pub shared_clock: bool,
}

impl Timelines {
    /// The mock at `base` (`http://HOST:PORT`, with or without `/v1`).
    pub fn at(base: &str, shared_clock: bool) -> Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(READ_TIMEOUT)
            .build()?;
        Ok(Self {
            mock: MockTimelines::new(base, client),
            shared_clock,
        })
    }

    /// The requests carrying `tag`, as they are now.
    pub async fn timeline(&self, tag: &str) -> Result<Timeline> {
        self.mock.timeline(tag).await
    }

    /// The requests carrying `tag` once each has ended, or as they are after sut-kit's
    /// settle limit.
    pub async fn settled_timeline(&self, tag: &str) -> Result<Vec<RequestTimeline>> {
        self.mock.settled_timeline(tag).await
    }
}
