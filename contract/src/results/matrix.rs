//! The decision matrix: the paper's guesses beside the measured figures.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The decision matrix: the paper's guesses next to the measured figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Matrix {
    pub rows: Vec<MatrixRow>,
    #[serde(default)]
    pub totals: BTreeMap<String, f64>,
    pub winner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatrixRow {
    pub criterion: String,
    pub unit: String,
    /// Per backend: the figure the original notes guessed, as they wrote it.
    #[serde(default)]
    pub paper: BTreeMap<String, String>,
    /// Per backend: the measured figure in `unit`; absent where not measured.
    #[serde(default)]
    pub measured: BTreeMap<String, f64>,
    #[serde(default)]
    pub stars: BTreeMap<String, u8>,
}
