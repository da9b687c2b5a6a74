//! Confinement: the system under test on its own CPUs (`--sut-cpus`, default the last one),
//! the load client (this process) on the others beside the pinned mock, so a backend's own CPU
//! cannot delay the client's timestamps and capacity is per core by construction; the targets
//! at the client's raised priority when their CPUs are their own, else at the normal one
//! (docs/bench.md#confinement).

use crate::procfs;
use rustix::thread::CpuSet;

/// The CPUs this machine has online (`/sys/devices/system/cpu/online`, e.g. `0-1` or `0,2-3`);
/// from the available parallelism when that file cannot be read.
pub fn online_cpus() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_list(s.trim()).ok())
        .unwrap_or_else(|| {
            (0..std::thread::available_parallelism().map_or(1, std::num::NonZero::get)).collect()
        })
}

/// Parses a CPU list (`1`, `2-3`, `0,2-3`).
pub fn parse_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim) {
        let bad = || format!("`{part}` in `{list}` is not a CPU number or range (e.g. 1 or 2-3)");
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo.trim(), hi.trim()),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        if hi < lo {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// A parsed `--sut-cpus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// `--sut-cpus`: a CPU list whose every CPU is online here.
pub fn parse_sut_cpus(list: &str) -> Result<CpuList, String> {
    let cpus = parse_list(list)?;
    let online = online_cpus();
    if let Some(missing) = cpus.iter().find(|c| !online.contains(c)) {
        return Err(format!(
            "CPU {missing} does not exist on this machine (online CPUs: {})",
            format_list(&online)
        ));
    }
    Ok(CpuList(cpus))
}

/// The default: the last online CPU, when there is another for the client and the mock.
pub fn default_sut_cpus() -> Vec<usize> {
    let online = online_cpus();
    match online.as_slice() {
        [_, .., last] => vec![*last],
        _ => online,
    }
}

/// The core the mock is pinned to (where the machine allows it; docs/bench.md#confinement).
pub const MOCK_CPU: usize = 0;

/// The load client's CPUs: the online ones not in `sut` ([`split_client`]).
pub fn client_cpus(sut: &[usize]) -> Vec<usize> {
    split_client(&online_cpus(), sut, MOCK_CPU)
}

/// The CPUs of `online` in neither `sut` nor the mock's: on three CPUs or more the client, the
/// mock and the system under test each have their own, so a hop's chunks and `direct`'s reach
/// the client from another CPU alike (docs/bench.md#the-relay-on-one-core). With two, the
/// client shares the mock's; when `sut` takes every CPU, the client shares them all.
pub fn split_client(online: &[usize], sut: &[usize], mock: usize) -> Vec<usize> {
    let rest: Vec<usize> = online
        .iter()
        .copied()
        .filter(|c| !sut.contains(c))
        .collect();
    let own: Vec<usize> = rest.iter().copied().filter(|&c| c != mock).collect();
    match (own.is_empty(), rest.is_empty()) {
        (false, _) => own,
        (true, false) => rest,
        (true, true) => online.to_vec(),
    }
}

pub fn format_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The targets' nice value: the client's raised one when they run on CPUs of their own (then
/// they cannot delay the client, and they win their core from other tenants' normal-priority
/// work, as the client does: at the normal priority a shared machine's builds took most of it,
/// docs/bench.md#confinement), else the normal 0, below the client they share a CPU with.
pub fn sut_nice(sut: &[usize], client: &[usize], client_nice: i32) -> i32 {
    if sut.iter().any(|c| client.contains(c)) {
        0
    } else {
        client_nice
    }
}

/// Pins every thread of `pids` to `cpus` (affinity is per thread; threads started later
/// inherit their creator's). A process gone meanwhile is skipped.
pub fn pin(pids: &[u32], cpus: &[usize]) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    for &pid in pids {
        for tid in procfs::threads(pid) {
            match rustix::thread::sched_setaffinity(Some(tid), &set) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// The start of the names of the cgroups the bench's meters create: `<prefix><pid>-<target>`.
const CGROUP_PREFIX: &str = "arena-bench-";

/// Pins every target's process tree to the system under test's CPUs at the normal priority
/// (they inherit the client's raised one), and opens a CPU meter for each but `direct`. Empty
/// cgroups left by earlier runs that were killed are removed first.
pub fn targets(
    targets: &[super::target::Target],
    confinement: &mut contract::results::Confinement,
) -> Vec<(String, crate::cpu_meter::CpuMeter)> {
    let sut: Vec<usize> = confinement.sut_cpus.iter().map(|&c| c as usize).collect();
    let swept = crate::cpu_meter::sweep_stale(
        std::path::Path::new(crate::cpu_meter::CGROUP_ROOT),
        CGROUP_PREFIX,
    );
    if swept > 0 {
        eprintln!("bench: removed {swept} empty cgroups left by earlier runs");
    }
    let mut meters = Vec::new();
    for t in targets {
        let Some((pgid, extra)) = t.tree_source() else {
            continue;
        };
        let pids = procfs::tree(pgid, extra);
        if let Err(e) = pin(&pids, &sut) {
            eprintln!(
                "bench: {} could not be pinned to CPUs {:?}: {e}",
                t.name, sut
            );
            confinement.pinning = format!("refused for {} ({e})", t.name);
        }
        if let Err(e) = procfs::renice(&pids, confinement.sut_nice) {
            eprintln!("bench: {} keeps the client's priority: {e}", t.name);
            confinement.sut_nice = confinement.client_nice;
        }
        let group = format!(
            "{CGROUP_PREFIX}{}-{}",
            std::process::id(),
            t.name.replace('+', "-")
        );
        let meter = crate::cpu_meter::CpuMeter::open(
            std::path::Path::new(crate::cpu_meter::CGROUP_ROOT),
            &group,
            move || procfs::tree(pgid, extra),
        );
        confinement.cpu_method = Some(meter.method);
        if confinement.cpu_method_note.is_none() {
            confinement.cpu_method_note.clone_from(&meter.note);
        }
        meters.push((t.name.clone(), meter));
    }
    if let Some(note) = &confinement.cpu_method_note {
        eprintln!("bench: CPU at load: {note}");
    }
    meters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_list("1"), Ok(vec![1]));
        assert_eq!(parse_list("0,2-3"), Ok(vec![0, 2, 3]));
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("one").is_err());
    }

    #[test]
    fn a_cpu_that_does_not_exist_is_refused_by_name() {
        let err = parse_sut_cpus("4096").unwrap_err();
        assert!(err.contains("CPU 4096 does not exist"), "{err}");
        let last = *online_cpus().last().unwrap();
        assert_eq!(parse_sut_cpus(&last.to_string()), Ok(CpuList(vec![last])));
    }

    #[test]
    fn targets_take_the_clients_priority_only_on_cpus_of_their_own() {
        assert_eq!(sut_nice(&[1], &[0], -10), -10);
        assert_eq!(sut_nice(&[0, 1], &[0, 1], -10), 0);
    }

    #[test]
    fn the_client_leaves_the_mock_its_cpu_where_there_is_another() {
        // Two CPUs: the client beside the mock; three: one each; four, two for the client.
        assert_eq!(split_client(&[0, 1], &[1], 0), vec![0]);
        assert_eq!(split_client(&[0, 1, 2], &[2], 0), vec![1]);
        assert_eq!(split_client(&[0, 1, 2, 3], &[3], 0), vec![1, 2]);
        // A system under test on every CPU: the client shares them all.
        assert_eq!(split_client(&[0, 1], &[0, 1], 0), vec![0, 1]);
        // One CPU: everything on it.
        assert_eq!(split_client(&[0], &[0], 0), vec![0]);
    }

    #[test]
    fn the_client_gets_the_cpus_the_sut_does_not() {
        let online = online_cpus();
        let sut = default_sut_cpus();
        let client = client_cpus(&sut);
        if online.len() > 1 {
            assert!(client.iter().all(|c| !sut.contains(c)));
        }
        assert!(!client.is_empty());
    }
}
