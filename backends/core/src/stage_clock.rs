//! Per-chunk stage timestamps for the Rust hop (docs/rust-hop.md#stage-timestamps): where a
//! provider chunk's time goes between the moment its bytes reach the chat stream and the moment
//! the shell hands its frame to the HTTP server.
//!
//! Off unless the process starts with [`ENV`] naming a file. Off, a mark is one relaxed load
//! of a flag; on, it is one `CLOCK_MONOTONIC` read (the vDSO on this machine's TSC clock) into
//! a thread-local record, so the stamps cost far less than the microseconds they resolve. The
//! clock is the one `perf record -k CLOCK_MONOTONIC` stamps system calls with, so the socket
//! read before [`Stage::BodyRead`] and the write after [`Stage::Handed`] can be placed on the
//! same axis (`scripts/stage-clock`).
//!
//! A provider chunk's stages all run in one poll of one task on one thread (the body polls the
//! chat stream, which polls the provider body), which is why a thread-local record can follow
//! one chunk from its first stage to its last. Records are appended to the file when a chat
//! stream ends, off the per-chunk path.

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// The variable naming the file the records are appended to, one line per chunk.
pub const ENV: &str = "LEANSPEC_STAGE_CLOCK";

/// The stages a provider chunk passes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The provider body handed the chat stream a read's bytes.
    BodyRead = 0,
    /// The SSE decoder cut the event out of them.
    SseDecoded = 1,
    /// The event's JSON became the provider's chunk type.
    JsonDecoded = 2,
    /// The chat loop turned the chunk into UI frames.
    Framed = 3,
    /// The shell handed the first of those frames to the HTTP server as a body chunk.
    Handed = 4,
    /// The HTTP server polled the shell's body in the poll that then read the provider (the
    /// last poll to begin before [`Stage::BodyRead`]): it splits the wake-to-chat-stream
    /// stretch into the server's part and the chat stream's (docs/rust-hop.md#what-remains-and-why).
    /// Last in the record so that lines written before it keep their columns.
    ShellPolled = 5,
}

const STAGES: usize = 6;

static ENABLED: AtomicBool = AtomicBool::new(false);
static SINK: OnceLock<Option<Sink>> = OnceLock::new();

struct Sink {
    path: String,
    records: Mutex<Vec<[u64; STAGES]>>,
}

thread_local! {
    static CURRENT: Cell<[u64; STAGES]> = const { Cell::new([0; STAGES]) };
    /// When this thread last began polling a shell body: it is polled several times per chunk
    /// and only the poll that reads the provider belongs to the chunk, which
    /// [`Stage::BodyRead`] decides.
    static LAST_SHELL_POLL: Cell<u64> = const { Cell::new(0) };
}

/// Reads [`ENV`] once; call at startup, before any chunk is marked.
pub fn init() {
    install(std::env::var(ENV).ok().filter(|p| !p.is_empty()));
}

fn install(path: Option<String>) {
    let sink = SINK.get_or_init(|| {
        path.map(|path| Sink {
            path,
            // About a minute of the bench's load pace: no reallocation while a probe runs.
            records: Mutex::new(Vec::with_capacity(1 << 16)),
        })
    });
    ENABLED.store(sink.is_some(), Ordering::Relaxed);
}

/// Stamps `stage` for the chunk this thread is carrying; [`Stage::Handed`] completes the record.
#[inline]
pub fn mark(stage: Stage) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let now = monotonic_ns();
    if stage == Stage::ShellPolled {
        LAST_SHELL_POLL.set(now);
        return;
    }
    let record = CURRENT.with(|current| {
        let mut record = if stage == Stage::BodyRead {
            let mut fresh = [0; STAGES];
            fresh[Stage::ShellPolled as usize] = LAST_SHELL_POLL.get();
            fresh
        } else {
            current.get()
        };
        record[stage as usize] = now;
        if stage == Stage::Handed {
            current.set([0; STAGES]);
            Some(record)
        } else {
            current.set(record);
            None
        }
    });
    // A frame that no provider read started (the stream's first, a tool result) is no record.
    if let Some(record) = record.filter(|r| r[Stage::BodyRead as usize] != 0)
        && let Some(Some(sink)) = SINK.get()
        && let Ok(mut records) = sink.records.lock()
    {
        records.push(record);
    }
}

/// Appends the records taken so far to the file; called when a chat stream ends.
pub fn flush() {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let Some(Some(sink)) = SINK.get() else {
        return;
    };
    let records = match sink.records.lock() {
        Ok(mut records) => std::mem::take(&mut *records),
        Err(_) => return,
    };
    let mut text = String::with_capacity(records.len() * 100);
    for record in records {
        let line: Vec<String> = record.iter().map(u64::to_string).collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&sink.path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        tracing::warn!(path = %sink.path, %error, "cannot append the stage timestamps");
    }
}

fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_read_from_the_provider_is_one_ordered_line() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("stages");
        install(Some(path.display().to_string()));
        // A frame no provider read started (the stream's `start`) is not a record.
        mark(Stage::Framed);
        mark(Stage::Handed);
        mark(Stage::ShellPolled);
        for stage in [
            Stage::BodyRead,
            Stage::SseDecoded,
            Stage::JsonDecoded,
            Stage::Framed,
            Stage::Handed,
        ] {
            mark(stage);
        }
        flush();
        let text = std::fs::read_to_string(&path).expect("the records were written");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let stamps: Vec<u64> = lines[0]
            .split(' ')
            .map(|n| n.parse().expect("a number"))
            .collect();
        assert_eq!(stamps.len(), STAGES);
        let (polled, read) = (stamps[Stage::ShellPolled as usize], stamps[0]);
        assert!(polled > 0 && polled <= read, "{stamps:?}");
        assert!(stamps[..5].is_sorted(), "{stamps:?}");
    }
}
