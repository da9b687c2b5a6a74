//! Bringing a deployment up and down, and what is read through its published port: the first
//! completed chat after `up` (cold start) and what a SIGKILL to the sidecar container does.

use std::time::{Duration, Instant};

use contract::results::SidecarKill;

use super::compose::{Compose, Env};
use super::podman::{Podman, PodmanError};
use crate::external::client;

/// How long a deployment may take from `up` to its first completed chat before it counts as
/// not starting: the rehearsal's slowest was 5 s at load 20 (docs/deploy.md#run), and a first
/// `up` also creates the network and volume.
pub const COLD_START_LIMIT: Duration = Duration::from_secs(120);
/// How long after the kill a chat must complete again: the restart policy's back-off plus a
/// Node cold start (1.6-1.9 s in the rehearsal), with room for a loaded machine.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);
/// How often the port is tried while waiting: the cold start's resolution.
const POLL: Duration = Duration::from_millis(50);

/// `/proc/loadavg`'s three figures.
pub fn loadavg() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// A port free on this host now (the kernel's pick), for the deployment to publish.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `up`, returning when it was started (the http architecture's tokens written first when
/// its env file is absent).
pub async fn up(podman: &Podman, compose: &Compose, env: &Env) -> Result<Instant, PodmanError> {
    if compose.arch == "http" {
        ensure_http_env(podman).await?;
    }
    let started = Instant::now();
    compose.up(podman, env).await?;
    Ok(started)
}

pub async fn down(podman: &Podman, compose: &Compose, env: &Env) -> Result<(), PodmanError> {
    compose.down(podman, env).await
}

/// The tokens' env file (mode 0600, ignored by git), written by `deploy/new-http-env` when absent.
async fn ensure_http_env(podman: &Podman) -> Result<(), PodmanError> {
    if podman.root().join("deploy/http/http.env").exists() {
        return Ok(());
    }
    podman
        .run(podman.command("deploy/new-http-env", &[]))
        .await
        .map(drop)
}

/// Whether a short text chat completes through `url`.
async fn chat_completes(http: &reqwest::Client, url: &str, tag: &str) -> bool {
    let mut d = client::text_directive(tag);
    d.params.chunks = 2;
    d.params.ttft_ms = 0;
    d.params.gap_ms = 0;
    client::converse(http, url, &d).await.completed()
}

/// Polls until a chat completes; how long after `since` it did, or `None` past `limit`.
pub async fn first_chat(
    http: &reqwest::Client,
    url: &str,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let mut i = 0;
    while since.elapsed() < limit {
        if chat_completes(http, url, &format!("deploy.first.{i}")).await {
            return Some(since.elapsed());
        }
        i += 1;
        tokio::time::sleep(POLL).await;
    }
    None
}

/// SIGKILL to the sidecar container's own process (a crash: `podman kill` counts as a stop,
/// which a restart policy leaves stopped), the status a new chat gets at once, and the time
/// until one completes again.
pub async fn kill_sidecar(
    podman: &Podman,
    http: &reqwest::Client,
    url: &str,
    container: &str,
) -> Result<SidecarKill, String> {
    let pid = podman
        .container_pid(container)
        .await
        .ok_or_else(|| format!("no running container {container}"))?;
    podman
        .run(podman.command("kill", &["-KILL", &pid.to_string()]))
        .await
        .map_err(|e| e.to_string())?;
    let killed = Instant::now();
    let status = client::chat_request(http, url, "[[scenario:text]] after the kill")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16());
    let recovery = first_chat(http, url, killed, RECOVERY_LIMIT).await;
    Ok(SidecarKill {
        status,
        recovery_ms: recovery.map(|d| d.as_secs_f64() * 1e3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_reads_three_figures() {
        let l = loadavg().expect("Linux has /proc/loadavg");
        assert!(l.iter().all(|v| *v >= 0.0));
    }
}
