//! The debug checks on a running backend as a whole (docs/report.md#debug-experience):
//!
//! - (d) every hop's traffic replayed with curl, as an operator would from a capture: the public
//!   port; a sidecar's own listener (`POST /api/chat`) and the server's tool listener (`GET
//!   /internal/tools`), each with its credential (the Unix socket's file access, or the bearer
//!   token read from the sidecar's environment as the operator, the processes' own user, can);
//!   and the provider hop (`POST /chat/completions` on the provider URL the server was given),
//!   with the API key read from the environment of the process that calls the provider;
//! - (e) `perf stat` attached to each process, and Node's inspector opened in each Node process
//!   with `SIGUSR1` (the port Node picks, announced on its stderr) and asked for `/json/list`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use contract::results::DebugCheck;

use sut_kit::process::RunningProcess;

use super::debug_logs::{failed, met, new_lines, not_applicable};
use super::security::listeners;
use crate::procfs;

/// One curl or perf call may take this long before it counts as failed.
const TOOL_LIMIT: Duration = Duration::from_secs(5);
/// How long `perf stat` stays attached.
const PERF_SECONDS: &str = "0.1";
/// How long Node has to announce its inspector after `SIGUSR1`.
const INSPECTOR_WAIT: Duration = Duration::from_secs(2);
/// The sidecar's credentials, as the server hands them over (the sidecar's variables in
/// docs/architecture.md).
const CHAT_TOKEN_VAR: &str = "LEANSPEC_CHAT_TOKEN";
const TOOLS_TOKEN_VAR: &str = "LEANSPEC_TOOLS_TOKEN";

/// (d) for the public port: the replay answers 200 and ends with `[DONE]`.
pub async fn replay_public(p: &RunningProcess, body: &str) -> DebugCheck {
    let url = format!("{}/api/chat", p.ready.url.trim_end_matches('/'));
    let check = "replay the public hop with curl".to_owned();
    let args = chat_args(body, None, url);
    detailed(verdict(check, curl(&args).await, true), &p.ready.url)
}

/// (d) for every hop between the processes; not applicable where there is none.
pub async fn replay_inner(p: &RunningProcess, body: &str) -> Vec<DebugCheck> {
    let server = p.ready.pid;
    let runtime = p.ready.runtime_pid.filter(|r| *r != server);
    let Some(runtime) = runtime else {
        let why = if p.ready.runtime_pid == Some(server) {
            "none: JavaScript and Rust call each other inside one process, with no traffic to capture"
        } else {
            "none: one process, no hop besides the public one and the provider's"
        };
        return vec![not_applicable("replay each inner hop".into(), why)];
    };
    let env = environ(runtime);
    let public_port = port_of(&p.ready.url);
    let mut checks = Vec::new();
    let (sidecar_tcp, sidecar_unix) = listeners(&[runtime]);
    let (server_tcp, server_unix) = listeners(&[server]);
    let chat_token = env_value(&env, CHAT_TOKEN_VAR);
    let tools_token = env_value(&env, TOOLS_TOKEN_VAR);
    for path in sidecar_unix {
        let check = "replay the sidecar hop with curl".to_owned();
        let args = chat_args(body, Some(&path), "http://localhost/api/chat".into());
        let at = format!("--unix-socket {}", path.display());
        checks.push(detailed(verdict(check, curl(&args).await, true), &at));
    }
    for port in sidecar_tcp {
        let check = "replay the sidecar hop with curl".to_owned();
        let mut args = chat_args(body, None, format!("http://127.0.0.1:{port}/api/chat"));
        args.extend(bearer(chat_token.as_deref()));
        let at = format!("127.0.0.1:{port} with {CHAT_TOKEN_VAR} from the sidecar's environment");
        checks.push(detailed(verdict(check, curl(&args).await, true), &at));
    }
    for path in server_unix {
        let check = "replay the tool hop with curl".to_owned();
        let at = format!("--unix-socket {}", path.display());
        let args = vec![
            "--unix-socket".to_owned(),
            path.display().to_string(),
            "http://localhost/internal/tools".to_owned(),
        ];
        checks.push(detailed(verdict(check, curl(&args).await, false), &at));
    }
    for port in server_tcp.into_iter().filter(|p| Some(*p) != public_port) {
        let check = "replay the tool hop with curl".to_owned();
        let mut args = vec![format!("http://127.0.0.1:{port}/internal/tools")];
        args.extend(bearer(tools_token.as_deref()));
        let at = format!("127.0.0.1:{port} with {TOOLS_TOKEN_VAR} from the sidecar's environment");
        checks.push(detailed(verdict(check, curl(&args).await, false), &at));
    }
    if checks.is_empty() {
        checks.push(failed(
            "replay each inner hop".into(),
            format!("a runtime process ({runtime}) but no listener found for its hop"),
        ));
    }
    checks
}

/// (d) for the provider hop: the request the calling process makes, replayed with the key from
/// that process's environment (the JS runtime's where there is one, else the server's); met
/// when the provider streams it to its end. Every architecture has this hop.
pub async fn replay_provider(p: &RunningProcess, provider_url: &str, text: &str) -> DebugCheck {
    let check = "replay the provider hop with curl".to_owned();
    let caller = p.ready.runtime_pid.unwrap_or(p.ready.pid);
    let role = if caller == p.ready.pid {
        "the server's"
    } else {
        "the JS runtime's"
    };
    let Some(key) = env_value(&environ(caller), contract::API_KEY_ENV) else {
        return failed(
            check,
            format!(
                "no {} in {role} environment (pid {caller})",
                contract::API_KEY_ENV
            ),
        );
    };
    let url = format!("{}/chat/completions", provider_url.trim_end_matches('/'));
    let body = serde_json::json!({
        "model": contract::DEFAULT_MODEL,
        "stream": true,
        "messages": [{"role": "user", "content": text}],
    });
    let mut args = vec![
        "-N".to_owned(),
        "-H".to_owned(),
        "content-type: application/json".to_owned(),
        "--data-binary".to_owned(),
        body.to_string(),
        url.clone(),
    ];
    args.extend(bearer(Some(&key)));
    let at = format!(
        "{url} with {} from {role} environment",
        contract::API_KEY_ENV
    );
    detailed(verdict(check, curl(&args).await, true), &at)
}

/// (e): `perf stat` on each process, and the inspector on each Node process.
pub async fn attach(p: &RunningProcess) -> Vec<DebugCheck> {
    let pids = procfs::tree(p.pgid(), p.ready.runtime_pid);
    let mut checks = Vec::new();
    for pid in pids {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|e| {
                e.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if exe.is_empty() {
            continue;
        }
        let role = if pid == p.ready.pid {
            "the server process"
        } else if Some(pid) == p.ready.runtime_pid {
            "the JS runtime process"
        } else {
            "a child process"
        };
        checks.push(perf(pid, &exe, role).await);
        if exe.starts_with("node") {
            checks.push(inspector(p, pid, role).await);
        }
    }
    checks
}

async fn perf(pid: u32, exe: &str, role: &str) -> DebugCheck {
    let check = format!("attach perf to {role}");
    let pid_s = pid.to_string();
    let args = [
        "stat",
        "-e",
        "task-clock",
        "-p",
        &pid_s,
        "--",
        "sleep",
        PERF_SECONDS,
    ];
    match run("perf", &args).await {
        Ok(out) if out.contains("task-clock") => met(
            check,
            format!("perf stat attached to {exe} (pid {pid}) for {PERF_SECONDS} s"),
        ),
        Ok(out) => failed(check, first_line(&out)),
        Err(e) => failed(check, e),
    }
}

/// `SIGUSR1` opens Node's inspector on the port `--inspect-port` names (0: the kernel's pick);
/// Node announces it on stderr, which is the backend's log (the sidecar's is forwarded).
async fn inspector(p: &RunningProcess, pid: u32, role: &str) -> DebugCheck {
    let check = format!("open Node's inspector in {role} (SIGUSR1)");
    let offset = std::fs::metadata(&p.stderr_log).map_or(0, |m| m.len());
    let Ok(raw) = i32::try_from(pid) else {
        return failed(check, format!("pid {pid} out of range"));
    };
    let signalled = rustix::process::Pid::from_raw(raw)
        .map(|pid| rustix::process::kill_process(pid, rustix::process::Signal::USR1));
    if !matches!(signalled, Some(Ok(()))) {
        return failed(check, format!("could not signal pid {pid}"));
    }
    let deadline = Instant::now() + INSPECTOR_WAIT;
    let address = loop {
        let lines = new_lines(&p.stderr_log, offset).await;
        if let Some(a) = lines.iter().find_map(|l| inspector_address(l)) {
            break Some(a);
        }
        if Instant::now() >= deadline {
            break None;
        }
    };
    let Some(address) = address else {
        return failed(
            check,
            format!("pid {pid} announced no inspector within {INSPECTOR_WAIT:?}"),
        );
    };
    match curl(&[format!("http://{address}/json/list")]).await {
        Ok((200, body)) if body.contains("webSocketDebuggerUrl") => met(
            check,
            format!("pid {pid}: inspector on {address} listed its target"),
        ),
        Ok((status, _)) => failed(
            check,
            format!("pid {pid}: {address}/json/list answered {status}"),
        ),
        Err(e) => failed(check, format!("pid {pid}: {e}")),
    }
}

/// `127.0.0.1:PORT` from `Debugger listening on ws://127.0.0.1:PORT/<uuid>`.
pub fn inspector_address(line: &str) -> Option<String> {
    let rest = line.split("Debugger listening on ws://").nth(1)?;
    Some(rest.split('/').next()?.to_owned())
}

fn chat_args(body: &str, socket: Option<&PathBuf>, url: String) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(path) = socket {
        args.extend(["--unix-socket".to_owned(), path.display().to_string()]);
    }
    args.extend([
        "-N".to_owned(),
        "-H".to_owned(),
        "content-type: application/json".to_owned(),
        "-H".to_owned(),
        format!("{}: debug-replay", contract::request_id::HEADER),
        "--data-binary".to_owned(),
        body.to_owned(),
        url,
    ]);
    args
}

fn bearer(token: Option<&str>) -> Vec<String> {
    token.map_or_else(Vec::new, |t| {
        vec!["-H".to_owned(), format!("authorization: Bearer {t}")]
    })
}

/// `check` with where it was tried after its detail.
fn detailed(mut check: DebugCheck, at: &str) -> DebugCheck {
    check.detail = format!("{} ({at})", check.detail);
    check
}

/// Met when the replay answered 200 (and, for a chat, ended its stream with `[DONE]`).
fn verdict(check: String, outcome: Result<(u16, String), String>, chat: bool) -> DebugCheck {
    match outcome {
        Ok((200, body)) if !chat || body.trim_end().ends_with("data: [DONE]") => {
            met(check, "answered 200".into())
        }
        Ok((200, _)) => failed(check, "answered 200 but the stream did not end".into()),
        Ok((status, _)) => failed(check, format!("answered {status}")),
        Err(e) => failed(check, e),
    }
}

/// Runs curl with `args`; its status and body.
async fn curl(args: &[String]) -> Result<(u16, String), String> {
    let mut all: Vec<&str> = vec!["-s", "--max-time", "4", "-w", "\n%{http_code}"];
    all.extend(args.iter().map(String::as_str));
    let out = run("curl", &all).await?;
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    match code.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err("no connection".into()),
        Ok(status) => Ok((status, body.to_owned())),
    }
}

/// stdout and stderr of `program args`, or why it could not run.
async fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(TOOL_LIMIT, cmd.output()).await {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Ok(text)
        }
        Ok(Err(e)) => Err(format!("could not run {program}: {e}")),
        Err(_) => Err(format!("{program} did not finish within {TOOL_LIMIT:?}")),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_owned()
}

fn environ(pid: u32) -> Vec<(String, String)> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn env_value(env: &[(String, String)], key: &str) -> Option<String> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn port_of(url: &str) -> Option<u16> {
    url.trim_end_matches('/')
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inspector_address_is_read_from_nodes_announcement() {
        let line = "2026-12-06T1Z  INFO sidecar: x.rs:1: Debugger listening on ws://127.0.0.1:39091/53aa-11c9 member=0";
        assert_eq!(inspector_address(line).as_deref(), Some("127.0.0.1:39091"));
        assert_eq!(inspector_address("Debugger attached."), None);
    }

    #[test]
    fn a_replay_passes_only_on_a_whole_answer() {
        let done = Ok((200, "data: {}\n\ndata: [DONE]\n\n".to_owned()));
        assert_eq!(
            verdict("c".into(), done, true).verdict,
            contract::results::Verdict::Met
        );
        let cut = Ok((200, "data: {}\n\n".to_owned()));
        assert_eq!(
            verdict("c".into(), cut, true).verdict,
            contract::results::Verdict::Failed
        );
        let refused = Ok((401, String::new()));
        assert_eq!(
            verdict("c".into(), refused, false).verdict,
            contract::results::Verdict::Failed
        );
        let none = Err("no connection".to_owned());
        assert_eq!(
            verdict("c".into(), none, false).verdict,
            contract::results::Verdict::Failed
        );
    }
}
