//! The spec corpus in memory: loaded and indexed once at start, read-only afterwards.
//!
//! A corpus is a directory of `<id>/README.md` files, LeanSpec style: YAML frontmatter
//! (`status`, `created`, `tags`, optional `priority`, other keys ignored), a `# Title` line and a
//! markdown body. Loading fails on the first malformed spec with an error that names the file
//! and what is wrong, because a corpus silently missing a spec would make every tool answer
//! subtly wrong.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::search_index::{SearchHit, SearchIndex};
use crate::spec::{Priority, Spec, SpecSummary, Status, UnknownStatus};

/// The file of a spec folder that holds the spec.
pub const SPEC_FILE: &str = "README.md";

#[derive(Debug, Error)]
pub enum SpecStoreError {
    #[error("cannot read the specs directory {}: {source} (pass --specs-dir DIR)", .dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", .path.display())]
    ReadSpec {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
}

/// Frontmatter keys we read; LeanSpec writes more (assignee, depends_on, ...) and those are
/// ignored rather than rejected.
#[derive(Deserialize)]
struct Frontmatter {
    status: String,
    created: serde_yaml_ng::Value,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    priority: Option<Priority>,
}

/// The loaded corpus and its search index.
#[derive(Debug)]
pub struct SpecStore {
    /// In [`spec_order`]: by number, then id.
    specs: Vec<Spec>,
    by_id: HashMap<String, usize>,
    index: SearchIndex,
}

impl SpecStore {
    /// Reads every `<dir>/<id>/README.md` and builds the search index. Entries that are not
    /// folders, and folders without a README.md, are not specs and are skipped.
    pub fn load(dir: &Path) -> Result<Self, SpecStoreError> {
        let read_dir_error = |source| SpecStoreError::ReadDir {
            dir: dir.to_owned(),
            source,
        };
        let mut specs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
            let entry = entry.map_err(read_dir_error)?;
            let path = entry.path().join(SPEC_FILE);
            if !entry.path().is_dir() || !path.is_file() {
                continue;
            }
            let id = entry.file_name().to_string_lossy().into_owned();
            let text =
                std::fs::read_to_string(&path).map_err(|source| SpecStoreError::ReadSpec {
                    path: path.clone(),
                    source,
                })?;
            let spec = parse_spec(&id, &text)
                .map_err(|reason| SpecStoreError::Malformed { path, reason })?;
            specs.push(spec);
        }
        Ok(Self::from_specs(specs))
    }

    /// Builds a store from specs already in memory (tests, generated corpora).
    pub fn from_specs(mut specs: Vec<Spec>) -> Self {
        specs.sort_by(|a, b| spec_order(&a.summary.id, &b.summary.id));
        specs.dedup_by(|a, b| a.summary.id == b.summary.id);
        let by_id = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| (spec.summary.id.clone(), i))
            .collect();
        let index = SearchIndex::build(&specs);
        Self {
            specs,
            by_id,
            index,
        }
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Every spec with the given status (all when `None`), in [`spec_order`].
    pub fn list(&self, status: Option<Status>) -> Vec<&SpecSummary> {
        self.specs
            .iter()
            .map(|spec| &spec.summary)
            .filter(|summary| status.is_none_or(|s| summary.status == s))
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<&Spec> {
        self.by_id.get(id).map(|&i| &self.specs[i])
    }

    /// The specs matching `query`, best first, at most `limit`; see [`SearchIndex::search`].
    pub fn search(&self, query: &str, limit: usize) -> SearchResults<'_> {
        let (hits, total) = self.index.search(query, limit);
        SearchResults {
            total,
            hits: hits
                .into_iter()
                .map(|hit| (&self.specs[hit.doc as usize], hit))
                .collect(),
        }
    }
}

/// LeanSpec ids start with a number (`001-...`, `00042-...`); specs are listed by that
/// number, so `001` comes before `00002` whatever the padding, then by the whole id. Ids
/// without a number come last.
pub fn spec_order(a: &str, b: &str) -> std::cmp::Ordering {
    let number = |id: &str| -> Option<u64> {
        let digits = id.bytes().take_while(u8::is_ascii_digit).count();
        id[..digits].parse().ok()
    };
    let key = |id: &str| (number(id).is_none(), number(id));
    key(a).cmp(&key(b)).then_with(|| a.cmp(b))
}

/// The answer to one search.
#[derive(Debug)]
pub struct SearchResults<'a> {
    /// How many specs matched, of which `hits` are the best.
    pub total: usize,
    pub hits: Vec<(&'a Spec, SearchHit)>,
}

/// Parses one README.md; the error is the reason, the caller adds the path.
pub fn parse_spec(id: &str, text: &str) -> Result<Spec, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or("no YAML frontmatter: the file must start with a `---` line")?;
    let (yaml, after) = split_frontmatter(rest).ok_or("frontmatter has no closing `---` line")?;
    let front: Frontmatter =
        serde_yaml_ng::from_str(yaml).map_err(|e| format!("invalid frontmatter: {e}"))?;
    let status: Status = front
        .status
        .parse()
        .map_err(|e: UnknownStatus| e.to_string())?;
    let created = match front.created {
        serde_yaml_ng::Value::String(s) => s,
        other => {
            return Err(format!(
                "`created` must be a YYYY-MM-DD date, not {other:?}"
            ));
        }
    };
    if !is_iso_date(&created) {
        return Err(format!(
            "`created` must be a YYYY-MM-DD date, not {created:?}"
        ));
    }
    let mut lines = after.lines();
    let title = lines
        .by_ref()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .and_then(|line| line.strip_prefix("# "))
        .map(str::trim)
        .filter(|title| !title.is_empty())
        .ok_or("no `# Title` line after the frontmatter")?
        .to_owned();
    let body = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
    Ok(Spec {
        summary: SpecSummary {
            id: id.to_owned(),
            title,
            status,
            created,
            tags: front.tags,
            priority: front.priority,
        },
        body,
    })
}

fn split_frontmatter(rest: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
        return false;
    }
    if !digits(5..7) || !digits(8..10) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "---\nstatus: in-progress\ncreated: 2025-03-04\ntags: [chat, streaming]\npriority: high\nassignee: someone\n---\n\n# Stream the answer\n\nBody line one.\n\nBody line two.\n";

    #[test]
    fn parses_frontmatter_title_and_body() {
        let spec = parse_spec("007-stream", SAMPLE).unwrap();
        assert_eq!(spec.summary.title, "Stream the answer");
        assert_eq!(spec.summary.status, Status::InProgress);
        assert_eq!(spec.summary.created, "2025-03-04");
        assert_eq!(spec.summary.tags, ["chat", "streaming"]);
        assert_eq!(spec.summary.priority, Some(Priority::High));
        assert_eq!(spec.body, "Body line one.\n\nBody line two.");
    }

    #[test]
    fn malformed_specs_say_what_is_wrong() {
        let cases = [
            ("# No frontmatter\n", "no YAML frontmatter"),
            ("---\nstatus: planned\n", "no closing"),
            (
                "---\nstatus: done\ncreated: 2025-01-01\n---\n# T\n",
                "unknown status",
            ),
            (
                "---\nstatus: planned\ncreated: 2025-13-01\n---\n# T\n",
                "YYYY-MM-DD",
            ),
            (
                "---\nstatus: planned\ncreated: 2025-01-01\n---\nno title\n",
                "# Title",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_spec("x", text).unwrap_err();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn status_round_trips_through_its_name() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
        assert!("done".parse::<Status>().is_err());
    }
}
