//! Generates large LeanSpec corpora for scale runs (`gen-specs --count 10000 --out DIR`).
//!
//! Deterministic from a seed, with its own small generator (SplitMix64) so that a seed gives
//! the same corpus on every machine and with every version of the `rand` crate. Every corpus
//! contains [`KNOWN_SPEC_ID`] with the fixture's exact text, so the tool scenarios that ask
//! for it behave the same on a generated corpus, and the vocabulary makes
//! [`contract::scenario::PARALLEL_SEARCH_QUERY`] match many specs.

use std::path::Path;

use contract::scenario::KNOWN_SPEC_ID;

use crate::spec_store::SPEC_FILE;

/// The fixture spec every corpus carries, byte for byte.
pub const KNOWN_SPEC_TEXT: &str =
    include_str!("../../../fixtures/specs/001-chat-sidecar-architecture/README.md");

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and fully specified.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant for text generation.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const AREAS: &[&str] = &[
    "chat",
    "streaming",
    "storage",
    "search",
    "tooling",
    "auth",
    "billing",
    "sync",
    "cli",
    "metrics",
    "indexing",
    "sidecar",
    "cache",
    "editor",
    "export",
    "import",
    "scheduler",
    "api",
];
const VERBS: &[&str] = &[
    "Add",
    "Rework",
    "Stabilise",
    "Split",
    "Cache",
    "Stream",
    "Validate",
    "Document",
    "Measure",
    "Harden",
    "Simplify",
    "Migrate",
    "Batch",
    "Index",
    "Retry",
];
const OBJECTS: &[&str] = &[
    "message history",
    "token stream",
    "tool registry",
    "spec loader",
    "search ranking",
    "session store",
    "rate limiter",
    "health checks",
    "export pipeline",
    "config reader",
    "socket transport",
    "retry policy",
    "frontmatter parser",
    "audit log",
    "streaming encoder",
    "provider client",
];
const CONTEXTS: &[&str] = &[
    "for large workspaces",
    "across restarts",
    "under load",
    "for the desktop app",
    "behind a proxy",
    "with partial failures",
    "for offline use",
    "in the web UI",
];
const SENTENCES: &[&str] = &[
    "Users see answers appear token by token, so the streaming path must never buffer a whole response.",
    "The current implementation reads every file on each request, which grows linearly with the workspace.",
    "We keep the wire format stable and version it explicitly so older clients keep working.",
    "Errors are reported as JSON with a machine-readable code and a message that says what to do.",
    "A slow consumer must not hold memory without bound; backpressure propagates to the producer.",
    "Logs go to stderr and never include credentials or the contents of user messages.",
    "The design favours one process where possible and measures the cost of every extra hop.",
    "Tool calls run in Rust and return structured results the model can quote.",
    "Cancellation reaches the upstream provider as soon as the client disconnects.",
    "The index is built once at startup and shared read-only between requests.",
    "Retries use exponential backoff and honour Retry-After when the server sends one.",
    "Configuration comes from flags first, then environment variables, then defaults.",
    "Each step of a multi-step answer is delimited so the client can render tool results in place.",
    "Benchmarks compare against a direct baseline so that only the overhead is reported.",
    "The migration runs in the background and can resume after an interruption.",
    "Streaming exports write chunks as they are produced instead of assembling the file in memory.",
];
const STATUSES: &[&str] = &["planned", "in-progress", "complete"];
const PRIORITIES: &[&str] = &["low", "medium", "high", "critical"];

/// One generated spec: its id and the README.md text.
pub fn generate_spec(number: usize, rng: &mut SplitMix64) -> (String, String) {
    let verb = rng.pick(VERBS);
    let object = rng.pick(OBJECTS);
    let context = rng.pick(CONTEXTS);
    let title = format!("{verb} the {object} {context}");
    let slug: String = format!("{verb} {object}")
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-");
    let id = format!("{number:05}-{slug}");
    let mut tags = vec![rng.pick(AREAS)];
    let second = rng.pick(AREAS);
    if second != tags[0] {
        tags.push(second);
    }
    let status = rng.pick(STATUSES);
    let year = 2024 + rng.below(2);
    let (month, day) = (1 + rng.below(12), 1 + rng.below(28));
    let mut text = format!(
        "---\nstatus: {status}\ncreated: {year}-{month:02}-{day:02}\ntags: [{}]\n",
        tags.join(", ")
    );
    if rng.below(3) == 0 {
        text.push_str(&format!("priority: {}\n", rng.pick(PRIORITIES)));
    }
    text.push_str(&format!("---\n\n# {title}\n"));
    for section in ["Overview", "Design", "Plan"] {
        text.push_str(&format!("\n## {section}\n\n"));
        let sentences = 2 + rng.below(3);
        let paragraph: Vec<&str> = (0..sentences).map(|_| rng.pick(SENTENCES)).collect();
        text.push_str(&paragraph.join(" "));
        text.push('\n');
    }
    (id, text)
}

/// Writes `count` specs (the known spec included) into `out`, which is created if needed.
pub fn generate_corpus(out: &Path, count: usize, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    write_spec(out, KNOWN_SPEC_ID, KNOWN_SPEC_TEXT)?;
    let mut rng = SplitMix64::new(seed);
    for number in 2..=count {
        let (id, text) = generate_spec(number, &mut rng);
        write_spec(out, &id, &text)?;
    }
    Ok(())
}

fn write_spec(out: &Path, id: &str, text: &str) -> std::io::Result<()> {
    let dir = out.join(id);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(SPEC_FILE), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec_store::parse_spec;
    use contract::scenario::PARALLEL_SEARCH_QUERY;

    #[test]
    fn same_seed_same_specs_and_every_spec_parses() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for n in 2..200 {
            let (id, text) = generate_spec(n, &mut a);
            assert_eq!((id.clone(), text.clone()), generate_spec(n, &mut b));
            parse_spec(&id, &text).unwrap_or_else(|e| panic!("{id}: {e}\n{text}"));
        }
        parse_spec(KNOWN_SPEC_ID, KNOWN_SPEC_TEXT).unwrap();
    }

    #[test]
    fn the_vocabulary_matches_the_parallel_search_query() {
        let needle = PARALLEL_SEARCH_QUERY.to_lowercase();
        assert!(AREAS.contains(&needle.as_str()));
        assert!(SENTENCES.iter().any(|s| s.to_lowercase().contains(&needle)));
    }
}
