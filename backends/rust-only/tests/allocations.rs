//! The per-chunk cost promise: turning a provider text chunk into its UI frame allocates the
//! frame and nothing else (the answer's accumulated text grows by doubling, so it adds a
//! logarithmic number of allocations over a whole answer, not one per chunk).
//!
//! Counted with a global allocator that counts per thread, so the test harness's other threads
//! do not disturb the count.

// A counting allocator must implement `GlobalAlloc`, which is an unsafe trait; it only
// forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;

use async_openai::types::chat::CreateChatCompletionStreamResponse;
use backend_rust_only::step::{Step, TextIds};
use bytes::Bytes;
use serde_json::json;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn text_chunk(text: &str) -> CreateChatCompletionStreamResponse {
    serde_json::from_value(json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}}],
    }))
    .expect("a valid chunk")
}

/// Doublings of the accumulated text over a whole answer, with room to spare.
const TEXT_GROWTH_ALLOWANCE: usize = 24;

#[test]
fn a_text_chunk_costs_one_allocation_its_frame() {
    const CHUNKS: usize = 1000;
    let known = HashSet::new();
    let mut ids = TextIds::default();
    let mut step = Step::new();
    let mut out: Vec<Bytes> = Vec::with_capacity(8);
    step.on_chunk(text_chunk("Hello"), &known, &mut ids, &mut out)
        .expect("first chunk");
    out.clear();
    let chunks: Vec<_> = (0..CHUNKS).map(|k| text_chunk(&format!(" w{k}"))).collect();

    let before = allocations();
    let mut frames = 0;
    for chunk in chunks {
        step.on_chunk(chunk, &known, &mut ids, &mut out)
            .expect("a text chunk");
        frames += out.len();
        out.clear();
    }
    let spent = allocations() - before;

    assert_eq!(frames, CHUNKS, "one frame per chunk");
    assert!(
        spent <= CHUNKS + TEXT_GROWTH_ALLOWANCE,
        "{spent} allocations for {CHUNKS} chunks"
    );
}
