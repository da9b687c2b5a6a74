//! The decision matrix: the original notes' guesses beside the measured figures, stars computed
//! from the figures by `config/matrix.toml`, the totals, the winner and how firm that winner is.
//!
//! The method (which figure each row reads, star thresholds, weights, what counts towards the
//! totals) is in `docs/report.md#the-decision-matrix`; the harness's `matrix` module computes
//! this part from the rest of results.json.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The decision matrix. Per-backend maps hold only the backends that have the figure: a
/// backend missing from `measured` was not measured (see `missing` for why), never zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Matrix {
    /// The file the rows, thresholds and weights came from, relative to the repository root.
    pub config: String,
    /// The architectures compared, in the order the tables show them.
    pub backends: Vec<String>,
    pub rows: Vec<MatrixRow>,
    /// Per competing backend: the weighted sum of its stars over the counted rows.
    #[serde(default)]
    pub totals: BTreeMap<String, f64>,
    /// What a backend with five stars on every counted row would total.
    pub max_total: f64,
    /// The one backend with the highest total; absent on a tie or when no row counted.
    pub winner: Option<String>,
    /// Every backend that shares the highest total.
    #[serde(default)]
    pub leaders: Vec<String>,
    /// Backends left out of the totals, and why (failed conformance, not in this run).
    #[serde(default)]
    pub not_competing: BTreeMap<String, String>,
    pub paper: PaperVerdict,
    pub sensitivity: Sensitivity,
}

/// The notes' own matrix, recomputed from their stars.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PaperVerdict {
    /// The notes' matrix columns and the backends each stands for (their "HTTP IPC" column
    /// covers both sidecar sockets).
    pub columns: BTreeMap<String, Vec<String>>,
    /// Why the columns map onto the backends as they do.
    #[serde(default)]
    pub mapping: String,
    /// Per column, over every criterion of the notes' matrix, summed from their stars.
    pub totals: BTreeMap<String, f64>,
    /// The totals the notes printed, which need not be the sums of their stars.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub printed_totals: BTreeMap<String, f64>,
    pub max_total: f64,
    pub winner: Option<String>,
    /// Per column, over only the rows the measured totals count: the like-for-like comparison.
    #[serde(default)]
    pub totals_on_counted: BTreeMap<String, f64>,
    pub winner_on_counted: Option<String>,
}

/// Which of the notes' tables a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RowTable {
    /// "Performance Benchmarks (Expected)": figures, no stars.
    Benchmarks,
    /// "Decision Matrix": stars.
    Decision,
    /// What the notes never asked but the measurements show.
    Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatrixRow {
    /// Stable key of the row (`ipc-overhead`, `latency`, ...).
    pub id: String,
    pub table: RowTable,
    /// The row's name as the notes wrote it.
    pub criterion: String,
    /// Unit of `measured` and `ci95`; empty for rows without a figure.
    pub unit: String,
    /// The path into results.json the figure was read from (`{backend}` stands for each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Why that figure stands for the criterion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_why: Option<String>,
    /// How the figure becomes stars; absent for rows without stars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<Scoring>,
    /// Per backend: the figure the notes guessed, as they wrote it.
    #[serde(default)]
    pub paper: BTreeMap<String, String>,
    /// Per backend: the notes' stars (their "HTTP IPC" stars stand for unix and http).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paper_stars: BTreeMap<String, u8>,
    /// Per backend: the measured figure in `unit`.
    #[serde(default)]
    pub measured: BTreeMap<String, f64>,
    /// Per backend: the 95% interval of `measured`, where the stage gives one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci95: BTreeMap<String, [f64; 2]>,
    /// Per backend: measured ÷ the notes' figure (to the nearer end of a range; 1 inside it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ratio: BTreeMap<String, f64>,
    /// Backends whose measured figure is off the notes' guess by more than 2×, either way (a
    /// guess of zero is off whenever the measured figure is surely above zero).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub off_by_more_than_2x: Vec<String>,
    /// Per backend: stars computed from `measured`.
    #[serde(default)]
    pub stars: BTreeMap<String, u8>,
    /// The row's weight in the totals; absent for rows without stars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Whether the row entered the totals.
    pub counted: bool,
    /// Why a starred row did not enter the totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_counted: Option<String>,
    /// Set for a row this machine cannot measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<NotMeasured>,
    /// Per backend: why a measurable figure is missing in this run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub missing: BTreeMap<String, String>,
}

/// The thresholds of a starred row and the reasons for them, as the config gave them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scoring {
    pub lower_is_better: bool,
    /// Thresholds are multiples of the best backend's figure, not figures in `unit`.
    pub relative_to_best: bool,
    /// The figures that earn 2, 3, 4 and 5 stars.
    pub at: [f64; 4],
    pub why_thresholds: String,
    pub why_weight: String,
}

/// A row the arena cannot measure, and what would settle it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NotMeasured {
    pub why: String,
    pub evidence: String,
}

/// Would the winner change if one weight, or one measured figure, moved?
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sensitivity {
    /// How many single moves were tried (each weight ±1, each figure to either end of its
    /// interval).
    pub moves_tried: u32,
    /// Moves after which the leaders differ.
    #[serde(default)]
    pub winner_changes: Vec<Perturbation>,
    /// Moves that changed some stars but left the leaders as they were.
    #[serde(default)]
    pub star_changes: Vec<Perturbation>,
    /// Counted rows whose figures have no interval (measured once), so they were not moved.
    #[serde(default)]
    pub without_interval: Vec<String>,
}

/// One move and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Perturbation {
    /// The row moved.
    pub row: String,
    #[serde(rename = "move")]
    pub change: Move,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stars_changed: Vec<StarChange>,
    /// The leaders after the move.
    pub leaders: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Move {
    Weight {
        from: f64,
        to: f64,
    },
    /// One backend's figure moved to an end of its 95% interval.
    Value {
        backend: String,
        from: f64,
        to: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StarChange {
    pub backend: String,
    pub from: u8,
    pub to: u8,
}
