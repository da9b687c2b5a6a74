//! Full-text search over the corpus: an inverted index from lowercase tokens to postings, built
//! once, so a query costs the length of its terms' posting lists instead of a scan of every
//! spec (the 10,000-spec corpus of the scale runs is where a scan would show).
//!
//! Ranking is deterministic: specs matching more distinct query terms first, then a higher
//! field-weighted score, then the spec that comes first in the store (by number, then id).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::spec::Spec;

/// FNV-1a: the index hashes millions of short words while it is built, where SipHash's
/// per-key setup dominates. Keys come from the corpus on disk, not from requests, so hash
/// flooding is not a concern; queries only look keys up.
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;

/// A title word is the strongest sign a spec is about something.
const TITLE_WEIGHT: u32 = 5;
/// The id repeats the title as a slug, plus the number people quote.
const ID_WEIGHT: u32 = 3;
/// Tags are chosen by the author, so they count more than a passing mention in the body.
const TAG_WEIGHT: u32 = 3;
const BODY_WEIGHT: u32 = 1;
/// Repeating a word in the body should not outrank a spec about it: occurrences beyond this
/// count add nothing.
const BODY_FREQUENCY_CAP: u32 = 5;

/// Words so common in English prose that they match nearly every spec; dropped from a query
/// unless the query is nothing but such words.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "how", "in", "is", "it",
    "of", "on", "or", "that", "the", "this", "to", "was", "were", "what", "when", "which", "will",
    "with",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Posting {
    doc: u32,
    weight: u32,
}

/// One matching spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchHit {
    /// Position of the spec in the store's order (by spec number, then id).
    pub doc: u32,
    /// Field-weighted occurrences of the query terms.
    pub score: u32,
    /// How many distinct query terms the spec contains.
    pub matched_terms: u32,
}

#[derive(Debug, Default)]
pub struct SearchIndex {
    postings: FastMap<Box<str>, Vec<Posting>>,
    doc_count: usize,
}

/// Splits text into lowercase alphanumeric tokens, the unit both the index and queries use.
pub fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_lowercase)
}

impl SearchIndex {
    /// Indexes `specs` in the order given; hits refer to positions in that order.
    pub fn build(specs: &[Spec]) -> Self {
        let mut postings: FastMap<Box<str>, Vec<Posting>> = FastMap::default();
        let mut weights: FastMap<String, u32> = FastMap::default();
        for (doc, spec) in specs.iter().enumerate() {
            weights.clear();
            let summary = &spec.summary;
            add_field(&mut weights, &summary.title, TITLE_WEIGHT, u32::MAX);
            add_field(&mut weights, &summary.id, ID_WEIGHT, u32::MAX);
            for tag in &summary.tags {
                add_field(&mut weights, tag, TAG_WEIGHT, u32::MAX);
            }
            add_field(&mut weights, &spec.body, BODY_WEIGHT, BODY_FREQUENCY_CAP);
            let doc = u32::try_from(doc).unwrap_or(u32::MAX);
            for (token, weight) in weights.drain() {
                let posting = Posting { doc, weight };
                match postings.get_mut(token.as_str()) {
                    Some(list) => list.push(posting),
                    None => {
                        postings.insert(token.into_boxed_str(), vec![posting]);
                    }
                }
            }
        }
        for list in postings.values_mut() {
            list.shrink_to_fit();
        }
        Self {
            postings,
            doc_count: specs.len(),
        }
    }

    /// The best `limit` hits for `query` and the number of specs that matched at all. A spec
    /// matches when it contains any query term; see the module docs for the order.
    pub fn search(&self, query: &str, limit: usize) -> (Vec<SearchHit>, usize) {
        let terms = query_terms(query);
        // Dense accumulators indexed by doc: one allocation per query, no hashing per posting.
        let mut hits = vec![
            SearchHit {
                doc: 0,
                score: 0,
                matched_terms: 0
            };
            self.doc_count
        ];
        let mut touched: Vec<u32> = Vec::new();
        for term in &terms {
            for posting in self.postings.get(term.as_str()).into_iter().flatten() {
                let hit = &mut hits[posting.doc as usize];
                if hit.matched_terms == 0 {
                    hit.doc = posting.doc;
                    touched.push(posting.doc);
                }
                hit.matched_terms += 1;
                hit.score += posting.weight;
            }
        }
        let total = touched.len();
        let mut ranked: Vec<SearchHit> = touched.iter().map(|&d| hits[d as usize]).collect();
        let order = |a: &SearchHit, b: &SearchHit| {
            b.matched_terms
                .cmp(&a.matched_terms)
                .then(b.score.cmp(&a.score))
                .then(a.doc.cmp(&b.doc))
        };
        if ranked.len() > limit && limit > 0 {
            ranked.select_nth_unstable_by(limit - 1, order);
        }
        ranked.truncate(limit);
        ranked.sort_unstable_by(order);
        (ranked, total)
    }
}

/// Adds `text`'s tokens to one spec's term weights. Allocates only for a token the spec has
/// not used before (and to lowercase a non-lowercase one): building the index is dominated by
/// the bodies' repeated words.
fn add_field(weights: &mut FastMap<String, u32>, text: &str, weight: u32, cap: u32) {
    let mut lowered;
    for raw in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        // The same lowercasing as `tokenize`, skipped for the common all-lowercase ASCII word.
        let token = if raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            raw
        } else {
            lowered = raw.to_lowercase();
            lowered.as_str()
        };
        match weights.get_mut(token) {
            Some(entry) if *entry < cap.saturating_mul(weight) => *entry += weight,
            Some(_) => {}
            None => {
                weights.insert(token.to_owned(), weight);
            }
        }
    }
}

/// The distinct tokens of a query, stop words removed unless nothing else is left.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for token in tokenize(query) {
        if !terms.contains(&token) {
            terms.push(token);
        }
    }
    let content: Vec<String> = terms
        .iter()
        .filter(|t| !STOP_WORDS.contains(&t.as_str()))
        .cloned()
        .collect();
    if content.is_empty() { terms } else { content }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{SpecSummary, Status};

    fn spec(id: &str, title: &str, tags: &[&str], body: &str) -> Spec {
        Spec {
            summary: SpecSummary {
                id: id.to_owned(),
                title: title.to_owned(),
                status: Status::Planned,
                created: "2025-01-01".to_owned(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                priority: None,
            },
            body: body.to_owned(),
        }
    }

    fn corpus() -> Vec<Spec> {
        vec![
            spec(
                "001-a",
                "Streaming chat",
                &["chat"],
                "Tokens arrive as a stream.",
            ),
            spec(
                "002-b",
                "Storage layer",
                &["storage"],
                "Streaming backups, streaming logs.",
            ),
            spec("003-c", "Tool calls", &["streaming"], "Nothing else."),
            spec("004-d", "Unrelated", &[], "The quick brown fox."),
        ]
    }

    #[test]
    fn ranks_title_over_tags_over_body_and_counts_all_matches() {
        let index = SearchIndex::build(&corpus());
        let (hits, total) = index.search("Streaming", 10);
        let docs: Vec<u32> = hits.iter().map(|h| h.doc).collect();
        assert_eq!(docs, [0, 2, 1]);
        assert_eq!(total, 3);
    }

    #[test]
    fn more_distinct_terms_beat_a_higher_score() {
        let index = SearchIndex::build(&corpus());
        let (hits, _) = index.search("streaming backups", 10);
        assert_eq!(hits[0].doc, 1);
        assert_eq!(hits[0].matched_terms, 2);
    }

    #[test]
    fn limit_keeps_the_best_and_stop_words_do_not_match_everything() {
        let index = SearchIndex::build(&corpus());
        let (hits, total) = index.search("the streaming", 1);
        assert_eq!((hits.len(), total, hits[0].doc), (1, 3, 0));
        let (hits, total) = index.search("the", 10);
        assert_eq!((hits.len(), total), (1, 1));
        assert_eq!(index.search("zebra", 10).1, 0);
        assert_eq!(index.search("", 10).1, 0);
    }
}
