//! What the measuring stages read from `/proc` and send to single processes: the tree of
//! processes under a backend (its sidecars, their children), signals to one pid (a fault
//! injected into a runtime), and the machine's load.
//!
//! The harness starts each backend in a process group of its own and stops that group
//! (`conformance::process`); this module is for what a group does not cover: a runtime the fault
//! left in another group, or counting the processes a deployment runs.

use rustix::process::{Pid, Signal};

/// `pid` and every process below it, parents before children. A process whose parent died
/// is adopted elsewhere and no longer found here: take the tree while the parent lives.
pub fn tree(root: u32) -> Vec<u32> {
    let parents = parent_table();
    let mut found = Vec::new();
    if conformance::process::pid_alive(root) {
        found.push(root);
    }
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found
}

/// `(pid, parent pid)` of every process visible in `/proc`.
fn parent_table() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so read after the last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `signal` to one process; false when it does not exist (or cannot be signalled).
pub fn signal(pid: u32, signal: Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|p| rustix::process::kill_process(p, signal).is_ok())
}

/// The processes of `pids` that are still alive (a zombie is not).
pub fn alive(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|p| conformance::process::pid_alive(*p))
        .collect()
}

/// The 1-minute load average (`/proc/loadavg`): how busy the machine was while a figure was
/// taken.
pub fn load_avg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_children_and_grandchildren() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut found = Vec::new();
        for _ in 0..200 {
            found = tree(pid);
            if found.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(found[0], pid);
        assert_eq!(found.len(), 2, "{found:?}");
        for p in found.iter().rev() {
            signal(*p, Signal::KILL);
        }
        child.wait().unwrap();
        assert!(alive(&[pid]).is_empty());
        assert!(load_avg_1m().is_some());
        assert!(tree(u32::MAX).is_empty());
    }
}
