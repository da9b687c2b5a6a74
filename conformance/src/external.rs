//! The suite against a deployment someone else started (`--target NAME=URL`): every case the
//! shared instance plays, read the same two ways, against the mock that deployment was pointed
//! at. What needs the target's processes or flags cannot be played from outside: cases that
//! need an instance of their own (faults, the rate limit, `stall`'s short idle timeout) are
//! UNSUPPORTED with that reason, and the instance checks (ready line, SIGTERM, logs) are not
//! played at all.

use std::path::Path;

use contract::results::CaseResult;
use futures::StreamExt;

use crate::case_env::CaseEnv;
use crate::cases::Case;
use crate::expect::SdkForms;
use crate::play::{self, Played, Verdict};
use crate::suite;
use sut_kit::client;
use sut_kit::mock::Mock;
use sut_kit::oracle::Oracle;

/// As in [`crate::suite`]: enough to overlap the provider's delays on a small machine.
const CASE_CONCURRENCY: usize = 6;

/// Where the external target is and what reads its answers.
#[derive(Debug)]
pub struct ExternalEnv<'a> {
    /// The label the run gives it (`--target NAME=...`), for folders and messages.
    pub name: String,
    /// Its base URL (`http://host:port`).
    pub base: String,
    pub oracle: &'a Oracle,
    pub mock: &'a Mock,
    pub quick: bool,
    /// Failed answers go to `<run_path>/conformance/<name>/`.
    pub run_path: &'a Path,
}

/// Plays `cases` against the target; one result per case, in the order given.
pub async fn run(cases: &[Case], env: &ExternalEnv<'_>) -> Vec<CaseResult> {
    let save_dir = env.run_path.join("conformance").join(&env.name);
    let http = match client::http_client() {
        Ok(c) => c,
        Err(e) => return failed_all(cases, &format!("{e:#}")),
    };
    // `/health` names the backend as its manifest does; the run's label may differ.
    let backend = match client::get_json(&http, &env.base, "/health").await {
        Ok(body) => body["backend"].as_str().unwrap_or_default().to_owned(),
        Err(e) => return failed_all(cases, &format!("GET /health failed: {e:#}")),
    };
    let case_env = CaseEnv {
        client: http,
        backend,
        base: env.base.clone(),
        oracle: env.oracle,
        mock: env.mock,
        quick: env.quick,
        // A deployment says nothing of its SDK: it is held to the current forms.
        sdk_forms: SdkForms::Current,
    };
    let tag_base = format!("{}.{}", env.name, std::process::id());
    let mut played: Vec<(usize, Played)> = futures::stream::iter(cases.iter().enumerate())
        .map(|(i, case)| {
            let case_env = &case_env;
            let tag = format!("{tag_base}.c{i}");
            async move {
                let played = match suite::dedicated_instance(case) {
                    Some(opts) => Played {
                        verdict: Verdict::Unsupported(format!(
                            "needs an instance started with {}: not applicable to a target \
                             the harness did not start",
                            opts.extra_args.join(" ")
                        )),
                        answers: vec![],
                    },
                    None => play::play(case, case_env, &tag).await,
                };
                (i, played)
            }
        })
        .buffer_unordered(CASE_CONCURRENCY)
        .collect()
        .await;
    played.sort_by_key(|(i, _)| *i);
    played
        .into_iter()
        .map(|(i, p)| suite::record(&cases[i], p, &save_dir, env.run_path))
        .collect()
}

fn failed_all(cases: &[Case], reason: &str) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|c| CaseResult {
            scenario: c.name.clone(),
            outcome: contract::results::Outcome::Failed,
            reason: Some(reason.to_owned()),
            raw_stream: None,
        })
        .collect()
}
