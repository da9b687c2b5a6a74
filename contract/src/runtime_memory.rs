//! What a backend's JavaScript runtimes say about their own memory: `GET /health/runtime` on
//! every backend's public server, and the sidecar's private `GET /health/memory` it is built
//! from. The process's resident set shows that memory grew; only V8's own figures say whether
//! the JavaScript heap holds it (retention) or the allocator does (docs/soak.md#the-samples).
//! A deployment reads the same endpoint to watch its heap.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The public route: every backend serves it; one without a JavaScript runtime (rust-only)
/// answers an empty list.
pub const RUNTIME_PATH: &str = "/health/runtime";
/// The sidecar's private route the unix and http hosts ask each of their sidecars.
pub const SIDECAR_MEMORY_PATH: &str = "/health/memory";

/// One JavaScript process's `process.memoryUsage()`, in bytes, with its pid (the names are
/// Node's own, so the sidecar sends the object as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeMemory {
    pub pid: u32,
    pub rss: u64,
    /// V8's heap as reserved, and the part of it live objects and garbage not yet collected use.
    pub heap_total: u64,
    pub heap_used: u64,
    /// Memory of C++ objects bound to JavaScript ones (Buffers among them).
    pub external: u64,
    /// `ArrayBuffer`s and `SharedArrayBuffer`s, Node's Buffers included (part of `external`).
    pub array_buffers: u64,
}

/// The answer of [`RUNTIME_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeReport {
    pub backend: String,
    /// One entry per JavaScript process that answered (a sidecar that did not is left out).
    pub runtimes: Vec<RuntimeMemory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_node_process_memory_usage_returns() {
        let node = r#"{"pid":7,"rss":1,"heapTotal":2,"heapUsed":3,"external":4,"arrayBuffers":5}"#;
        let m: RuntimeMemory = serde_json::from_str(node).unwrap();
        assert_eq!((m.pid, m.heap_used, m.array_buffers), (7, 3, 5));
        assert!(serde_json::from_str::<RuntimeMemory>(r#"{"pid":7}"#).is_err());
    }
}
