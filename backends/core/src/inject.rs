//! Fault injection for the measurement's self-check: `--inject-delay-us N` (with
//! `--enable-fault-injection` only) holds every text chunk N µs before the shell forwards it,
//! a regression of known size that the bench stage must read back (docs/bench.md#self-check).
//! It lives in the shell every backend serves through, so it costs each architecture the same.
//! `--inject-cpu-us N` burns N µs of CPU per text chunk instead: a cost of known size that the
//! bench stage's CPU at load must read back (docs/bench.md#cpu-at-load), burnt once the chunk
//! is written so that it delays no write (docs/bench.md#the-burn-read).

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

/// Burns `cpu` in a task of the current runtime, which runs once the task that produced the
/// chunk yields, after its connection has written it. Burnt before the write, it held every
/// chunk back by the burn, and the bench read a 100 µs burn 4-15% high in every run (the mean
/// of eight +8.6 µs; after the write, +97.0 over seven: docs/bench.md#the-burn-read).
/// Outside a runtime, at once.
pub fn burn_after_write(cpu: Duration) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(async move { burn(cpu) })),
        Err(_) => burn(cpu),
    }
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

    #[tokio::test]
    async fn burns_after_the_caller_yields() {
        let before = thread_cpu();
        burn_after_write(Duration::from_micros(500));
        // A current-thread runtime: the burn has not run yet, and runs at the next yield.
        assert!(thread_cpu() - before < Duration::from_micros(500));
        tokio::task::yield_now().await;
        assert!(thread_cpu() - before >= Duration::from_micros(500));
    }

    #[test]
    fn holds_at_least_the_delay() {
        let start = Instant::now();
        hold(Duration::from_micros(200));
        assert!(start.elapsed() >= Duration::from_micros(200));
    }
}
