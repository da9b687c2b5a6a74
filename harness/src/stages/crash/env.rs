//! What one fault run on one backend needs from the stage, and the check every fault ends
//! with: does the instance still serve. Both kinds of fault run use it ([`super::fault_run`]
//! and [`super::readers`]), so neither imports the other.

use std::path::PathBuf;

use contract::results::StreamEnd;
use contract::scenario::Scenario;

use sut_kit::manifest::Backend;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::{BackendInstance, StartSettings};

use super::Settings;
use crate::chat;

/// What one fault run needs from the stage.
#[derive(Debug)]
pub(super) struct Env<'a> {
    pub backend: &'a Backend,
    pub cfg: &'a StartSettings,
    pub mock: &'a MockProcess,
    pub http: reqwest::Client,
    pub log_dir: PathBuf,
    pub settings: &'a Settings,
    /// `--sidecars N` (pool runs of backends that take it).
    pub sidecars: Option<u32>,
    /// Prefix of every tag of this backend's requests.
    pub tag_base: String,
}

/// `/health` answers 200 and a new chat completes, each within the hang limit.
pub(super) async fn serving_now(env: &Env<'_>, instance: &BackendInstance) -> bool {
    serving_check(env, instance).await.is_ok()
}

/// [`serving_now`], saying what failed: `/health`'s status (or that it got no answer), or
/// how the chat ended.
pub(super) async fn serving_check(env: &Env<'_>, instance: &BackendInstance) -> Result<(), String> {
    let limit = env.settings.hang_after;
    let health = env
        .http
        .get(format!("{}/health", instance.url()))
        .timeout(limit);
    match sut_kit::client::exchange(health).await {
        Ok(a) if a.status == 200 => {}
        Ok(a) => return Err(format!("/health answered {}", a.status)),
        Err(_) => return Err(format!("/health got no answer within {limit:?}")),
    }
    let d = chat::directive(Scenario::Text, &format!("{}.final", env.tag_base), 1, 0);
    let sent = chat::send(&env.http, instance.url(), &chat::body(&d), limit).await;
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
