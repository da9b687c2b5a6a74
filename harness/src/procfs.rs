//! What a running backend costs the machine, read from `/proc`: the processes that make it up
//! (its process group, plus a runtime that left the group), their CPU time and their memory.
//!
//! A backend is more than the pid the harness spawned: unix and http start Node sidecars, each
//! in a process group of its own (so a Ctrl-C reaches the server first), so the unit measured is
//! the backend's process group and every descendant of it, as the harness starts and stops it
//! (sut_kit::process).

use std::collections::BTreeSet;

/// Clock ticks per second of `/proc/<pid>/stat`'s utime and stime. Linux has reported 100 to user
/// space on every architecture since 2.6 (`USER_HZ`), whatever the kernel's internal rate.
const USER_HZ: u64 = 100;

/// The processes of a backend: every process in `pgid`'s group, `extra` when it is alive (a
/// runtime the backend moved to a group of its own), and every descendant of those (a pool's
/// sidecars, each in its own group).
pub fn tree(pgid: i32, extra: Option<u32>) -> Vec<u32> {
    let mut all: Vec<(u32, StatFields)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(f) = stat_fields(pid) {
                all.push((pid, f));
            }
        }
    }
    let mut pids: BTreeSet<u32> = all
        .iter()
        .filter(|(_, f)| f.pgrp == pgid)
        .map(|(p, _)| *p)
        .collect();
    if let Some(pid) = extra.filter(|p| all.iter().any(|(q, _)| q == p)) {
        pids.insert(pid);
    }
    with_descendants(&mut pids, &all);
    pids.into_iter().collect()
}

/// Adds to `pids` every process of `all` whose parent is in it, until none is left to add.
fn with_descendants(pids: &mut BTreeSet<u32>, all: &[(u32, StatFields)]) {
    loop {
        let before = pids.len();
        for (pid, f) in all {
            if pids.contains(&f.ppid) {
                pids.insert(*pid);
            }
        }
        if pids.len() == before {
            return;
        }
    }
}

/// The fields of `/proc/<pid>/stat` the harness reads.
#[derive(Debug, Clone, Copy)]
struct StatFields {
    ppid: u32,
    pgrp: i32,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
}

fn stat_fields(pid: u32) -> Option<StatFields> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Parses `pid (comm) state ppid pgrp ... utime stime ...`; comm may hold spaces and
/// parentheses, so the fields are counted after the last `)`.
fn parse_stat(stat: &str) -> Option<StatFields> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After comm: state(0) ppid(1) pgrp(2) session(3) tty(4) tpgid(5) flags(6) minflt(7)
    // cminflt(8) majflt(9) cmajflt(10) utime(11) stime(12).
    Some(StatFields {
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        cpu_ticks: fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?,
    })
}

/// CPU time (user + system) of `pids`, in milliseconds. A process that has exited since the
/// list was taken counts as zero.
pub fn cpu_ms(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|p| stat_fields(*p))
        .map(|f| f.cpu_ticks)
        .sum();
    ticks as f64 * 1_000.0 / USER_HZ as f64
}

/// Resident and proportional set sizes, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUse {
    pub rss_bytes: u64,
    pub pss_bytes: u64,
}

/// The memory of `pids`, summed (`/proc/<pid>/smaps_rollup`). RSS double-counts pages the
/// processes share; PSS divides them among the sharers.
pub fn memory(pids: &[u32]) -> MemoryUse {
    let mut total = MemoryUse::default();
    for pid in pids {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            let one = parse_rollup(&text);
            total.rss_bytes += one.rss_bytes;
            total.pss_bytes += one.pss_bytes;
        }
    }
    total
}

fn parse_rollup(text: &str) -> MemoryUse {
    let kib = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    MemoryUse {
        rss_bytes: kib("Rss:") * 1024,
        pss_bytes: kib("Pss:") * 1024,
    }
}

/// Open file descriptors of a set of processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Descriptors {
    pub fds: u32,
    /// Those that are sockets (`/proc/<pid>/fd/N` links to `socket:[inode]`).
    pub sockets: u32,
}

/// The open descriptors of `pids`, summed; a process that exited since the list was taken
/// counts as none.
pub fn descriptors(pids: &[u32]) -> Descriptors {
    let mut total = Descriptors::default();
    for pid in pids {
        let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for entry in entries.flatten() {
            total.fds += 1;
            if std::fs::read_link(entry.path())
                .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
            {
                total.sockets += 1;
            }
        }
    }
    total
}

/// The threads of `pid` (`/proc/<pid>/task`); none for a process that has ended.
pub fn threads(pid: u32) -> Vec<rustix::process::Pid> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok())
                .filter_map(rustix::process::Pid::from_raw)
                .collect()
        })
        .unwrap_or_default()
}

/// Sets the nice value of every thread of `pids` (Linux keeps one per thread; children inherit
/// the value of the thread that starts them). A thread that ends between being listed and
/// being set is skipped: it has no value left to set.
pub fn renice(pids: &[u32], nice: i32) -> std::io::Result<()> {
    for &pid in pids {
        for tid in threads(pid) {
            match rustix::process::setpriority_process(Some(tid), nice) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Sets the nice value of every thread of this process; returns the value it had before.
pub fn renice_self(nice: i32) -> std::io::Result<i32> {
    let before = rustix::process::getpriority_process(None)?;
    renice(&[std::process::id()], nice)?;
    Ok(before)
}

/// Where the kernel schedules by session (`kernel.sched_autogroup_enabled`), this session's
/// group: every process of the session shares one scheduling entity, whose weight against
/// other sessions' is the group's nice, not its processes' (theirs rank them only inside it).
const AUTOGROUP: &str = "/proc/self/autogroup";

/// Sets the nice value of this session's autogroup; returns the value it had before, or `None`
/// where the kernel has no autogroup for this process (then nice values rank it against every
/// process on its CPU, and there is nothing to set).
pub fn renice_session(nice: i32) -> std::io::Result<Option<i32>> {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|v| v.trim() == "1");
    let Some(text) = enabled
        .then(|| std::fs::read_to_string(AUTOGROUP).ok())
        .flatten()
    else {
        return Ok(None);
    };
    let before = parse_autogroup_nice(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{AUTOGROUP} reads `{}`", text.trim()),
        )
    })?;
    std::fs::write(AUTOGROUP, nice.to_string())?;
    Ok(Some(before))
}

/// The nice of `/autogroup-12 nice -10`.
fn parse_autogroup_nice(text: &str) -> Option<i32> {
    let mut words = text.split_whitespace();
    words.find(|w| *w == "nice")?;
    words.next()?.parse().ok()
}

/// Whether the process `pid` still runs (its `/proc` entry is there). A recycled pid reads as
/// running: callers use it to leave something alone one run longer, never to kill.
pub fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
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
    fn stat_with_a_tricky_comm() {
        let stat = "4242 (node (v20) x) S 1 4240 4240 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 7 0";
        let f = parse_stat(stat).unwrap();
        assert_eq!(f.pgrp, 4240);
        assert_eq!(f.cpu_ticks, 175);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn a_tree_holds_children_in_groups_of_their_own_and_theirs() {
        let f = |ppid, pgrp| StatFields {
            ppid,
            pgrp,
            cpu_ticks: 0,
        };
        // 10 leads group 10; 11 (its sidecar) and 12 (the sidecar's child) left the group;
        // 20 is another backend's.
        let all = [
            (10, f(1, 10)),
            (12, f(11, 11)),
            (11, f(10, 11)),
            (20, f(1, 20)),
        ];
        let mut pids = BTreeSet::from([10]);
        with_descendants(&mut pids, &all);
        assert_eq!(pids, BTreeSet::from([10, 11, 12]));
    }

    #[test]
    fn rollup_sizes_in_bytes() {
        let text = "55d0-7ffe ---p 00000000 00:00 0 [rollup]\nRss:  2048 kB\nPss:   1024 kB\nPss_Anon: 512 kB\n";
        assert_eq!(
            parse_rollup(text),
            MemoryUse {
                rss_bytes: 2048 * 1024,
                pss_bytes: 1024 * 1024
            }
        );
    }

    #[test]
    fn an_autogroup_line_gives_its_nice() {
        assert_eq!(parse_autogroup_nice("/autogroup-12 nice -10\n"), Some(-10));
        assert_eq!(parse_autogroup_nice("/autogroup-3 nice 0"), Some(0));
        assert_eq!(parse_autogroup_nice("/autogroup-3"), None);
    }

    #[test]
    fn renicing_to_the_current_value_changes_nothing() {
        let now = rustix::process::getpriority_process(None).unwrap();
        assert_eq!(renice_self(now).unwrap(), now);
    }

    #[test]
    fn this_process_is_in_its_own_tree_and_uses_cpu_and_memory() {
        let me = std::process::id();
        let pgid = parse_stat(&std::fs::read_to_string("/proc/self/stat").unwrap())
            .unwrap()
            .pgrp;
        assert!(tree(pgid, None).contains(&me));
        assert!(memory(&[me]).rss_bytes > 0);
        assert!(cpu_ms(&[me]) >= 0.0);
    }

    #[test]
    fn descriptors_count_a_childs_socket() {
        // Two children alike but for stdin: whatever else they inherit, they inherit alike.
        let spawn = |stdin: std::process::Stdio| {
            std::process::Command::new("sleep")
                .arg("30")
                .stdin(stdin)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut plain = spawn(std::process::Stdio::null());
        let mut with_socket = spawn(std::os::fd::OwnedFd::from(theirs).into());
        let (a, b) = (descriptors(&[plain.id()]), descriptors(&[with_socket.id()]));
        for child in [&mut plain, &mut with_socket] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        drop(ours);
        // The socket is the difference. The totals are not compared: a descriptor another test
        // thread holds open without close-on-exec at the moment of a spawn is inherited by
        // that child alone (seen: 9 against 5 under `cargo test`'s parallel threads).
        assert!(a.fds >= 3 && b.fds >= 3, "{a:?} {b:?}");
        assert_eq!(b.sockets, a.sockets + 1, "{a:?} {b:?}");
        assert_eq!(descriptors(&[u32::MAX]), Descriptors::default());
    }
}
