//! The mock provider as the start and crash stages run it: a process of its own
//! (`conformance::mock::MockProcess`), so its sends never wait on the harness's runtime while a
//! stage floods a backend with probes, built first when the run's profile lacks the binary (the
//! backends' manifests do not build it), and its timeline read once a request has settled.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use conformance::mock::MockProcess;
use conformance::process;
use contract::timeline::RequestTimeline;

/// The mock answers `/__mock/timeline` at once; a request ends within microseconds of its last
/// frame, so a record still in progress after this long is reported as it stands.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);
const SETTLE_POLL: Duration = Duration::from_millis(20);
/// How long the mock may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the mock provider for `profile`, building it first if needed (logged under `log_dir`).
pub async fn start(root: &Path, profile: &str, log_dir: &Path) -> Result<MockProcess> {
    let binary = root.join(format!("target/{profile}/mock-provider"));
    if !binary.is_file() {
        // Cargo's `debug` output folder belongs to its default profile, which takes no flag.
        let command = match profile {
            "release" => "cargo build --release -p mock-provider",
            _ => "cargo build -p mock-provider",
        };
        eprintln!("mock provider not built for {profile}: {command}");
        std::fs::create_dir_all(log_dir)?;
        let log = log_dir.join("mock-provider.build.log");
        let status = process::run_shell(command, root, &log)
            .await
            .with_context(|| format!("could not run `{command}`"))?;
        if !status.success() {
            bail!(
                "`{command}` failed ({status}); log {}:\n{}",
                log.display(),
                process::file_tail(&log, 2000)
            );
        }
    }
    MockProcess::start(root, profile, log_dir, READY_TIMEOUT).await
}

/// The requests tagged `tag`, once none is still in progress (or [`SETTLE_LIMIT`] passed).
pub async fn settled(mock: &MockProcess, tag: &str) -> Result<Vec<RequestTimeline>> {
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    loop {
        let requests = mock.timeline(tag).await?.requests;
        if requests.iter().all(RequestTimeline::is_settled)
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(requests);
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}
