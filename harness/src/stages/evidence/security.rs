//! What another local user can reach of a running backend, tried for real: as an unprivileged
//! user (`nobody`, through `setpriv`), read the API key from `/proc/<pid>/environ` and
//! `cmdline` of each of its processes, call each listener it holds beyond its public one
//! without a credential (`/health`, `/internal/tools`, `POST /api/chat`: a 2xx is a success),
//! and list each folder its Unix sockets live in (docs/report.md#security).

use std::path::{Path, PathBuf};
use std::time::Duration;

use contract::results::{Probe, Security};

/// A probe that has not finished by then counts as failed (it reached nothing).
const PROBE_LIMIT: Duration = Duration::from_secs(5);
/// The unprivileged account every Linux distribution has.
const PROBE_USER: &str = "nobody";

/// The user probes run as.
#[derive(Debug, Clone)]
pub struct ProbeUser {
    pub name: String,
    uid: u32,
    gid: u32,
}

/// The probe user, or why this machine cannot run probes as another user.
pub fn probe_user() -> Result<ProbeUser, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("the harness does not run as root, so it cannot act as another user".into());
    }
    for tool in ["setpriv", "curl"] {
        if !crate::tools::present(tool) {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&PROBE_USER)).then(|| {
                Some(ProbeUser {
                    name: PROBE_USER.to_owned(),
                    uid: f.get(2)?.parse().ok()?,
                    gid: f.get(3)?.parse().ok()?,
                })
            })?
        })
        .ok_or_else(|| format!("no `{PROBE_USER}` account in /etc/passwd"))
}

/// What a backend exposes: its processes, the listeners they hold, its public port.
#[derive(Debug, Clone)]
pub struct Exposure {
    pub pids: Vec<u32>,
    pub public_port: Option<u16>,
    pub api_key: String,
    /// A request body for `POST /api/chat`.
    pub chat_body: String,
}

/// Runs every probe as `user` against `exposed`.
pub async fn probe(user: &ProbeUser, exposed: &Exposure) -> Security {
    let mut probes = Vec::new();
    for pid in &exposed.pids {
        for file in ["environ", "cmdline"] {
            let path = format!("/proc/{pid}/{file}");
            let out = run_as(user, "cat", &[&path]).await;
            let (succeeded, saw) = match out {
                Ok(text) if text.contains(&exposed.api_key) => (true, "read; the key is there"),
                Ok(_) => (false, "read; the key is not there"),
                Err(e) => {
                    probes.push(Probe {
                        what: format!("read {path} for the API key"),
                        succeeded: false,
                        saw: e,
                    });
                    continue;
                }
            };
            probes.push(Probe {
                what: format!("read {path} for the API key"),
                succeeded,
                saw: saw.to_owned(),
            });
        }
    }
    let (tcp, unix) = listeners(&exposed.pids);
    let mut targets: Vec<(String, Vec<String>)> = tcp
        .into_iter()
        .filter(|p| Some(*p) != exposed.public_port)
        .map(|p| {
            (
                format!("127.0.0.1:{p}"),
                vec![format!("http://127.0.0.1:{p}")],
            )
        })
        .collect();
    targets.extend(unix.iter().map(|path| {
        (
            format!("unix:{}", path.display()),
            vec![
                "--unix-socket".to_owned(),
                path.display().to_string(),
                "http://localhost".to_owned(),
            ],
        )
    }));
    for (name, base) in &targets {
        for (method, route) in [
            ("GET", "/health"),
            ("GET", "/internal/tools"),
            ("POST", "/api/chat"),
        ] {
            let mut args: Vec<String> = vec![
                "-s".into(),
                "-o".into(),
                "/dev/null".into(),
                "-w".into(),
                "%{http_code}".into(),
                "--max-time".into(),
                "3".into(),
                "-X".into(),
                method.into(),
            ];
            if method == "POST" {
                args.extend([
                    "-H".into(),
                    "content-type: application/json".into(),
                    "--data-binary".into(),
                    exposed.chat_body.clone(),
                ]);
            }
            let mut base = base.clone();
            let url = base.pop().unwrap_or_default();
            args.extend(base);
            args.push(format!("{url}{route}"));
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let status = match run_as(user, "curl", &refs).await {
                Ok(code) | Err(code) => code.trim().to_owned(),
            };
            probes.push(Probe {
                what: format!("{method} {route} on {name} without its credential"),
                succeeded: status.starts_with('2'),
                saw: if status.starts_with("000") || status.is_empty() {
                    "no connection".to_owned()
                } else {
                    format!("HTTP {status}")
                },
            });
        }
    }
    let mut dirs: Vec<PathBuf> = unix
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let shown = dir.display().to_string();
        let out = run_as(user, "ls", &["-a", &shown]).await;
        probes.push(Probe {
            what: format!("list the socket folder {shown}"),
            succeeded: out.is_ok(),
            saw: out.map_or_else(|e| e, |_| "listed".to_owned()),
        });
    }
    let attempts = u32::try_from(probes.len()).unwrap_or(u32::MAX);
    let succeeded = u32::try_from(probes.iter().filter(|p| p.succeeded).count()).unwrap_or(0);
    Security {
        probe_user: Some(user.name.clone()),
        skipped: None,
        probes,
        attempts: Some(attempts),
        succeeded: Some(succeeded),
    }
}

/// Runs `program args` as `user`; stdout on success, stderr's first line (or stdout) otherwise.
async fn run_as(user: &ProbeUser, program: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new("setpriv");
    cmd.arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .arg("--clear-groups")
        .arg("--")
        .arg(program)
        .args(args)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(PROBE_LIMIT, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(format!("could not run the probe: {e}")),
        Err(_) => return Err("no answer within the probe's limit".into()),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        Err(if first.is_empty() {
            stdout
        } else {
            first.to_owned()
        })
    }
}

/// The listening TCP ports and Unix socket paths held by `pids` (their open file descriptors
/// matched with `/proc/net/{tcp,tcp6,unix}`).
pub fn listeners(pids: &[u32]) -> (Vec<u16>, Vec<PathBuf>) {
    let mut inodes = std::collections::BTreeSet::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                let link = link.display().to_string();
                if let Some(n) = link
                    .strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                {
                    inodes.insert(n.to_owned());
                }
            }
        }
    }
    let mut tcp = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        tcp.extend(listening_tcp(&text, &inodes));
    }
    tcp.sort_unstable();
    tcp.dedup();
    let text = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    (tcp, listening_unix(&text, &inodes))
}

/// Ports of `/proc/net/tcp` lines in state LISTEN (0A) whose inode is in `inodes`.
fn listening_tcp(text: &str, inodes: &std::collections::BTreeSet<String>) -> Vec<u16> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let listening = f.get(3) == Some(&"0A");
            let ours = f.get(9).is_some_and(|i| inodes.contains(*i));
            let port = f.get(1)?.rsplit_once(':')?.1;
            (listening && ours).then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

/// Paths of `/proc/net/unix` lines flagged as accepting connections whose inode is ours.
fn listening_unix(text: &str, inodes: &std::collections::BTreeSet<String>) -> Vec<PathBuf> {
    /// `__SO_ACCEPTCON`: the socket listens.
    const ACCEPTING: u32 = 0x0001_0000;
    let mut out: Vec<PathBuf> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let ours = inodes.contains(*f.get(6)?);
            let path = f.get(7)?;
            (flags & ACCEPTING != 0 && ours && path.starts_with('/')).then(|| PathBuf::from(path))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_tables() {
        let ours: std::collections::BTreeSet<String> = ["111".to_owned(), "222".to_owned()].into();
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n\
   1: 0100007F:1F91 00000000:0000 01 00000000:00000000 00:00000000 00000000     0        0 111 1\n\
   2: 0100007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        assert_eq!(listening_tcp(tcp, &ours), vec![8080]);
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path\n\
0000: 00000002 00000000 00010000 0001 01 222 /tmp/x/chat-0.sock\n\
0000: 00000002 00000000 00000000 0001 03 222 /tmp/x/conn\n\
0000: 00000002 00000000 00010000 0001 01 999 /tmp/y/other.sock\n";
        assert_eq!(
            listening_unix(unix, &ours),
            vec![PathBuf::from("/tmp/x/chat-0.sock")]
        );
    }
}
