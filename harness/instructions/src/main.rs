//! The backends' own per-chunk Rust code as workloads for valgrind's callgrind
//! (docs/gate.md#instruction-counts). `harness instructions` builds this in release and runs it
//! once per workload, counting only inside that workload's `measured_<name>` function
//! (`--toggle-collect`), so process start-up, the allocator's first growth and the argument
//! parsing are not counted. Instruction counts do not depend on the machine's load: they
//! complement the latency gate, which still has to judge the whole path.
//!
//! `per-chunk-instructions WORKLOAD` runs [`CHUNKS`] chunks through one workload; `list` prints
//! each workload with its chunk count.

use std::hint::black_box;
use std::io::Write;
use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use contract::sse::{SseDecoder, encode_data};
use contract::ui_chunk::UiChunk;
use leanspec_core::ui_stream::encode_chunk;
use sidecar_host::relay::take_complete_frames;

/// Chunks per workload: the harness divides the count by this. A thousand make the per-call
/// constant (the first call's buffer growth) a rounding error.
const CHUNKS: usize = 1_000;
/// A text delta as a provider sends it (the bench's chunk shape: docs/bench.md#workload).
const DELTA: &str = "a typical provider chunk of text ";

/// The workloads, by the name the harness and the baseline file use.
const WORKLOADS: [(&str, fn()); 4] = [
    ("sse-encode", sse_encode),
    ("sse-decode", sse_decode),
    ("ui-encode", ui_encode),
    ("relay-frames", relay_frames),
];

fn main() -> ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: per-chunk-instructions WORKLOAD|list");
        return ExitCode::from(2);
    };
    if name == "list" {
        let mut out = std::io::stdout().lock();
        for (n, _) in WORKLOADS {
            if writeln!(out, "{n} {CHUNKS}").is_err() {
                return ExitCode::from(2);
            }
        }
        return ExitCode::SUCCESS;
    }
    match WORKLOADS.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => {
            f();
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("no workload `{name}`; `list` prints them");
            ExitCode::from(2)
        }
    }
}

/// The frames a sidecar sends for [`CHUNKS`] text deltas, made before counting starts.
fn ui_frames() -> Vec<Bytes> {
    (0..CHUNKS)
        .map(|_| encode_chunk(&UiChunk::text_delta("txt-0", DELTA)))
        .collect()
}

fn sse_encode() {
    let payload = UiChunk::text_delta("txt-0", DELTA).to_json();
    measured_sse_encode(&payload);
}

/// contract's SSE encoder: one `data:` frame per chunk (the mock's and the sidecar's framing).
#[inline(never)]
fn measured_sse_encode(payload: &str) {
    let mut out = Vec::with_capacity(256);
    for _ in 0..CHUNKS {
        out.clear();
        encode_data(black_box(payload), &mut out);
        black_box(&out);
    }
}

fn sse_decode() {
    measured_sse_decode(&ui_frames());
}

/// contract's incremental SSE decoder over the frames of [`CHUNKS`] chunks, one read each.
#[inline(never)]
fn measured_sse_decode(frames: &[Bytes]) {
    let mut decoder = SseDecoder::new();
    for frame in frames {
        decoder.push_with(black_box(frame), |event| {
            black_box(event);
        });
    }
}

fn ui_encode() {
    measured_ui_encode();
}

/// backends/core's UI stream encoder: a text-delta chunk to its frame.
#[inline(never)]
fn measured_ui_encode() {
    for _ in 0..CHUNKS {
        let chunk = UiChunk::text_delta("txt-0", DELTA);
        black_box(encode_chunk(black_box(&chunk)));
    }
}

fn relay_frames() {
    measured_relay_frames(ui_frames());
}

/// sidecar-host's relay: complete frames taken off what the sidecar's socket delivered.
#[inline(never)]
fn measured_relay_frames(frames: Vec<Bytes>) {
    let mut partial = BytesMut::new();
    for frame in frames {
        black_box(take_complete_frames(&mut partial, black_box(frame)));
    }
}
