//! Fault injection for the measurement's self-check: `--inject-delay-us N` (with
//! `--enable-fault-injection` only) holds every text chunk N µs before the shell forwards it,
//! a regression of known size that the bench stage must read back (docs/bench.md#self-check).
//! It lives in the shell every backend serves through, so it costs each architecture the same.
//! `--inject-cpu-us N` burns N µs of this thread's CPU per text chunk instead: a cost of known
//! size that the bench stage's CPU at load must read back (docs/bench.md#cpu-at-load).

use std::time::{Duration, Instant};

/// Below this, the hold spins instead of sleeping: a sleep overshoots by the timer slack (50 µs
/// by default on Linux), more than the accuracy the self-check asks for.
const SPIN_BELOW: Duration = Duration::from_micros(300);

/// How many text chunks a piece of the response body carries (a relay may forward several
/// frames in one piece).
pub fn text_chunks_in(frame: &[u8]) -> usize {
    const NEEDLE: &[u8] = br#""type":"text-delta""#;
    frame.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count()
}

/// Holds the calling thread for `delay`, to the microsecond.
pub fn hold(delay: Duration) {
    let deadline = Instant::now() + delay;
    if let Some(sleep) = delay.checked_sub(SPIN_BELOW) {
        std::thread::sleep(sleep);
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Spins until this thread has used `cpu` of CPU time: on a shared core a wall-clock spin
/// would burn less than asked whenever it is preempted.
pub fn burn(cpu: Duration) {
    let until = thread_cpu() + cpu;
    while thread_cpu() < until {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_text_chunks_in_a_piece() {
        let piece = br#"data: {"type":"text-delta","id":"0","delta":"a"}

data: {"type":"text-delta","id":"0","delta":"b"}

data: {"type":"finish"}

"#;
        assert_eq!(text_chunks_in(piece), 2);
        assert_eq!(text_chunks_in(b"data: [DONE]\n\n"), 0);
    }

    #[test]
    fn burns_the_cpu_asked() {
        let before = thread_cpu();
        burn(Duration::from_micros(500));
        assert!(thread_cpu() - before >= Duration::from_micros(500));
    }

    #[test]
    fn holds_at_least_the_delay() {
        let start = Instant::now();
        hold(Duration::from_micros(200));
        assert!(start.elapsed() >= Duration::from_micros(200));
    }
}
