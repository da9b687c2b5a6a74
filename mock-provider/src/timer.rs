//! A sub-millisecond timer.
//!
//! Tokio's timer wheel has a resolution of one millisecond and rounds every deadline up to the
//! next tick, so `tokio::time::sleep_until` alone sends chunks up to 1-2 ms late: more than the
//! whole budget (chunk send times within 1 ms of schedule at p99). This timer keeps its
//! deadlines in a heap served by one thread that waits on a condition variable with a
//! nanosecond timeout (Linux futex, absolute `CLOCK_MONOTONIC`, ~50 µs timer slack) and wakes
//! every sleeper that is due. Waiting is blocking, never spinning, so the thread costs nothing
//! between deadlines. (A `timerfd` on the runtime's own reactor would save the cross-thread
//! wake, but registering a raw fd with tokio requires `unsafe`, which this workspace denies.)
//!
//! Deadlines are nanoseconds of [`contract::clock::monotonic_ns`], the clock of the timeline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use contract::clock::monotonic_ns;
use futures::task::AtomicWaker;

/// A handle to one timer; cheap to clone. The thread stops when [`TimerDriver`] drops.
#[derive(Clone)]
pub struct Timer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

/// Owns the timer thread; stops it on drop (sleeps still pending then never fire).
#[derive(Debug)]
pub struct TimerDriver {
    shared: Arc<Shared>,
}

impl Drop for TimerDriver {
    fn drop(&mut self) {
        self.shared.lock_queue().stopped = true;
        self.shared.changed.notify_one();
    }
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a deadline earlier than every other is added, or on stop.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
    stopped: bool,
}

#[derive(Debug)]
struct Entry {
    deadline_ns: u64,
    seq: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline_ns, self.seq) == (other.deadline_ns, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline_ns, self.seq).cmp(&(other.deadline_ns, other.seq))
    }
}

#[derive(Debug, Default)]
struct Slot {
    fired: AtomicBool,
    waker: AtomicWaker,
}

impl Timer {
    /// Creates a timer and starts its thread. The thread inherits the caller's CPU affinity.
    pub fn start() -> io::Result<(Timer, TimerDriver)> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("mock-timer".into())
            .spawn(move || thread_shared.run())?;
        Ok((
            Timer {
                shared: Arc::clone(&shared),
            },
            TimerDriver { shared },
        ))
    }

    /// A future that completes at `deadline_ns` (or right away if that has passed).
    pub fn sleep_until(&self, deadline_ns: u64) -> Sleep {
        Sleep {
            deadline_ns,
            slot: None,
            timer: self.clone(),
        }
    }

    fn register(&self, deadline_ns: u64, slot: Arc<Slot>) {
        let mut queue = self.shared.lock_queue();
        let seq = queue.next_seq;
        queue.next_seq += 1;
        let earliest = queue
            .heap
            .peek()
            .is_none_or(|Reverse(head)| deadline_ns < head.deadline_ns);
        queue.heap.push(Reverse(Entry {
            deadline_ns,
            seq,
            slot,
        }));
        drop(queue);
        if earliest {
            self.shared.changed.notify_one();
        }
    }
}

impl Shared {
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        // Push and pop leave the heap consistent even if a panic interrupted the holder, so a
        // poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The timer thread: wake whatever is due, then wait for the next deadline or a change.
    fn run(&self) {
        let mut due = Vec::new();
        let mut queue = self.lock_queue();
        loop {
            if queue.stopped {
                return;
            }
            let now = monotonic_ns();
            while queue
                .heap
                .peek()
                .is_some_and(|Reverse(head)| head.deadline_ns <= now)
            {
                if let Some(Reverse(entry)) = queue.heap.pop() {
                    due.push(entry.slot);
                }
            }
            if !due.is_empty() {
                // Wake outside the lock so woken tasks registering their next deadline do not
                // wait for this thread.
                drop(queue);
                for slot in due.drain(..) {
                    slot.fired.store(true, Ordering::Release);
                    slot.waker.wake();
                }
                queue = self.lock_queue();
                continue;
            }
            queue = match queue.heap.peek() {
                None => self.changed.wait(queue).unwrap_or_else(|e| e.into_inner()),
                Some(Reverse(head)) => {
                    let wait = Duration::from_nanos(head.deadline_ns.saturating_sub(now));
                    self.changed
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

/// See [`Timer::sleep_until`].
pub struct Sleep {
    deadline_ns: u64,
    slot: Option<Arc<Slot>>,
    timer: Timer,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline_ns", &self.deadline_ns)
            .finish_non_exhaustive()
    }
}

impl Sleep {
    pub fn deadline_ns(&self) -> u64 {
        self.deadline_ns
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(slot) = &self.slot {
            if slot.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            slot.waker.register(cx.waker());
            if slot.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
        if monotonic_ns() >= self.deadline_ns {
            return Poll::Ready(());
        }
        let slot = Arc::new(Slot::default());
        slot.waker.register(cx.waker());
        self.timer.register(self.deadline_ns, Arc::clone(&slot));
        self.slot = Some(slot);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_fire_in_deadline_order_and_never_early() {
        let (timer, _driver) = Timer::start().unwrap();
        let start = monotonic_ns();
        let deadlines: Vec<u64> = [30, 5, 20, 10, 0]
            .iter()
            .map(|ms| start + ms * 1_000_000)
            .collect();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = deadlines
            .iter()
            .map(|&d| {
                let (timer, fired) = (timer.clone(), Arc::clone(&fired));
                tokio::spawn(async move {
                    timer.sleep_until(d).await;
                    let now = monotonic_ns();
                    fired.lock().unwrap().push((d, now));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let fired = fired.lock().unwrap();
        assert_eq!(fired.len(), deadlines.len());
        for &(deadline, at) in fired.iter() {
            assert!(at >= deadline, "fired {} ns early", deadline - at);
        }
        let order: Vec<u64> = fired.iter().map(|&(d, _)| d).collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted);
    }

    #[tokio::test]
    async fn a_dropped_sleep_does_not_disturb_later_ones() {
        let (timer, _driver) = Timer::start().unwrap();
        let start = monotonic_ns();
        let early = timer.sleep_until(start + 2_000_000);
        // Poll once so it registers, then drop it.
        assert!(futures::poll!(Box::pin(early)).is_pending());
        timer.sleep_until(start + 4_000_000).await;
        assert!(monotonic_ns() >= start + 4_000_000);
    }
}
