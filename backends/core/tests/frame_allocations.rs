//! Encoding a chunk allocates the frame and nothing else (issue 3: "no per-chunk allocation
//! beyond the frame itself"), counted by a global allocator that tallies this thread's
//! allocations.
//!
//! Its own test binary, because it replaces the global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use contract::ui_chunk::UiChunk;
use leanspec_core::ui_stream::encode_chunk;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct CountingAllocator;

// A counting wrapper around the system allocator: the one way to observe allocations, so the
// workspace's `unsafe_code = "deny"` is lifted for this impl alone. Every call is forwarded
// unchanged; the counter is a const-initialised thread-local, which never allocates itself.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's layout, which it guarantees is valid.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn encoding_a_chunk_allocates_only_the_frame() {
    let chunks = [
        UiChunk::text_delta("txt-0", "Hello, world"),
        UiChunk::text_delta("txt-0", "日本語 👋🏽 with \"quotes\" and a\nline break"),
        UiChunk::error("provider returned HTTP 500"),
        UiChunk::StartStep,
    ];
    // The first call sizes this thread's scratch buffer.
    encode_chunk(&UiChunk::text_delta("warm", "x".repeat(256)));
    for chunk in &chunks {
        let (frame, allocations) = allocations_during(|| encode_chunk(chunk));
        assert_eq!(allocations, 1, "{chunk:?} took {allocations} allocations");
        assert!(frame.starts_with(b"data: {") && frame.ends_with(b"}\n\n"));
    }
}
