//! One clock for every process on the machine.
//!
//! Hops are timed where they happen (the client's send, the provider's arrival), in different
//! processes, so the timestamps must come from a clock all of them share: `CLOCK_MONOTONIC`.
//! `std::time::Instant` reads the same clock on Linux but hides its value; Node's
//! `process.hrtime.bigint()` reads it too, so JavaScript timestamps are comparable with these.

/// Nanoseconds of `CLOCK_MONOTONIC`, comparable across processes on this machine.
pub fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    // A monotonic clock never reads negative; saturate rather than wrap if it ever did.
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Microseconds between two [`monotonic_ns`] readings, saturating at zero when `later` is not.
pub fn elapsed_us(earlier_ns: u64, later_ns: u64) -> u64 {
    later_ns.saturating_sub(earlier_ns) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards_and_tracks_instant() {
        let start = std::time::Instant::now();
        let a = monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = monotonic_ns();
        let wall = start.elapsed().as_nanos() as u64;
        assert!(b > a);
        assert!(b - a >= 5_000_000);
        assert!(b - a <= wall, "the clock advanced more than Instant did");
    }

    #[test]
    fn is_the_clock_node_reads() {
        // Node's process.hrtime.bigint() reads CLOCK_MONOTONIC: a reading taken in a child must
        // fall between two readings taken here, or cross-process subtraction would be wrong.
        let before = monotonic_ns();
        let node = crate::runtime::default_node().expect("the pinned Node.js (scripts/setup)");
        let out = std::process::Command::new(node)
            .args([
                "-e",
                "process.stdout.write(process.hrtime.bigint().toString())",
            ])
            .output()
            .expect("node must be installed to run the cross-process clock check");
        let after = monotonic_ns();
        let child: u64 = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            before <= child && child <= after,
            "{before} <= {child} <= {after}"
        );
    }
}
