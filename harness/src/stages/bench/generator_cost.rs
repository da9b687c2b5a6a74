//! What the load generator itself pays per chunk in a steady window: the CPU of the harness
//! (the load client) and of the mock, the wake-up IPIs the client's CPUs took, and how often
//! the client slept. `direct`'s chunks reach the client from the mock beside it; a one-hop
//! target's come from the other CPU, and each wakes the client's core from there
//! (docs/bench.md#the-relay-on-one-core).

use rustix::thread::sched_getaffinity;

/// The arrivals thread of a run (`pacer`): it ends with the run's schedule, at the window's
/// close, so its CPU would count in the open read and not in the close one. Left out of both:
/// it costs a wake-up per conversation, not per chunk.
const PACER_THREAD: &str = "arena-pacer";

/// The generator's counters at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// CPU time of the harness's threads (the pacer's left out) and the mock's, ns.
    pub cpu_ns: u64,
    /// Rescheduling and function-call interrupts (`RES`, `CAL`) on the client's CPUs.
    pub ipis: u64,
    /// The client's threads' voluntary context switches ([`client_sleeps`]).
    pub sleeps: u64,
}

/// Reads the counters: the threads' time on CPU from their schedstat (ns), the IPIs from
/// `/proc/interrupts` on the CPUs this process may run on (the client's). `None` where the
/// IPIs cannot be read.
pub fn mark(mock_pid: u32) -> Option<Mark> {
    use crate::cpu_meter::{schedstat_ns, schedstat_ns_without};
    let cpus = sched_getaffinity(None).ok()?;
    let text = std::fs::read_to_string("/proc/interrupts").ok()?;
    Some(Mark {
        cpu_ns: schedstat_ns_without(std::process::id(), PACER_THREAD) + schedstat_ns(&[mock_pid]),
        ipis: wakeup_ipis(&text, |cpu| cpus.is_set(cpu)),
        sleeps: client_sleeps(),
    })
}

/// How often this process (the load client) went to sleep: its threads' voluntary context
/// switches (`/proc/self/task/*/status`). A thread that ends between two reads takes its
/// count along, so a window's figure can only read low. Each sleep is a wake-up to come: a
/// client that reads its chunks one wake-up each pays the most
/// (docs/bench.md#the-relay-on-one-core).
pub fn client_sleeps() -> u64 {
    let me = std::process::id();
    crate::procfs::threads(me)
        .iter()
        .filter_map(|tid| {
            let status =
                std::fs::read_to_string(format!("/proc/{me}/task/{}/status", tid.as_raw_nonzero()))
                    .ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The generator's cost over a window: CPU (ns), IPIs on the client's CPUs, the client's
/// sleeps, and the text chunks the client received in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub cpu_ns: f64,
    pub ipis: f64,
    pub sleeps: f64,
    pub chunks: f64,
}

/// A window's cost per text chunk received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerChunk {
    pub cpu_us: f64,
    pub ipis: f64,
    pub sleeps: f64,
}

impl Window {
    /// Between two marks, over `chunks` received.
    pub fn between(open: Mark, close: Mark, chunks: u64) -> Self {
        Self {
            cpu_ns: close.cpu_ns.saturating_sub(open.cpu_ns) as f64,
            ipis: close.ipis.saturating_sub(open.ipis) as f64,
            sleeps: close.sleeps.saturating_sub(open.sleeps) as f64,
            chunks: chunks as f64,
        }
    }

    /// Pools two windows (the repeats of one rate).
    pub fn add(self, other: Self) -> Self {
        Self {
            cpu_ns: self.cpu_ns + other.cpu_ns,
            ipis: self.ipis + other.ipis,
            sleeps: self.sleeps + other.sleeps,
            chunks: self.chunks + other.chunks,
        }
    }

    /// CPU (µs), IPIs and sleeps per chunk, when any chunk was received.
    pub fn per_chunk(&self) -> Option<PerChunk> {
        (self.chunks > 0.0).then(|| PerChunk {
            cpu_us: self.cpu_ns / self.chunks / 1e3,
            ipis: self.ipis / self.chunks,
            sleeps: self.sleeps / self.chunks,
        })
    }
}

/// The `RES` and `CAL` counts of `/proc/interrupts`, summed over the CPUs `counted` accepts
/// (columns in the order of the header's `CPUn`).
fn wakeup_ipis(text: &str, counted: impl Fn(usize) -> bool) -> u64 {
    let mut lines = text.lines();
    let cpus: Vec<usize> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|c| c.strip_prefix("CPU")?.parse().ok())
        .collect();
    lines
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            matches!(name.trim(), "RES" | "CAL").then_some(rest)
        })
        .flat_map(|rest| {
            rest.split_whitespace()
                .zip(&cpus)
                .filter(|(_, cpu)| counted(**cpu))
                .filter_map(|(n, _)| n.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERRUPTS: &str = "           CPU0       CPU1       \n\
 24:          1          0  IO-APIC   5-edge      ACPI:Ged\n\
LOC:   14742918    8538741   Local timer interrupts\n\
RES:    5909417    5314560   Rescheduling interrupts\n\
CAL:    9480486    9222231   Function call interrupts\n\
TLB:    1987338    2011729   TLB shootdowns\n";

    #[test]
    fn counts_wakeup_ipis_on_the_chosen_cpus_only() {
        assert_eq!(wakeup_ipis(INTERRUPTS, |c| c == 0), 5_909_417 + 9_480_486);
        assert_eq!(wakeup_ipis(INTERRUPTS, |c| c == 1), 5_314_560 + 9_222_231);
        assert_eq!(wakeup_ipis(INTERRUPTS, |_| false), 0);
    }

    #[test]
    fn a_window_is_per_chunk_and_pools() {
        let open = Mark {
            cpu_ns: 1_000_000,
            ipis: 10,
            sleeps: 5,
        };
        let close = Mark {
            cpu_ns: 3_000_000,
            ipis: 110,
            sleeps: 55,
        };
        let w = Window::between(open, close, 100);
        let each = |cpu_us, ipis, sleeps| {
            Some(PerChunk {
                cpu_us,
                ipis,
                sleeps,
            })
        };
        assert_eq!(w.per_chunk(), each(20.0, 1.0, 0.5));
        let pooled = w.add(Window::between(open, open, 100));
        assert_eq!(pooled.per_chunk(), each(10.0, 0.5, 0.25));
        assert_eq!(Window::between(open, close, 0).per_chunk(), None);
    }

    #[test]
    fn reads_this_machine() {
        // This process and itself as the "mock": both counted, IPIs readable where Linux is.
        let m = mark(std::process::id()).expect("/proc/interrupts readable");
        assert!(m.cpu_ns > 0);
    }
}
