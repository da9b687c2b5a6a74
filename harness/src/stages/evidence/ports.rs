//! Port conflicts, tried: N instances of a backend started side by side (each binds
//! `127.0.0.1:0` as every stage's instances do), then two instances given one fixed `--listen`
//! port; failed binds counted, the second instance's error read for the port and "in use", and
//! the entries left in the instances' own temp folder (`TMPDIR`) after they all stopped counted.
//! While the side-by-side instances run, the first is probed as another user
//! ([`super::security`]). Method: docs/report.md#port-conflicts.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use contract::results::{PortConflicts, Security};
use contract::scenario::Scenario;

use sut_kit::manifest::Backend;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};
use sut_kit::process::{self, ProcessSpec, RunningProcess, StartError};

use super::security::{self, Exposure, ProbeUser};
use crate::chat;
use crate::procfs;

/// How long after the last stop the temp folder is read: a process group's exit is awaited by
/// `stop`, so this only covers a file removed by an exit handler still flushing.
const SETTLE: Duration = Duration::from_millis(200);
/// How much of an error is kept in the results, from its start (where the operator reads it).
const ERROR_KEPT: usize = 600;

/// Runs the port-conflict study of `backend`, and the security probes as `user` (or records
/// why they were skipped) on the first side-by-side instance.
pub async fn measure(
    backend: &Backend,
    cfg: &StartSettings,
    instances: u32,
    log_dir: &Path,
    user: &Result<ProbeUser, String>,
) -> Result<(PortConflicts, Security)> {
    // World-writable with the sticky bit, as /tmp is: what a backend makes inside is then
    // protected by its own modes, which is what the security probes test.
    let tmp = tempfile::Builder::new()
        .prefix("arena-evidence-")
        .tempdir()
        .context("making the instances' temp folder")?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777))?;

    let labels: Vec<String> = (1..=instances).map(|i| format!("ports-{i}")).collect();
    let starts = labels
        .iter()
        .map(|label| start(backend, cfg, label, &[], tmp.path(), log_dir));
    let started = futures::future::join_all(starts).await;
    let mut failures = Vec::new();
    let mut running = Vec::new();
    for s in started {
        match s {
            Ok(p) => running.push(p),
            Err(e) => failures.push(head(&e.to_string())),
        }
    }
    let security = match (user, running.first()) {
        (Err(why), _) => skipped(why.clone()),
        (Ok(_), None) => skipped("no instance started to probe".into()),
        (Ok(user), Some(p)) => security::probe(user, &exposure(p, &cfg.api_key)).await,
    };
    for p in running {
        p.stop().await;
    }

    let port = free_port()?;
    let listen = ["--listen".to_owned(), format!("127.0.0.1:{port}")];
    let first = start(backend, cfg, "fixed-1", &listen, tmp.path(), log_dir).await;
    let second = start(backend, cfg, "fixed-2", &listen, tmp.path(), log_dir).await;
    let fixed_failed = u32::from(first.is_err()) + u32::from(second.is_err());
    // The operator reads the error at the top of stderr (a backtrace may follow it when
    // RUST_BACKTRACE is set), so the head of the log is kept, and the checks read all of it.
    let stderr_log = log_dir.join(format!("{}.fixed-2.stderr.log", backend.name()));
    let fixed_port_error = second.as_ref().err().map(|e| {
        let logged = std::fs::read_to_string(&stderr_log).unwrap_or_default();
        if logged.trim().is_empty() {
            e.to_string()
        } else {
            logged
        }
    });
    for p in [first, second].into_iter().flatten() {
        p.stop().await;
    }
    tokio::time::sleep(SETTLE).await;
    let mut left_behind: Vec<String> = std::fs::read_dir(tmp.path())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left_behind.sort();

    let text = fixed_port_error.clone().unwrap_or_default();
    let fixed_port_error = fixed_port_error.map(|t| head(&t));
    let error_names_port = text.contains(&port.to_string());
    let lower = text.to_lowercase();
    let error_says_in_use = lower.contains("in use") || lower.contains("eaddrinuse");
    let failed_binds = u32::try_from(failures.len()).unwrap_or(u32::MAX);
    let problems = failed_binds
        + u32::try_from(left_behind.len()).unwrap_or(u32::MAX)
        + u32::from(!error_names_port)
        + u32::from(!error_says_in_use)
        + fixed_failed.abs_diff(1);
    Ok((
        PortConflicts {
            instances,
            failed_binds,
            failures,
            fixed_port_failed_binds: fixed_failed,
            fixed_port_error,
            error_names_port,
            error_says_in_use,
            left_behind,
            problems,
        },
        security,
    ))
}

/// Starts one instance of `backend` with the stage's settings, `extra` flags and `TMPDIR` set
/// to `tmp` (orchestrate's command line, conformance's process start).
async fn start(
    backend: &Backend,
    cfg: &StartSettings,
    instance: &str,
    extra: &[String],
    tmp: &Path,
    log_dir: &Path,
) -> Result<RunningProcess, StartError> {
    let opts = InstanceOptions {
        extra_args: extra.to_vec(),
        instance: Some(instance.to_owned()),
    };
    let (program, args) = orchestrate::command_line(backend, cfg, &opts);
    let spec = ProcessSpec {
        label: format!("{}.{instance}", backend.name()),
        program,
        args,
        env: vec![
            (contract::API_KEY_ENV.into(), cfg.api_key.clone()),
            ("TMPDIR".into(), tmp.display().to_string()),
        ],
        cwd: cfg.root.clone(),
        log_dir: log_dir.to_owned(),
        ready_timeout: cfg.ready_timeout,
    };
    process::start(&spec).await
}

/// What the probes aim at in a running instance.
fn exposure(p: &RunningProcess, api_key: &str) -> Exposure {
    let d = chat::directive(Scenario::Text, "evidence.security", 3, 1);
    Exposure {
        pids: procfs::tree(p.pgid(), p.ready.runtime_pid),
        public_port: p
            .ready
            .url
            .trim_end_matches('/')
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok()),
        api_key: api_key.to_owned(),
        chat_body: chat::body(&d).to_string(),
    }
}

fn skipped(why: String) -> Security {
    Security {
        skipped: Some(why),
        ..Security::default()
    }
}

/// A port the kernel just handed out and that nothing holds now.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(l.local_addr()?.port())
}

/// The error an operator reads: the text before any backtrace (whose frames name the build
/// machine's own paths), at most [`ERROR_KEPT`] bytes, on a character boundary.
fn head(text: &str) -> String {
    let text = text.split("Stack backtrace:").next().unwrap_or(text).trim();
    let mut end = text.len().min(ERROR_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_drops_a_backtrace_and_its_paths() {
        let logged = "Error: cannot listen on 127.0.0.1:9; pick a free port\n\nCaused by:\n    \
                      Address already in use\n\nStack backtrace:\n   0: f\n at src/a.rs:1";
        let kept = head(logged);
        assert!(kept.ends_with("Address already in use"), "{kept}");
        assert!(!kept.contains("a.rs"), "{kept}");
    }

    #[test]
    fn head_keeps_the_start_on_a_character_boundary() {
        let long = format!("{}é{}", "a".repeat(ERROR_KEPT - 1), "b".repeat(10));
        let h = head(&long);
        assert!(h.len() <= ERROR_KEPT);
        assert!(
            h.ends_with('a'),
            "the two-byte é does not fit and is not split"
        );
        assert_eq!(head("  short \n"), "short");
    }
}
