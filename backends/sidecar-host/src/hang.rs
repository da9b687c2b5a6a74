//! The hang rule: when a sidecar that still runs but answers nothing is declared hung.
//!
//! A probe that goes unanswered proves nothing on its own: a Node event loop working through
//! a burst (100 streams whose provider sends everything at once) answers late, and one that
//! is stopped (SIGSTOP) or deadlocked in a native call never does. What tells them apart is
//! progress: a busy runtime delivers bytes on its streams or spends CPU on its JavaScript
//! thread; a stopped one does neither (docs/crash.md#hang-detection).

use std::time::Duration;

/// How often a live sidecar that answered is asked `/health` again.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// A probe with no answer within this is a miss. The probe is not abandoned: its answer is
/// waited for again, one miss per `PROBE_TIMEOUT`, so a busy event loop that reaches it late
/// still answers on the connection it already accepted (a new connection waits behind every
/// queued one: Node accepts one per turn of its loop, docs/crash.md#hang-detection).
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Consecutive misses with no progress at all (no byte from its streams, no CPU on its
/// JavaScript thread) before a sidecar that still runs is declared hung: 1.5 s of standing
/// still.
pub const MISSES_BEFORE_RESTART: u32 = 3;
/// The longest a stopped sidecar goes unnoticed: one interval before the first missed probe,
/// then the misses back to back. The crash study's target is 2 s (docs/crash.md#hang-detection).
pub const HANG_DETECTION_BOUND: Duration = Duration::from_millis(
    PROBE_INTERVAL.as_millis() as u64
        + PROBE_TIMEOUT.as_millis() as u64 * MISSES_BEFORE_RESTART as u64,
);
const _: () = assert!(HANG_DETECTION_BOUND.as_millis() <= 2_000);
/// How long a sidecar may stay busy (CPU spent, nothing answered, nothing delivered) before it
/// is declared hung all the same: an endless JavaScript loop burns CPU too. Kubernetes' default
/// liveness probe restarts a container after 3 failures 10 s apart, so 30 s is what a
/// deployment would allow (docs/crash.md#hang-detection).
pub const BUSY_LIMIT: Duration = Duration::from_secs(30);
/// [`BUSY_LIMIT`] in misses, which follow each other every [`PROBE_TIMEOUT`].
pub const BUSY_MISSES_BEFORE_RESTART: u32 =
    (BUSY_LIMIT.as_millis() / PROBE_TIMEOUT.as_millis()) as u32;
const _: () = assert!(BUSY_MISSES_BEFORE_RESTART > MISSES_BEFORE_RESTART);

/// What happened during one probe's wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The probe got its 200.
    pub answered: bool,
    /// A stream of the sidecar delivered something meanwhile.
    pub streamed: bool,
    /// The sidecar's JavaScript thread spent CPU meanwhile (false when it cannot be read).
    pub progressed: bool,
}

/// What the watch makes of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Alive: probe again after [`PROBE_INTERVAL`].
    Alive,
    /// A miss short of the limit: keep waiting for the answer.
    Suspect,
    /// Hung: kill it.
    Hung,
}

/// The hang rule, apart from the clock: a sidecar is hung after [`MISSES_BEFORE_RESTART`]
/// misses in a row with no progress, or [`BUSY_MISSES_BEFORE_RESTART`] misses in a row with
/// nothing but CPU spent.
#[derive(Debug, Default)]
pub struct HangWatch {
    /// Misses in a row during which nothing moved.
    still: u32,
    /// Misses in a row without an answer or a byte, whether or not CPU was spent.
    silent: u32,
}

impl HangWatch {
    pub fn observe(&mut self, seen: Observation) -> Verdict {
        if seen.answered || seen.streamed {
            *self = Self::default();
            return Verdict::Alive;
        }
        self.silent += 1;
        self.still = if seen.progressed { 0 } else { self.still + 1 };
        if self.still >= MISSES_BEFORE_RESTART || self.silent >= BUSY_MISSES_BEFORE_RESTART {
            Verdict::Hung
        } else {
            Verdict::Suspect
        }
    }
}

/// CPU time (clock ticks, user + system) spent so far by the main thread of `pid`: a Node
/// process's JavaScript thread, the one a hang stops. `None` where `/proc` cannot tell (not
/// Linux, the process gone): the rule then falls back on answers and bytes alone.
pub fn js_thread_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/stat")).ok()?;
    cpu_ticks_of_stat(&stat)
}

/// `utime + stime` of a `/proc/.../stat` line (fields 14 and 15; the command name in field 2
/// may hold spaces and parentheses, so fields are counted from its last `)`).
fn cpu_ticks_of_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STILL: Observation = Observation {
        answered: false,
        streamed: false,
        progressed: false,
    };
    const BUSY: Observation = Observation {
        progressed: true,
        ..STILL
    };

    #[test]
    fn a_stopped_sidecar_is_hung_after_three_still_misses() {
        let mut watch = HangWatch::default();
        assert_eq!(watch.observe(STILL), Verdict::Suspect);
        assert_eq!(watch.observe(STILL), Verdict::Suspect);
        assert_eq!(watch.observe(STILL), Verdict::Hung);
    }

    #[test]
    fn an_answer_or_a_streamed_byte_resets_the_count() {
        let mut watch = HangWatch::default();
        watch.observe(STILL);
        watch.observe(STILL);
        let answered = Observation {
            answered: true,
            ..STILL
        };
        assert_eq!(watch.observe(answered), Verdict::Alive);
        watch.observe(STILL);
        watch.observe(STILL);
        let streamed = Observation {
            streamed: true,
            ..STILL
        };
        assert_eq!(
            watch.observe(streamed),
            Verdict::Alive,
            "a late probe from a sidecar that streams is load, not a hang"
        );
        assert_eq!(watch.observe(STILL), Verdict::Suspect);
    }

    #[test]
    fn a_busy_sidecar_is_not_hung_until_the_busy_limit() {
        let mut watch = HangWatch::default();
        for miss in 1..BUSY_MISSES_BEFORE_RESTART {
            assert_eq!(watch.observe(BUSY), Verdict::Suspect, "busy miss {miss}");
        }
        assert_eq!(
            watch.observe(BUSY),
            Verdict::Hung,
            "an endless loop burns CPU too: it is hung after the busy limit"
        );
    }

    #[test]
    fn cpu_spent_between_still_misses_restarts_their_count_but_not_the_busy_one() {
        let mut watch = HangWatch::default();
        watch.observe(STILL);
        watch.observe(STILL);
        assert_eq!(watch.observe(BUSY), Verdict::Suspect);
        watch.observe(STILL);
        assert_eq!(watch.observe(STILL), Verdict::Suspect);
        assert_eq!(watch.observe(STILL), Verdict::Hung);
        let mut busy_then_still = HangWatch::default();
        for _ in 0..BUSY_MISSES_BEFORE_RESTART - 1 {
            busy_then_still.observe(BUSY);
        }
        assert_eq!(busy_then_still.observe(STILL), Verdict::Hung);
    }

    #[test]
    fn cpu_ticks_are_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 517 33 0 0 20 0 11 0";
        assert_eq!(cpu_ticks_of_stat(stat), Some(550));
        assert_eq!(cpu_ticks_of_stat("garbage"), None);
        let own = std::process::id();
        assert!(
            js_thread_cpu_ticks(own).is_some(),
            "this process's own main thread"
        );
    }
}
