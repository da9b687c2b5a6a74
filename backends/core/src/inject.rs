//! Fault injection for the measurement's self-check: `--inject-delay-us N` (with
//! `--enable-fault-injection` only) holds every text chunk N µs before the shell forwards it,
//! a regression of known size that the bench stage must read back (docs/bench.md#self-check).
//! It lives in the shell every backend serves through, so it costs each architecture the same.

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
    fn holds_at_least_the_delay() {
        let start = Instant::now();
        hold(Duration::from_micros(200));
        assert!(start.elapsed() >= Duration::from_micros(200));
    }
}
