//! The mock provider as the measuring stages run it: a process of its own
//! (`conformance::mock::MockProcess`), so its sends never wait on the harness's runtime, built
//! first when the run's profile lacks the binary (the backends' manifests do not build it).

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use conformance::mock::MockProcess;
use conformance::orchestrate::{self, LaunchConfig};
use conformance::process;

/// How long the mock may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The mock process binary of this profile, built when missing (logged under `log_dir`).
pub async fn ensure_built(root: &Path, profile: &str, log_dir: &Path) -> Result<()> {
    if root
        .join(format!("target/{profile}/mock-provider"))
        .is_file()
    {
        return Ok(());
    }
    std::fs::create_dir_all(log_dir)?;
    // Cargo's `debug` output folder belongs to its default profile, which takes no flag.
    let flag = if profile == "release" {
        " --release"
    } else {
        ""
    };
    let command = format!("cargo build{flag} -p mock-provider");
    eprintln!("building the mock provider ({command})");
    let log = log_dir.join("build-mock-provider.log");
    let status = process::run_shell(&command, root, &log).await?;
    if !status.success() {
        bail!(
            "`{command}` failed; see {}:\n{}",
            log.display(),
            process::file_tail(&log, 2000)
        );
    }
    Ok(())
}

/// How a stage starts backends against `mock`: the common flags, the canary key.
pub fn launch_config(
    root: &Path,
    profile: &str,
    mock: &MockProcess,
    ready_timeout: Duration,
) -> LaunchConfig {
    LaunchConfig {
        root: root.to_owned(),
        profile: profile.to_owned(),
        provider_url: mock.openai_url(),
        api_key: orchestrate::api_key_canary(),
        ready_timeout,
        extra_args: vec![],
    }
}

/// Starts the mock provider of `profile` with default options, building it first if needed.
pub async fn start(root: &Path, profile: &str, log_dir: &Path) -> Result<MockProcess> {
    ensure_built(root, profile, log_dir).await?;
    MockProcess::start(root, profile, log_dir, READY_TIMEOUT).await
}
