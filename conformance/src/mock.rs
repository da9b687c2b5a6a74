//! The mock provider: in-process through its library ([`Mock`], one per conformance run, shared
//! by every backend and case), or as its own process ([`MockProcess`]). Each case tags its
//! requests, so its part of the timeline can be found while other cases run.

use std::path::Path;
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
    handle: MockHandle,
}

impl Mock {
    pub async fn start() -> Result<Self> {
        let handle = mock_provider::spawn(MockConfig::default())
            .await
            .context("cannot start the mock provider")?;
        Ok(Self { handle })
    }

    /// The OpenAI base URL backends are given (`http://127.0.0.1:PORT/v1`).
    pub fn openai_url(&self) -> String {
        self.handle.base_url()
    }

    /// The settled requests carrying `tag`, in arrival order.
    pub async fn timeline(&self, tag: &str) -> Vec<RequestTimeline> {
        let store = self.handle.timeline_store();
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        loop {
            let requests = store.snapshot(Some(tag)).requests;
            let settled = requests.iter().all(RequestTimeline::is_settled);
            if settled || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// The exact text the provider sends for a text-only scenario (`None` for the others,
    /// whose text depends on tool results).
    pub fn expected_text(&self, d: &Directive) -> Option<String> {
        use mock_provider::script::text;
        let n = d.params.chunks;
        match d.scenario {
            Scenario::Text | Scenario::Long | Scenario::Http429 => Some(text::words(n).concat()),
            Scenario::Unicode => Some(text::unicode(n).concat()),
            _ => None,
        }
    }

    pub async fn stop(self) {
        let _ = self.handle.shutdown().await;
    }
}

/// The mock as a process of its own (`target/<profile>/mock-provider`), for stages that must
/// keep its work off the harness's runtime (load generation). Its timeline is read over HTTP.
#[derive(Debug)]
pub struct MockProcess {
    process: RunningProcess,
    client: reqwest::Client,
}

impl MockProcess {
    pub async fn start(
        root: &Path,
        profile: &str,
        log_dir: &Path,
        ready_timeout: Duration,
    ) -> Result<Self> {
        let spec = ProcessSpec {
            label: "mock-provider".into(),
            program: root.join(format!("target/{profile}/mock-provider")),
            args: vec!["--listen".into(), "127.0.0.1:0".into()],
            env: vec![],
            cwd: root.to_owned(),
            log_dir: log_dir.to_owned(),
            ready_timeout,
        };
        let process = process::start(&spec).await?;
        Ok(Self {
            process,
            client: reqwest::Client::builder().no_proxy().build()?,
        })
    }

    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.process.ready.url.trim_end_matches('/'))
    }

    /// `GET /__mock/timeline?tag=`.
    pub async fn timeline(&self, tag: &str) -> Result<Timeline> {
        let base = self.process.ready.url.trim_end_matches('/');
        let tag = crate::client::url_encode(tag);
        let url = format!("{base}/__mock/timeline?tag={tag}");
        let response = self.client.get(url).send().await?;
        Ok(response.error_for_status()?.json().await?)
    }

    pub async fn stop(self) -> StopReport {
        self.process.stop().await
    }
}
