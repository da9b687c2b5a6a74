//! The mock provider: in-process through its library ([`Mock`], one per conformance run, shared
//! by every backend and case), or as its own process ([`MockProcess`]). Each case tags its
//! requests, so its part of the timeline can be found while other cases run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use contract::scenario::{Directive, Scenario};
use contract::timeline::{RequestTimeline, Timeline};
use mock_provider::{MockConfig, MockHandle};

use crate::process::{self, ProcessSpec, RunningProcess, StopReport};

/// The provider settles a request right after its last frame; a case that has read `[DONE]`
/// waits at most this long for the record to say so.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
const SETTLE_POLL: Duration = Duration::from_millis(5);

#[derive(Debug)]
pub struct Mock {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// Served by this process through the library.
    Local(MockHandle),
    /// A mock someone else started (`harness mock`), read over HTTP: an external target's
    /// suite runs against the mock that target was pointed at.
    Remote {
        base: String,
        client: reqwest::Client,
    },
}

impl Mock {
    pub async fn start() -> Result<Self> {
        let handle = mock_provider::spawn(MockConfig::default())
            .await
            .context("cannot start the mock provider")?;
        Ok(Self {
            inner: Inner::Local(handle),
        })
    }

    /// The mock at `base` (`http://HOST:PORT`), once `GET /__mock/timeline` answers there.
    pub async fn remote(base: &str) -> Result<Self> {
        let base = base
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_owned();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()?;
        let probe = format!("{base}/__mock/timeline?tag=probe");
        let answer = client
            .get(&probe)
            .send()
            .await
            .with_context(|| format!("no mock provider answers at {base}"))?;
        anyhow::ensure!(
            answer.status().is_success(),
            "{probe} answered {}: not the arena's mock provider",
            answer.status()
        );
        Ok(Self {
            inner: Inner::Remote { base, client },
        })
    }

    /// Its base URL (`http://127.0.0.1:PORT`), where `/__mock/timeline` is.
    pub fn url(&self) -> String {
        match &self.inner {
            Inner::Local(handle) => handle.url(),
            Inner::Remote { base, .. } => base.clone(),
        }
    }

    /// The OpenAI base URL backends are given (`http://127.0.0.1:PORT/v1`).
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The provider's record of every request, for a test that waits on it itself; `None` for
    /// a remote mock, whose record is read with [`Mock::timeline`].
    pub fn store(&self) -> Option<&mock_provider::TimelineStore> {
        match &self.inner {
            Inner::Local(handle) => Some(handle.timeline_store()),
            Inner::Remote { .. } => None,
        }
    }

    /// The settled requests carrying `tag`, in arrival order (as they are after
    /// [`SETTLE_TIMEOUT`], or none if a remote mock stopped answering).
    pub async fn timeline(&self, tag: &str) -> Vec<RequestTimeline> {
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        loop {
            let requests = self.snapshot(tag).await;
            let settled = requests.iter().all(RequestTimeline::is_settled);
            if settled || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    async fn snapshot(&self, tag: &str) -> Vec<RequestTimeline> {
        match &self.inner {
            Inner::Local(handle) => handle.timeline_store().snapshot(Some(tag)).requests,
            Inner::Remote { base, client } => {
                let url = format!(
                    "{base}/__mock/timeline?tag={}",
                    crate::client::url_encode(tag)
                );
                let answer = match client.get(url).send().await {
                    Ok(a) => a,
                    Err(_) => return Vec::new(),
                };
                answer
                    .json::<Timeline>()
                    .await
                    .map(|t| t.requests)
                    .unwrap_or_default()
            }
        }
    }

    /// The exact text the provider sends for a text-only scenario (`None` for the others,
    /// whose text depends on tool results).
    pub fn expected_text(&self, d: &Directive) -> Option<String> {
        expected_chunks(d).map(|chunks| chunks.concat())
    }

    pub async fn stop(self) {
        if let Inner::Local(handle) = self.inner {
            let _ = handle.shutdown().await;
        }
    }
}

/// The text chunks the provider sends for a text-only scenario, in order (`None` for the
/// others, whose text depends on tool results).
pub fn expected_chunks(d: &Directive) -> Option<Vec<String>> {
    use mock_provider::script::text;
    let n = d.params.chunks;
    match d.scenario {
        Scenario::Text | Scenario::Long | Scenario::Http429 => Some(text::words(n)),
        Scenario::Unicode => Some(text::unicode(n)),
        _ => None,
    }
}

/// The mock as a process of its own (`target/<profile>/mock-provider`), for stages that must
/// keep its work off the harness's runtime (load generation). Its timeline is read over HTTP.
#[derive(Debug)]
pub struct MockProcess {
    process: RunningProcess,
    timelines: MockTimelines,
}

/// A mock provider's record over HTTP (`/__mock/timeline`), wherever the mock runs: the
/// process a stage started ([`MockProcess`]) or one on another machine (`crash --target
/// --mock-url`).
#[derive(Debug, Clone)]
pub struct MockTimelines {
    base: String,
    client: reqwest::Client,
}

impl MockTimelines {
    /// The mock at `url` (`http://HOST:PORT`, with or without `/v1`), read with `client`.
    pub fn new(url: &str, client: reqwest::Client) -> Self {
        Self {
            base: url.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            client,
        }
    }

    /// `http://HOST:PORT`, without `/v1`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /__mock/timeline?tag=`.
    pub async fn timeline(&self, tag: &str) -> Result<Timeline> {
        let tag = crate::client::url_encode(tag);
        self.get_timeline(&format!("?tag={tag}")).await
    }

    /// Every request the mock remembers, oldest first.
    pub async fn whole_timeline(&self) -> Result<Timeline> {
        self.get_timeline("").await
    }

    async fn get_timeline(&self, query: &str) -> Result<Timeline> {
        let url = format!("{}/__mock/timeline{query}", self.base);
        let response = self.client.get(url).send().await?;
        Ok(response.error_for_status()?.json().await?)
    }

    /// The requests carrying `tag` once each has ended (the provider settles a request right
    /// after its last frame, a moment after the client read it), or as they are at
    /// [`SETTLE_TIMEOUT`].
    pub async fn settled_timeline(&self, tag: &str) -> Result<Vec<RequestTimeline>> {
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        loop {
            let requests = self.timeline(tag).await?.requests;
            let settled = requests.iter().all(RequestTimeline::is_settled);
            if settled || tokio::time::Instant::now() >= deadline {
                return Ok(requests);
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// `DELETE /__mock/timeline`: forgets every request (and fault attempt counts).
    pub async fn clear_timeline(&self) -> Result<()> {
        let url = format!("{}/__mock/timeline", self.base);
        self.client.delete(url).send().await?.error_for_status()?;
        Ok(())
    }
}

/// Where and how the mock process runs.
#[derive(Debug, Clone, Default)]
pub struct MockProcessOptions {
    /// Runtime worker threads (`--threads`); 1 keeps it on one core.
    pub threads: Option<usize>,
    /// Pin it to this CPU (`taskset -c`).
    pub cpu: Option<usize>,
    /// Run it at this real-time FIFO priority (`chrt -f`): on a shared machine, other work
    /// would otherwise delay its sends by milliseconds (mock-provider/README.md, "Load benchmark").
    pub realtime_priority: Option<u8>,
}

impl MockProcessOptions {
    /// The argv prefix that applies the pinning and priority (`chrt` and `taskset` exec the
    /// program, so the ready line's pid is the mock's own).
    fn wrapper(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(priority) = self.realtime_priority {
            argv.extend(["chrt".to_owned(), "-f".to_owned(), priority.to_string()]);
        }
        if let Some(cpu) = self.cpu {
            argv.extend(["taskset".to_owned(), "-c".to_owned(), cpu.to_string()]);
        }
        argv
    }
}

impl MockProcess {
    pub async fn start(
        root: &Path,
        profile: &str,
        log_dir: &Path,
        ready_timeout: Duration,
    ) -> Result<Self> {
        Self::start_with(
            root,
            profile,
            log_dir,
            ready_timeout,
            &MockProcessOptions::default(),
        )
        .await
    }

    /// Starts the mock with `options` (threads, CPU, priority).
    pub async fn start_with(
        root: &Path,
        profile: &str,
        log_dir: &Path,
        ready_timeout: Duration,
        options: &MockProcessOptions,
    ) -> Result<Self> {
        let binary = root.join(format!("target/{profile}/mock-provider"));
        let mut argv = options.wrapper();
        argv.push(binary.display().to_string());
        argv.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
        if let Some(threads) = options.threads {
            argv.extend(["--threads".to_owned(), threads.to_string()]);
        }
        let spec = ProcessSpec {
            label: "mock-provider".into(),
            program: PathBuf::from(&argv[0]),
            args: argv[1..].to_vec(),
            env: vec![],
            cwd: root.to_owned(),
            log_dir: log_dir.to_owned(),
            ready_timeout,
        };
        let process = process::start(&spec).await?;
        let client = reqwest::Client::builder().no_proxy().build()?;
        let timelines = MockTimelines::new(&process.ready.url, client);
        Ok(Self { process, timelines })
    }

    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.timelines.base())
    }

    /// The mock's pid.
    pub fn pid(&self) -> u32 {
        self.process.ready.pid
    }

    /// `GET /__mock/timeline?tag=`.
    pub async fn timeline(&self, tag: &str) -> Result<Timeline> {
        self.timelines.timeline(tag).await
    }

    /// Every request the mock remembers, oldest first.
    pub async fn whole_timeline(&self) -> Result<Timeline> {
        self.timelines.whole_timeline().await
    }

    /// The requests carrying `tag` once each has ended, or as they are at [`SETTLE_TIMEOUT`].
    pub async fn settled_timeline(&self, tag: &str) -> Result<Vec<RequestTimeline>> {
        self.timelines.settled_timeline(tag).await
    }

    /// `DELETE /__mock/timeline`: forgets every request (and fault attempt counts).
    pub async fn clear_timeline(&self) -> Result<()> {
        self.timelines.clear_timeline().await
    }

    pub async fn stop(self) -> StopReport {
        self.process.stop().await
    }
}
