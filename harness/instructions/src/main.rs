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
use contract::frames::{self, FrameDecoder, Kind};
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
const WORKLOADS: [(&str, fn()); 6] = [
    ("sse-encode", sse_encode),
    ("sse-decode", sse_decode),
    ("ui-encode", ui_encode),
    ("relay-frames", relay_frames),
    ("frames-split", frames_split),
    ("frames-merged", frames_merged),
];
/// Streams the `frames` workloads' chunks take turns on: one connection carries every stream of
/// its sidecar (docs/frames.md).
const STREAMS: u32 = 4;
/// Frames per read in `frames-merged`: the sidecar writes several frames per write when chunks
/// queue up (docs/frames.md).
const FRAMES_PER_READ: usize = 8;

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

/// The `frames` wire's bytes for [`CHUNKS`] text deltas, each a `chunk` frame on one of
/// [`STREAMS`] streams in turn, made before counting starts.
fn chunk_frames() -> Vec<Vec<u8>> {
    let payload = UiChunk::text_delta("txt-0", DELTA).to_json();
    (0..CHUNKS)
        .map(|i| {
            let mut out = Vec::new();
            let stream = i as u32 % STREAMS;
            frames::encode(Kind::Chunk, stream, payload.as_bytes(), &mut out)
                .expect("a text delta is under the payload limit");
            out
        })
        .collect()
}

fn frames_split() {
    // Each frame in two reads, cut inside its payload: a read that ends mid-frame.
    let reads: Vec<Vec<u8>> = chunk_frames()
        .into_iter()
        .flat_map(|f| {
            let (a, b) = f.split_at(f.len() / 2);
            [a.to_vec(), b.to_vec()]
        })
        .collect();
    measured_frames_split(&reads);
}

/// contract's frame decoder, the Rust side's demultiplexer of the `frames` wire: every frame
/// arrives in two reads.
#[inline(never)]
fn measured_frames_split(reads: &[Vec<u8>]) {
    demultiplex(reads, 2);
}

fn frames_merged() {
    let reads: Vec<Vec<u8>> = chunk_frames()
        .chunks(FRAMES_PER_READ)
        .map(|group| group.concat())
        .collect();
    measured_frames_merged(&reads);
}

/// The same decoder, [`FRAMES_PER_READ`] frames arriving in one read.
#[inline(never)]
fn measured_frames_merged(reads: &[Vec<u8>]) {
    demultiplex(reads, FRAMES_PER_READ);
}

/// Bytes in read by read, every whole frame out, each counted to its stream: what the server's
/// reading task does before it hands a chunk to its stream's channel. `shape` (reads per frame
/// or frames per read) only keeps the two workloads' code apart: identical functions would be
/// folded into one, and callgrind would count only one of their names.
fn demultiplex(reads: &[Vec<u8>], shape: usize) {
    black_box(shape);
    let mut decoder = FrameDecoder::new();
    let mut per_stream = [0usize; STREAMS as usize];
    for read in reads {
        decoder.push(black_box(read));
        while let Some(frame) = decoder.next_frame() {
            if let Ok(frame) = black_box(frame) {
                per_stream[frame.stream as usize % per_stream.len()] += 1;
            }
        }
    }
    black_box(per_stream);
}
