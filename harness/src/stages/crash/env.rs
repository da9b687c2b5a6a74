//! What one fault run on one backend needs from the stage (a backend it starts, or a
//! deployment elsewhere), and the check every fault ends with: does the target still serve.
//! Both kinds of fault run use it ([`super::fault_run`] and [`super::readers`]), so neither
//! imports the other.

use std::path::PathBuf;

use contract::results::StreamEnd;
use contract::scenario::Scenario;

use sut_kit::manifest::Backend;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::StartSettings;

use super::Settings;
use super::control::Control;
use super::target::Timelines;
use crate::chat;

/// What one fault run needs from the stage.
#[derive(Debug)]
pub(super) struct Env<'a> {
    pub on: On<'a>,
    /// The mock provider's record: the stage's own mock, or the one the target was pointed at.
    pub timelines: Timelines,
    pub http: reqwest::Client,
    pub settings: &'a Settings,
    /// Prefix of every tag of this backend's requests.
    pub tag_base: String,
}

/// What the faults are played on.
#[derive(Debug)]
pub(super) enum On<'a> {
    /// A fresh instance of a backend for every fault, started here.
    Fresh(Starts<'a>),
    /// A deployment the harness did not start, every fault in turn on the one deployment.
    Elsewhere(Elsewhere<'a>),
}

/// How the stage starts a backend's fresh instances.
#[derive(Debug)]
pub(super) struct Starts<'a> {
    pub backend: &'a Backend,
    pub cfg: &'a StartSettings,
    pub mock: &'a MockProcess,
    pub log_dir: PathBuf,
    /// `--sidecars N` (pool runs of backends that take it).
    pub sidecars: Option<u32>,
}

/// A deployment elsewhere (`crash --target NAME=URL`).
#[derive(Debug)]
pub(super) struct Elsewhere<'a> {
    pub name: &'a str,
    pub url: &'a str,
    /// `--control CMD`: plays the faults on its processes.
    pub control: Option<&'a Control>,
}

/// `/health` answers 200 and a new chat completes, each within the hang limit.
pub(super) async fn serving_now(env: &Env<'_>, url: &str) -> bool {
    serving_check(env, url).await.is_ok()
}

/// [`serving_now`], saying what failed: `/health`'s status (or that it got no answer), or
/// how the chat ended.
pub(super) async fn serving_check(env: &Env<'_>, url: &str) -> Result<(), String> {
    let limit = env.settings.hang_after;
    let health = env.http.get(format!("{url}/health")).timeout(limit);
    match sut_kit::client::exchange(health).await {
        Ok(a) if a.status == 200 => {}
        Ok(a) => return Err(format!("/health answered {}", a.status)),
        Err(_) => return Err(format!("/health got no answer within {limit:?}")),
    }
    let d = chat::directive(Scenario::Text, &format!("{}.final", env.tag_base), 1, 0);
    let sent = chat::send(&env.http, url, &chat::body(&d), limit).await;
    match chat::end_of(&sent) {
        StreamEnd::Completed => Ok(()),
        end => Err(format!(
            "a new chat ended {} ({})",
            end.name(),
            match &sent.answer {
                Ok(a) => format!("status {}", a.status),
                Err(e) => e.clone(),
            }
        )),
    }
}
