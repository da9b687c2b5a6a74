//! The three LeanSpec operations, shared by the REST routes and the tools so that a tool's
//! output is byte for byte the body of the matching route, and a tool's error message is the
//! route's error message.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::search_index::query_terms;
use crate::spec::{Spec, SpecSummary, Status};
use crate::spec_store::SpecStore;

/// A search answer is read by a model: twenty specs are plenty to choose from and keep the
/// tool result small; `total` says how many more matched.
pub const MAX_SEARCH_RESULTS: usize = 20;
/// A list answer is read by a model too: on the 10,000-spec corpus an unbounded list would be
/// a 1.5 MB tool result. `count` says how many specs matched; REST clients page with
/// `?offset=&limit=`, the model narrows with `status` or a search.
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// The largest page a REST client may ask for.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Longer queries are not searches but pasted documents.
pub const MAX_QUERY_CHARS: usize = 500;
/// Characters of body shown around the first match.
const SNIPPET_CHARS: usize = 160;

/// `GET /api/specs[?status=&offset=&limit=]` and `list_specs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecList {
    /// Specs with the status asked for (all of them, not just this page).
    pub count: usize,
    /// Position of the first spec of `specs` among them.
    pub offset: usize,
    pub specs: Vec<SpecSummary>,
    /// Where the next page starts, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// Which part of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: DEFAULT_LIST_LIMIT,
        }
    }
}

impl Page {
    /// From the REST query's optional `offset` and `limit`.
    pub fn parse(offset: Option<&str>, limit: Option<&str>) -> Result<Self, ApiError> {
        let number = |name: &str, value: &str| {
            value.parse::<usize>().map_err(|_| {
                ApiError::InvalidRequest(format!(
                    "{name} must be a non-negative integer, not {value:?}"
                ))
            })
        };
        let offset = offset
            .map(|v| number("offset", v))
            .transpose()?
            .unwrap_or(0);
        let limit = limit
            .map(|v| number("limit", v))
            .transpose()?
            .unwrap_or(DEFAULT_LIST_LIMIT);
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}"
            )));
        }
        Ok(Self { offset, limit })
    }
}

/// `GET /api/search?q=` and `search_specs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub query: String,
    /// Specs that matched; `results` holds the best [`MAX_SEARCH_RESULTS`] of them.
    pub total: usize,
    pub results: Vec<SearchResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    #[serde(flatten)]
    pub spec: SpecSummary,
    pub score: u32,
    /// Body text around the first occurrence of a query term.
    pub snippet: String,
}

pub fn list_specs(
    store: &SpecStore,
    status: Option<&str>,
    page: Page,
) -> Result<SpecList, ApiError> {
    let status = status
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let matching = store.list(status);
    let specs: Vec<SpecSummary> = matching
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(|&s| s.clone())
        .collect();
    let end = page.offset.saturating_add(specs.len());
    Ok(SpecList {
        count: matching.len(),
        offset: page.offset,
        specs,
        next_offset: (end < matching.len()).then_some(end),
    })
}

pub fn get_spec(store: &SpecStore, id: &str) -> Result<Spec, ApiError> {
    store.get(id).cloned().ok_or_else(|| {
        ApiError::NotFound(format!(
            "spec {id:?} not found; list_specs shows the ids that exist"
        ))
    })
}

pub fn search_specs(store: &SpecStore, query: &str) -> Result<SearchResponse, ApiError> {
    let query = query.trim();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::InvalidRequest(format!(
            "query is longer than {MAX_QUERY_CHARS} characters; search for a few words"
        )));
    }
    let terms = query_terms(query);
    if terms.is_empty() {
        return Err(ApiError::InvalidRequest(
            "query must contain at least one word".to_owned(),
        ));
    }
    let found = store.search(query, MAX_SEARCH_RESULTS);
    Ok(SearchResponse {
        query: query.to_owned(),
        total: found.total,
        results: found
            .hits
            .into_iter()
            .map(|(spec, hit)| SearchResult {
                spec: spec.summary.clone(),
                score: hit.score,
                snippet: snippet(&spec.body, &terms),
            })
            .collect(),
    })
}

/// About [`SNIPPET_CHARS`] of `body` around the first word that is a query term, on one line.
fn snippet(body: &str, terms: &[String]) -> String {
    let first_match = word_spans(body)
        .find(|&(start, end)| is_term(&body[start..end], terms))
        .map_or(0, |(start, _)| start);
    // Back up a quarter of the window from the match, then take the window, on char boundaries.
    let from = body[..first_match]
        .char_indices()
        .rev()
        .nth(SNIPPET_CHARS / 4 - 1)
        .map_or(0, |(i, _)| i);
    let mut window = body[from..].char_indices();
    let to = window
        .nth(SNIPPET_CHARS)
        .map_or(body.len(), |(i, _)| from + i);
    let mut out = String::with_capacity(to - from + 8);
    if from > 0 {
        out.push('…');
    }
    let mut last_space = false;
    for c in body[from..to].chars() {
        let space = c.is_whitespace();
        if !(space && last_space) {
            out.push(if space { ' ' } else { c });
        }
        last_space = space;
    }
    if to < body.len() {
        out.push('…');
    }
    out.trim().to_owned()
}

/// Whether `word` lowercases to one of `terms`, without allocating for ASCII words.
fn is_term(word: &str, terms: &[String]) -> bool {
    if word.is_ascii() {
        terms.iter().any(|t| t.eq_ignore_ascii_case(word))
    } else {
        let lower = word.to_lowercase();
        terms.contains(&lower)
    }
}

/// Byte ranges of the alphanumeric words of `text`, as [`crate::search_index::tokenize`] splits.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = None;
    text.char_indices()
        .chain(std::iter::once((text.len(), ' ')))
        .filter_map(move |(i, c)| match (c.is_alphanumeric(), start) {
            (true, None) => {
                start = Some(i);
                None
            }
            (false, Some(s)) => {
                start = None;
                Some((s, i))
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_centres_on_the_first_match_and_collapses_whitespace() {
        let body = format!("{}\n\nThe Streaming  path matters.", "x ".repeat(100));
        let s = snippet(&body, &["streaming".to_owned()]);
        assert!(s.starts_with('…'), "{s}");
        assert!(s.contains("The Streaming path matters."), "{s}");
        assert_eq!(snippet("short body", &["zzz".to_owned()]), "short body");
        let long = "é".repeat(400);
        let s = snippet(
            &format!("{long} Überblick {long}"),
            &["überblick".to_owned()],
        );
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("Überblick"),
            "{s}"
        );
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 2);
    }
}
