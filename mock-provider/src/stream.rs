//! A script on the clock: the body of a streamed answer.
//!
//! Every frame has an absolute deadline, `arrival + ttft + k * gap` (plus `stall_ms` after a
//! stall), computed from the arrival time, never by adding up sleeps, so lateness never
//! accumulates. The send time recorded for a frame is taken right before the frame is handed
//! to hyper. If hyper drops the body before `[DONE]` (the client went away), the recorder's
//! drop marks the request as gone at that moment.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use contract::clock::monotonic_ns;
use contract::timeline::{ChunkKind, Outcome, TokenUsage};
use futures::Stream;
use thiserror::Error;

use crate::chunks::{ChunkFactory, MALFORMED_FRAME, done_frame, frame};
use crate::script::{Fault, Script};
use crate::timeline::Recorder;
use crate::timer::{Sleep, Timer};

const NANOS_PER_MS: u64 = 1_000_000;

/// The deadlines of one answer.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start_ns: u64,
    pub ttft_ns: u64,
    pub gap_ns: u64,
    /// Number of deltas.
    pub deltas: u32,
    /// `(position, duration)`: nothing is sent for `duration` before position `position`.
    pub stall: Option<(u32, u64)>,
}

impl Schedule {
    pub fn new(start_ns: u64, ttft_ms: u64, gap_ms: u64, script: &Script) -> Self {
        let deltas = u32::try_from(script.deltas.len()).unwrap_or(u32::MAX);
        let stall = match script.fault {
            Some(Fault::Stall { at, stall_ns }) => Some((at.min(deltas), stall_ns)),
            _ => None,
        };
        Self {
            start_ns,
            ttft_ns: ttft_ms.saturating_mul(NANOS_PER_MS),
            gap_ns: gap_ms.saturating_mul(NANOS_PER_MS),
            deltas,
            stall,
        }
    }

    /// When position `p` is due: delta `p` for `p < deltas`; the finish chunk (`p == deltas`)
    /// goes right after the last delta.
    pub fn due(&self, p: u32) -> u64 {
        let k = u64::from(p.min(self.deltas.saturating_sub(1)));
        let stalled = match self.stall {
            Some((at, ns)) if p >= at => ns,
            _ => 0,
        };
        self.start_ns
            .saturating_add(self.ttft_ns)
            .saturating_add(k.saturating_mul(self.gap_ns))
            .saturating_add(stalled)
    }

    /// When the whole answer is due (the finish chunk's time).
    pub fn end(&self) -> u64 {
        self.due(self.deltas)
    }
}

/// Ends the body with an error so hyper aborts the response instead of finishing it.
#[derive(Debug, Error)]
#[error("truncated on purpose by the `truncated` scenario")]
pub struct Truncated;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Position `p`: a delta, or the finish chunk at `p == deltas`.
    Body(u32),
    Usage,
    Done,
    Ended,
}

enum Item {
    Delta(u32),
    Malformed,
    Truncate,
    Finish,
    Usage,
    Done,
}

/// The streamed body of one answer.
pub struct ScriptStream {
    script: Script,
    factory: ChunkFactory,
    schedule: Schedule,
    usage: Option<TokenUsage>,
    recorder: Recorder,
    timer: Timer,
    phase: Phase,
    fault_fired: bool,
    sleep: Option<Sleep>,
    /// Whether hyper has been given a chance to flush since the last frame (see `Truncate`).
    yielded: bool,
}

impl std::fmt::Debug for ScriptStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptStream")
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl ScriptStream {
    /// `usage` is sent as a last chunk when the client asked for `include_usage`.
    pub fn new(
        script: Script,
        factory: ChunkFactory,
        schedule: Schedule,
        usage: Option<TokenUsage>,
        recorder: Recorder,
        timer: Timer,
    ) -> Self {
        Self {
            script,
            factory,
            schedule,
            usage,
            recorder,
            timer,
            phase: Phase::Body(0),
            fault_fired: false,
            sleep: None,
            yielded: true,
        }
    }

    /// The next item and when it is due, or `None` at the end.
    fn peek(&self) -> Option<(Item, u64)> {
        match self.phase {
            Phase::Body(p) => {
                let due = self.schedule.due(p);
                let fault_here = |at: u32| !self.fault_fired && at.min(self.schedule.deltas) == p;
                match self.script.fault {
                    Some(Fault::Malformed { at }) if fault_here(at) => {
                        return Some((Item::Malformed, due));
                    }
                    Some(Fault::Truncate { at }) if fault_here(at) => {
                        return Some((Item::Truncate, due));
                    }
                    _ => {}
                }
                if p < self.schedule.deltas {
                    Some((Item::Delta(p), due))
                } else {
                    Some((Item::Finish, due))
                }
            }
            Phase::Usage => Some((Item::Usage, self.schedule.end())),
            Phase::Done => Some((Item::Done, self.schedule.end())),
            Phase::Ended => None,
        }
    }

    /// Renders `item` and moves past it.
    fn take(&mut self, item: Item) -> (Bytes, ChunkKind) {
        let after_body = if self.usage.is_some() {
            Phase::Usage
        } else {
            Phase::Done
        };
        match item {
            Item::Delta(p) => {
                self.phase = Phase::Body(p + 1);
                let delta = &self.script.deltas[p as usize];
                let kind = match delta {
                    crate::script::Delta::Text(_) => ChunkKind::Text,
                    crate::script::Delta::ToolCall(_) => ChunkKind::ToolCall,
                };
                (self.factory.delta_frame(delta, p == 0), kind)
            }
            Item::Malformed => {
                self.fault_fired = true;
                (Bytes::from_static(MALFORMED_FRAME), ChunkKind::Malformed)
            }
            Item::Finish => {
                self.phase = after_body;
                (
                    frame(&self.factory.finish(self.script.finish)),
                    ChunkKind::Finish,
                )
            }
            Item::Usage => {
                self.phase = Phase::Done;
                let usage = self.usage.unwrap_or(TokenUsage {
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    total_tokens: 0,
                });
                (frame(&self.factory.usage(usage)), ChunkKind::Usage)
            }
            // `Truncate` is handled before any frame is rendered; ending is the safe reading.
            Item::Done | Item::Truncate => {
                self.phase = Phase::Ended;
                (done_frame(), ChunkKind::Done)
            }
        }
    }
}

impl Stream for ScriptStream {
    type Item = Result<Bytes, Truncated>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some((item, due)) = this.peek() else {
            return Poll::Ready(None);
        };
        if monotonic_ns() < due {
            let timer = &this.timer;
            let sleep = this.sleep.get_or_insert_with(|| timer.sleep_until(due));
            if sleep.deadline_ns() != due {
                *sleep = timer.sleep_until(due);
            }
            if Pin::new(sleep).poll(cx).is_pending() {
                this.yielded = true;
                return Poll::Pending;
            }
        }
        this.sleep = None;
        if let Item::Truncate = item {
            // hyper flushes what it has buffered when the body is pending; an error right after
            // a frame could discard that frame (or the head) unsent, so yield once first.
            if !this.yielded {
                this.yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.phase = Phase::Ended;
            this.recorder.finish(Outcome::Truncated, monotonic_ns());
            return Poll::Ready(Some(Err(Truncated)));
        }
        let (bytes, kind) = this.take(item);
        this.yielded = false;
        let sent_ns = monotonic_ns();
        this.recorder.chunk(kind, due, sent_ns);
        if kind == ChunkKind::Done {
            this.recorder.finish(Outcome::Completed, sent_ns);
        }
        Poll::Ready(Some(Ok(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::text;

    #[test]
    fn deadlines_are_absolute_and_a_stall_shifts_the_rest() {
        let mut script = Script::text(text::words(4), 0);
        let s = Schedule::new(1_000, 200, 20, &script);
        assert_eq!(s.due(0), 1_000 + 200 * NANOS_PER_MS);
        assert_eq!(s.due(3), 1_000 + 260 * NANOS_PER_MS);
        assert_eq!(s.end(), s.due(3), "finish goes right after the last delta");
        script.fault = Some(Fault::Stall {
            at: 2,
            stall_ns: 5 * NANOS_PER_MS,
        });
        let s = Schedule::new(0, 0, 10, &script);
        assert_eq!(s.due(1), 10 * NANOS_PER_MS);
        assert_eq!(s.due(2), 25 * NANOS_PER_MS);
        assert_eq!(s.end(), 35 * NANOS_PER_MS);
    }
}
