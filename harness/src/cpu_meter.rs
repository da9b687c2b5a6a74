//! CPU time of a system under test's whole process tree with nanosecond resolution, for the
//! bench's CPU at load (docs/bench.md#cpu-at-load). `/proc/<pid>/stat` counts in 10 ms ticks,
//! too coarse for a chunk that costs tens of microseconds, so the meter puts the tree in a
//! cgroup of its own and reads the cgroup's counter: cgroup v1 `cpuacct.usage` (ns) where a v1
//! `cpuacct` hierarchy is writable, cgroup v2 `cpu.stat` `usage_usec` where a v2 hierarchy is,
//! else the sum of `/proc/<pid>/task/<tid>/schedstat` (ns on CPU) over the tree. The meter says
//! which, and why not a better one.

use std::path::{Path, PathBuf};

use contract::results::CpuMethod;

/// Where the hierarchies are looked for on Linux.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Why a cgroup could not be used (the meter falls back, and says so).
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("no cgroup v1 cpuacct hierarchy at {0}")]
    NoV1(PathBuf),
    #[error("no cgroup v2 hierarchy with cpu.stat at {0}")]
    NoV2(PathBuf),
    #[error("cannot create or join {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a target's CPU time.
#[derive(Debug)]
pub struct CpuMeter {
    pub method: CpuMethod,
    /// Why a better method was not used, when one was refused.
    pub note: Option<String>,
    source: Source,
}

enum Source {
    /// The cgroup's directory; removed when the meter is dropped (once its processes are gone).
    Cgroup(PathBuf),
    /// The process tree, re-read at every sample (a process started later counts from then).
    Schedstat(Box<dyn Fn() -> Vec<u32> + Send + Sync>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cgroup(dir) => write!(f, "cgroup {}", dir.display()),
            Self::Schedstat(_) => f.write_str("schedstat of the process tree"),
        }
    }
}

impl CpuMeter {
    /// A meter for the processes `tree()` lists, in a cgroup named `name` under `root` (normally
    /// [`CGROUP_ROOT`]) when one can be written, else by schedstat. Processes the tree starts
    /// later join its cgroup by inheritance.
    pub fn open(
        root: &Path,
        name: &str,
        tree: impl Fn() -> Vec<u32> + Send + Sync + 'static,
    ) -> Self {
        let pids = tree();
        let v1_err = match join_cgroup(&root.join("cpuacct"), "cpuacct.usage", name, &pids) {
            Ok(dir) => {
                return Self {
                    method: CpuMethod::CgroupV1,
                    note: None,
                    source: Source::Cgroup(dir),
                };
            }
            Err(e) => e,
        };
        let v2_root = [root.join("unified"), root.to_owned()]
            .into_iter()
            .find(|p| p.join("cgroup.controllers").exists());
        let v2 = match v2_root {
            Some(r) => join_cgroup(&r, "cpu.stat", name, &pids),
            None => Err(MeterError::NoV2(root.to_owned())),
        };
        match v2 {
            Ok(dir) => Self {
                method: CpuMethod::CgroupV2,
                note: Some(format!("cgroup v1: {v1_err}")),
                source: Source::Cgroup(dir),
            },
            Err(v2_err) => {
                let mut meter = Self::schedstat(tree);
                meter.note = Some(format!(
                    "no cgroup could be written (v1: {v1_err}; v2: {v2_err}): CPU is summed over \
                     the process tree's schedstat, and a process that exits takes its time along"
                ));
                meter
            }
        }
    }

    /// A meter that sums schedstat over the processes `tree()` lists at each sample.
    pub fn schedstat(tree: impl Fn() -> Vec<u32> + Send + Sync + 'static) -> Self {
        Self {
            method: CpuMethod::Schedstat,
            note: None,
            source: Source::Schedstat(Box::new(tree)),
        }
    }

    /// CPU time used so far, in nanoseconds (None when the counter cannot be read).
    pub fn read_ns(&self) -> Option<u64> {
        match (&self.source, self.method) {
            (Source::Cgroup(dir), CpuMethod::CgroupV1) => {
                std::fs::read_to_string(dir.join("cpuacct.usage"))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            }
            (Source::Cgroup(dir), _) => {
                parse_usage_usec(&std::fs::read_to_string(dir.join("cpu.stat")).ok()?)
                    .map(|us| us * 1_000)
            }
            (Source::Schedstat(tree), _) => Some(schedstat_ns(&tree())),
        }
    }
}

impl Drop for CpuMeter {
    fn drop(&mut self) {
        if let Source::Cgroup(dir) = &self.source {
            // Fails while a process is still inside; the group is then left behind, empty
            // once the target stops (the kernel keeps no cost for an empty group).
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Removes the empty cgroups named `<prefix><pid>-...` whose creator `<pid>` is no longer
/// running, under each hierarchy the meter uses below `root`: a run that was killed (ctrl-c, a
/// test's timeout) never dropped its meters. A group still holding a process, or made by a
/// running process, is left alone (the kernel refuses to remove a non-empty one anyway).
/// Returns how many were removed.
pub fn sweep_stale(root: &Path, prefix: &str) -> usize {
    let mut removed = 0;
    for hierarchy in [root.join("cpuacct"), root.join("unified"), root.to_owned()] {
        let Ok(entries) = std::fs::read_dir(&hierarchy) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if crate::procfs::alive(owner) {
                continue;
            }
            removed += usize::from(std::fs::remove_dir(entry.path()).is_ok());
        }
    }
    removed
}

/// Creates `<hierarchy>/<name>` (which must offer `counter`) and moves `pids` into it.
fn join_cgroup(
    hierarchy: &Path,
    counter: &str,
    name: &str,
    pids: &[u32],
) -> Result<PathBuf, MeterError> {
    if !hierarchy.join(counter).exists() && !hierarchy.join("cgroup.procs").exists() {
        return Err(if counter == "cpu.stat" {
            MeterError::NoV2(hierarchy.to_owned())
        } else {
            MeterError::NoV1(hierarchy.to_owned())
        });
    }
    let dir = hierarchy.join(name);
    let write_err = |source| MeterError::Write {
        path: dir.clone(),
        source,
    };
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(write_err(e)),
    }
    if !dir.join(counter).exists() {
        let _ = std::fs::remove_dir(&dir);
        return Err(write_err(std::io::Error::other(format!(
            "no {counter} in it"
        ))));
    }
    for pid in pids {
        // A process that exited since the tree was listed cannot move, and costs nothing more.
        if let Err(e) = std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            && crate::procfs::alive(*pid)
        {
            let _ = std::fs::remove_dir(&dir);
            return Err(write_err(e));
        }
    }
    Ok(dir)
}

/// `usage_usec N` of a cgroup v2 `cpu.stat`.
pub fn parse_usage_usec(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// Time on CPU (ns) of every thread of `pids`: the first field of each thread's schedstat.
pub fn schedstat_ns(pids: &[u32]) -> u64 {
    threads_schedstat_ns(pids, None)
}

/// As [`schedstat_ns`] for one process, leaving out its threads named `skip` (their `comm`).
pub fn schedstat_ns_without(pid: u32, skip: &str) -> u64 {
    threads_schedstat_ns(&[pid], Some(skip))
}

fn threads_schedstat_ns(pids: &[u32], skip: Option<&str>) -> u64 {
    let mut total = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let skipped = skip.is_some_and(|name| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim() == name)
            });
            if skipped {
                continue;
            }
            total += std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_usage_usec() {
        let stat = "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n";
        assert_eq!(parse_usage_usec(stat), Some(1234));
        assert_eq!(parse_usage_usec("user_usec 3\n"), None);
    }

    #[test]
    fn without_a_cgroup_hierarchy_it_falls_back_to_schedstat_and_says_so() {
        let empty = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let meter = CpuMeter::open(empty.path(), "none", move || vec![me]);
        assert_eq!(meter.method, CpuMethod::Schedstat);
        let note = meter.note.clone().unwrap();
        assert!(note.contains("no cgroup could be written"), "{note}");
        assert!(meter.read_ns().is_some_and(|ns| ns > 0));
    }

    /// A child that burns CPU until killed.
    fn burner() -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap()
    }

    /// utime + stime of `pid` (10 ms ticks), in ns: the coarse reader the meters replace.
    fn stat_ns(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let (_, rest) = stat.rsplit_once(')').unwrap();
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        (f[0] + f[1]) * 10_000_000
    }

    /// Reads a burn with `meter` and with `/proc/<pid>/stat`: they agree within two ticks.
    fn agrees_with_stat(meter: &CpuMeter, pid: u32) {
        let (m0, s0) = (meter.read_ns().unwrap(), stat_ns(pid));
        // Burn until the coarse reader has moved 30 ticks, whatever the machine's load.
        while stat_ns(pid) < s0 + 300_000_000 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (m1, s1) = (meter.read_ns().unwrap(), stat_ns(pid));
        let (m, s) = ((m1 - m0) as f64, (s1 - s0) as f64);
        assert!(
            (m - s).abs() <= 20_000_000.0,
            "{:?} read {m} ns, /proc/stat {s} ns",
            meter.method
        );
    }

    #[test]
    fn stale_groups_of_a_gone_creator_are_swept_and_others_kept() {
        let root = tempfile::tempdir().unwrap();
        let cpuacct = root.path().join("cpuacct");
        // No process has pid 0 under /proc; this process is running.
        let gone = cpuacct.join("arena-bench-0-rust-only");
        let mine = cpuacct.join(format!("arena-bench-{}-relay", std::process::id()));
        let other = cpuacct.join("libpod_parent");
        let busy = cpuacct.join("arena-bench-0-unix");
        for d in [&gone, &mine, &other, &busy] {
            std::fs::create_dir_all(d).unwrap();
        }
        // A directory with something in it cannot be removed, like a cgroup with a process.
        std::fs::write(busy.join("cgroup.procs"), "1").unwrap();
        assert_eq!(sweep_stale(root.path(), "arena-bench-"), 1);
        assert!(!gone.exists());
        assert!(mine.exists() && other.exists() && busy.exists());
    }

    #[test]
    fn schedstat_reads_a_known_burn() {
        let mut child = burner();
        let pid = child.id();
        let meter = CpuMeter::schedstat(move || vec![pid]);
        agrees_with_stat(&meter, pid);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_cgroup_reads_a_known_burn_or_the_meter_says_why_not() {
        let mut child = burner();
        let pid = child.id();
        let name = format!("arena-test-{}", std::process::id());
        let meter = CpuMeter::open(Path::new(CGROUP_ROOT), &name, move || vec![pid]);
        if meter.method == CpuMethod::Schedstat {
            assert!(meter.note.is_some(), "a fallback must say why");
        }
        agrees_with_stat(&meter, pid);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
