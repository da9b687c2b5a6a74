//! `config/matrix.toml`: which figure each row reads, how figures become stars, the weights and
//! the reason for each choice. Loaded and checked before anything is computed, so a typo is a
//! clear error naming the row, never a silently empty matrix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use contract::results::RowTable;
use serde::Deserialize;

use super::units::{self, PaperFigure};

/// Where the matrix's config lives, relative to the repository root.
pub const CONFIG_PATH: &str = "config/matrix.toml";

/// Stars run from 1 to this, as in the notes.
pub const MAX_STARS: u8 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid matrix config: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("{path}, row `{row}`: {problem}; see the format at the top of the file")]
    Row {
        path: String,
        row: String,
        problem: String,
    },
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    /// The matrix's columns, in the order the tables show them.
    pub backends: Vec<String>,
    pub paper: PaperConfig,
    #[serde(default, rename = "row")]
    pub rows: Vec<RowConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    /// The winner the notes declared (a column name).
    pub winner: String,
    /// How the notes' columns map onto the backends, and why, in a sentence.
    pub mapping: String,
    /// The notes' matrix columns and the backends each stands for.
    pub columns: BTreeMap<String, Vec<String>>,
    /// The totals the notes printed, as printed (the report checks them against their stars).
    #[serde(default)]
    pub printed_totals: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowConfig {
    pub id: String,
    pub table: RowTable,
    pub criterion: String,
    #[serde(default)]
    pub unit: String,
    /// Per backend: the notes' figure as written.
    #[serde(default)]
    pub paper: BTreeMap<String, String>,
    /// Per column of the notes' matrix.
    #[serde(default)]
    pub paper_stars: BTreeMap<String, u8>,
    pub metric: Option<MetricConfig>,
    pub stars: Option<StarsConfig>,
    pub not_measured: Option<NotMeasuredConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// Dotted path into results.json; `{backend}` is each backend, `*` every key of a map.
    pub path: String,
    /// The unit of the figure at `path` (after `divide_by`).
    pub unit: String,
    /// Path of the figure's 95% interval `[lo, hi]`, in the same unit.
    pub ci: Option<String>,
    /// Path of a figure to divide by (for shares and per-core figures).
    pub divide_by: Option<String>,
    pub aggregate: Option<Aggregate>,
    /// For `score`: the points each name earns (a name not listed earns 0).
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Sum,
    Max,
    Min,
    /// The sum of the points `scores` gives each name reached.
    Score,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarsConfig {
    pub direction: Direction,
    pub relative: Relative,
    /// The figures that earn 2, 3, 4 and 5 stars (in the row's unit, or as multiples of the
    /// best backend's figure).
    pub at: [f64; 4],
    pub weight: f64,
    pub why_thresholds: String,
    pub why_weight: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Lower,
    Higher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relative {
    Absolute,
    ToBest,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotMeasuredConfig {
    pub why: String,
    pub evidence: String,
}

impl MatrixConfig {
    /// Reads and checks the config at `path` (shown in errors as `shown`).
    pub fn load(path: &Path, shown: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.to_owned(),
            source,
        })?;
        Self::parse(&text, shown)
    }

    pub fn parse(text: &str, shown: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: shown.to_owned(),
            source: Box::new(source),
        })?;
        config.check(shown)?;
        Ok(config)
    }

    /// The paper column a backend belongs to.
    pub fn paper_column(&self, backend: &str) -> Option<&str> {
        self.paper
            .columns
            .iter()
            .find(|(_, members)| members.iter().any(|m| m == backend))
            .map(|(column, _)| column.as_str())
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let file = |problem: String| ConfigError::File {
            path: path.to_owned(),
            problem,
        };
        if self.backends.is_empty() {
            return Err(file("`backends` names no backend".into()));
        }
        if !self.paper.columns.contains_key(&self.paper.winner) {
            return Err(file(format!(
                "[paper] winner `{}` is not one of [paper.columns]",
                self.paper.winner
            )));
        }
        if let Some(c) = self
            .paper
            .printed_totals
            .keys()
            .find(|c| !self.paper.columns.contains_key(*c))
        {
            return Err(file(format!(
                "[paper] printed_totals names `{c}`, which is not in [paper.columns]"
            )));
        }
        for (column, members) in &self.paper.columns {
            if let Some(m) = members.iter().find(|m| !self.backends.contains(m)) {
                return Err(file(format!(
                    "[paper.columns] `{column}` names `{m}`, which is not in `backends`"
                )));
            }
        }
        let mut ids = BTreeSet::new();
        for row in &self.rows {
            if !ids.insert(row.id.as_str()) {
                return Err(file(format!("two rows share the id `{}`", row.id)));
            }
            row.check(self).map_err(|problem| ConfigError::Row {
                path: path.to_owned(),
                row: row.id.clone(),
                problem,
            })?;
        }
        Ok(())
    }
}

impl RowConfig {
    fn check(&self, config: &MatrixConfig) -> Result<(), String> {
        match (&self.metric, &self.not_measured) {
            (None, None) => return Err("needs a [row.metric] or a [row.not_measured]".into()),
            (Some(_), Some(_)) => {
                return Err("has both a [row.metric] and a [row.not_measured]".into());
            }
            _ => {}
        }
        if let Some(nm) = &self.not_measured
            && (nm.why.trim().is_empty() || nm.evidence.trim().is_empty())
        {
            return Err("[row.not_measured] needs a `why` and an `evidence`".into());
        }
        if let Some(b) = self.paper.keys().find(|b| !config.backends.contains(b)) {
            return Err(format!("`paper` names `{b}`, which is not in `backends`"));
        }
        for (column, stars) in &self.paper_stars {
            if !config.paper.columns.contains_key(column) {
                return Err(format!(
                    "`paper_stars` names `{column}`, which is not in [paper.columns]"
                ));
            }
            if !(1..=MAX_STARS).contains(stars) {
                return Err(format!("`paper_stars` gives {column} {stars}, not 1..=5"));
            }
        }
        if let Some(metric) = &self.metric {
            self.check_metric(metric)?;
        }
        match (&self.stars, &self.metric) {
            (Some(_), None) => Err("[row.stars] needs a [row.metric] to compute them from".into()),
            (Some(stars), Some(_)) => stars.check(),
            _ => Ok(()),
        }
    }

    fn check_metric(&self, metric: &MetricConfig) -> Result<(), String> {
        if metric.why.trim().is_empty() {
            return Err("[row.metric] needs a `why`".into());
        }
        if units::factor(&metric.unit, &self.unit).is_none() {
            return Err(format!(
                "the metric's unit `{}` does not convert to the row's unit `{}`",
                metric.unit, self.unit
            ));
        }
        let wildcard = metric.path.split('.').any(|s| s == "*");
        match (wildcard, metric.aggregate) {
            (true, None) => return Err("a path with `*` needs an `aggregate`".into()),
            (false, Some(_)) => return Err("`aggregate` needs a path with `*`".into()),
            _ => {}
        }
        let scored = metric.aggregate == Some(Aggregate::Score);
        if scored == metric.scores.is_empty() {
            return Err("`scores` goes with `aggregate = \"score\"`, and only with it".into());
        }
        if wildcard && metric.ci.is_some() {
            return Err("an aggregate has no interval: drop `ci`".into());
        }
        // The notes' figures are compared with the measured ones when they are numbers; a row
        // whose figures are all words ("Low", "Unix-only") shows them beside the measured
        // proxy, uncompared. A mix is a typo.
        let words = self
            .paper
            .values()
            .filter(|t| PaperFigure::parse(t, &self.unit).is_none())
            .count();
        if let Some((backend, text)) = self
            .paper
            .iter()
            .find(|(_, t)| words < self.paper.len() && PaperFigure::parse(t, &self.unit).is_none())
        {
            return Err(format!(
                "the notes' figure for {backend}, {text:?}, is not a number in `{}`; \
                 a row with a metric compares numbers",
                self.unit
            ));
        }
        Ok(())
    }
}

impl StarsConfig {
    fn check(&self) -> Result<(), String> {
        if !self.weight.is_finite() || self.weight < 0.0 {
            return Err(format!("weight {} must be 0 or more", self.weight));
        }
        if self.why_thresholds.trim().is_empty() || self.why_weight.trim().is_empty() {
            return Err("[row.stars] needs `why_thresholds` and `why_weight`".into());
        }
        let ordered = self.at.windows(2).all(|w| match self.direction {
            Direction::Lower => w[0] > w[1],
            Direction::Higher => w[0] < w[1],
        });
        if !ordered || self.at.iter().any(|t| !t.is_finite()) {
            let way = match self.direction {
                Direction::Lower => "fall",
                Direction::Higher => "rise",
            };
            return Err(format!(
                "`at` (the figures for 2, 3, 4, 5 stars) must {way} strictly for direction \
                 {:?}, got {:?}",
                self.direction, self.at
            ));
        }
        Ok(())
    }

    /// Stars for a figure (already divided by the best figure for `to_best`).
    pub fn stars_for(&self, figure: f64) -> u8 {
        let earned = self
            .at
            .iter()
            .filter(|&&t| match self.direction {
                Direction::Lower => figure <= t,
                Direction::Higher => figure >= t,
            })
            .count();
        1 + earned as u8
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Three backends under two of the notes' columns, and three rows: `lat` absolute (lower is
    /// better, with an interval), `cap` relative to the best (higher is better, weight 2), `dbg`
    /// not measurable. Shared by the matrix's tests.
    pub(crate) const CONFIG: &str = r#"
backends = ["a", "b", "c"]
[paper]
winner = "A"
mapping = "one column for a, one for b and c"
[paper.columns]
"A" = ["a"]
"BC" = ["b", "c"]
[[row]]
id = "lat"
table = "decision"
criterion = "Latency"
unit = "µs"
paper = { a = "1ms" }
paper_stars = { "A" = 5, "BC" = 3 }
[row.metric]
path = "backends.{backend}.lat"
unit = "µs"
ci = "backends.{backend}.lat_ci"
why = "w"
[row.stars]
direction = "lower"
relative = "absolute"
at = [400, 300, 200, 100]
weight = 1
why_thresholds = "t"
why_weight = "w"
[[row]]
id = "cap"
table = "extra"
criterion = "Capacity"
unit = "conv/s"
[row.metric]
path = "backends.{backend}.cap"
unit = "conv/s"
why = "w"
[row.stars]
direction = "higher"
relative = "to_best"
at = [0.2, 0.4, 0.6, 0.8]
weight = 2
why_thresholds = "t"
why_weight = "w"
[[row]]
id = "dbg"
table = "decision"
criterion = "Debug"
paper_stars = { "A" = 1, "BC" = 5 }
[row.not_measured]
why = "w"
evidence = "e"
"#;

    pub(crate) fn config() -> MatrixConfig {
        MatrixConfig::parse(CONFIG, "test.toml").unwrap()
    }

    #[test]
    fn the_repositorys_config_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = MatrixConfig::load(&root.join(CONFIG_PATH), CONFIG_PATH).unwrap();
        assert_eq!(config.paper_column("unix"), Some("HTTP IPC"));
        assert_eq!(config.paper_column("napi"), Some("napi-rs"));
    }

    #[test]
    fn stars_follow_the_thresholds_both_ways() {
        let config = config();
        let stars = config.rows[0].stars.as_ref().unwrap();
        let got: Vec<u8> = [50.0, 100.0, 150.0, 250.0, 350.0, 401.0]
            .iter()
            .map(|&f| stars.stars_for(f))
            .collect();
        assert_eq!(got, [5, 5, 4, 3, 2, 1]);
        let higher = config.rows[1].stars.as_ref().unwrap();
        let got: Vec<u8> = [0.1, 0.2, 0.5, 0.79, 1.0]
            .iter()
            .map(|&f| higher.stars_for(f))
            .collect();
        assert_eq!(got, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn mistakes_are_named_with_their_row() {
        let bad = |from: &str, to: &str, expect: &str| {
            assert!(CONFIG.contains(from), "{from} is not in the test config");
            let err = MatrixConfig::parse(&CONFIG.replacen(from, to, 1), "test.toml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{err}");
            assert!(err.contains("`lat`") || err.contains("test.toml"), "{err}");
        };
        bad("[400, 300, 200, 100]", "[100, 200, 300, 400]", "must fall");
        bad("weight = 1", "weight = -1", "0 or more");
        bad("\"A\" = 5", "\"C\" = 5", "not in [paper.columns]");
        bad("\"BC\" = 3", "\"BC\" = 6", "not 1..=5");
        bad("unit = \"µs\"\nci", "unit = \"B\"\nci", "does not convert");
        bad(
            "a = \"1ms\" }",
            "a = \"1ms\", b = \"Low\" }",
            "is not a number",
        );
        bad("a = \"1ms\"", "z = \"1ms\"", "not in `backends`");
        bad("lat\"\nunit", "*.lat\"\nunit", "needs an `aggregate`");
        bad("why_weight = \"w\"", "why_weight = \" \"", "why_weight");
        bad(
            "\"BC\" = [\"b\", \"c\"]",
            "\"BC\" = [\"b\", \"z\"]",
            "not in `backends`",
        );
        bad(
            "winner = \"A\"",
            "winner = \"Z\"",
            "not one of [paper.columns]",
        );
        // The notes' words alone are shown beside a measured proxy, uncompared.
        let words = CONFIG.replacen("a = \"1ms\" }", "a = \"Low\", b = \"High\" }", 1);
        assert!(MatrixConfig::parse(&words, "t").is_ok());
        let twice = CONFIG.replacen("id = \"cap\"", "id = \"lat\"", 1);
        let err = MatrixConfig::parse(&twice, "t").unwrap_err().to_string();
        assert!(err.contains("share the id"), "{err}");
        let neither =
            format!("{CONFIG}[[row]]\nid = \"n\"\ntable = \"extra\"\ncriterion = \"N\"\n");
        let err = MatrixConfig::parse(&neither, "t").unwrap_err().to_string();
        assert!(err.contains("needs a"), "{err}");
    }
}
