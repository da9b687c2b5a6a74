//! The mock provider as the measuring stages run it: a process of its own
//! (`sut_kit::mock::MockProcess`), so its sends never wait on the harness's runtime, built
//! first when the run's profile lacks the binary (the backends' manifests do not build it).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::{self, StartSettings};

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
    build(root, profile, log_dir).await
}

/// Builds the mock process binary of this profile, and the zero-work relay beside it
/// ([`crate::relay`]), seconds when they are up to date.
pub async fn build(root: &Path, profile: &str, log_dir: &Path) -> Result<()> {
    // Cargo's `debug` output folder belongs to its default profile, which takes no flag.
    let flag = if profile == "release" {
        " --release"
    } else {
        ""
    };
    let command = format!("cargo build{flag} -p mock-provider");
    eprintln!("building the mock provider ({command})");
    let log = log_dir.join("build-mock-provider.log");
    crate::step::run_ok(&command, root, &log).await?;
    Ok(())
}

/// How a stage starts backends against `mock`: the common flags, the canary key.
pub fn start_settings(
    root: &Path,
    profile: &str,
    mock: &MockProcess,
    ready_timeout: Duration,
) -> StartSettings {
    StartSettings {
        root: root.to_owned(),
        profile: profile.to_owned(),
        provider_url: mock.openai_url(),
        api_key: orchestrate::api_key_canary(),
        ready_timeout,
        extra_args: vec![],
        env: Vec::new(),
    }
}

/// Starts the mock provider of `profile` with default options, building it first if needed.
pub async fn start(root: &Path, profile: &str, log_dir: &Path) -> Result<MockProcess> {
    ensure_built(root, profile, log_dir).await?;
    MockProcess::start(root, profile, log_dir, READY_TIMEOUT).await
}

/// `harness mock --listen ADDR`: the mock provider on its own, for a deployment the harness
/// did not start (docs/distributed.md). Prints one ready line (`contract::ready::ReadyLine`,
/// `backend` = `mock-provider`, `url` its base URL; the deployment gets `<url>/v1`) once it
/// serves, and serves until SIGINT or SIGTERM.
pub async fn serve_standalone(listen: std::net::SocketAddr) -> Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use tokio::signal::unix::{SignalKind, signal};

    let listener = mock_provider::server::bind(listen)
        .with_context(|| format!("cannot listen on {listen}; pick a free address or port 0"))?;
    let addr = listener.local_addr()?;
    let config = mock_provider::MockConfig {
        listen: addr,
        ..mock_provider::MockConfig::default()
    };
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    };
    let server = tokio::spawn(mock_provider::serve(listener, config, shutdown));
    let ready = contract::ready::ReadyLine::new("mock-provider", format!("http://{addr}"), None);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", ready.to_line())?;
    stdout.flush()?;
    drop(stdout);
    server.await.context("the mock's server task failed")??;
    Ok(())
}
