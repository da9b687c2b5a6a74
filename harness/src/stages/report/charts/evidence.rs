//! The report's charts, each with the sentence under it, generated from this run's numbers.
//! A chart whose figures the run lacks becomes a "not measured" note that says why. The
//! latency charts are in [`super::latency`], the cost charts in [`super::cost`], the list of
//! them all in [`super::figures`]; this module holds what they share.

use anyhow::Result;
use contract::results::{BackendResults, LatencyStats, Results, StageSkip};

use super::super::format::{and_list, figure};
use super::{BarSeries, Bars, bars, colour};

/// One figure of the report: its charts and the sentence under them, or why it is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub id: &'static str,
    pub title: &'static str,
    /// The SVGs; empty when not measured.
    pub svgs: Vec<String>,
    /// What the chart shows in this run's numbers, or why it is not there.
    pub caption: String,
}

/// The backends of the run, in the matrix's order, and the bench's references.
#[derive(Debug, Clone)]
pub struct Targets {
    pub backends: Vec<String>,
    pub references: Vec<String>,
}

impl Targets {
    pub fn of(results: &Results) -> Self {
        let backends: Vec<String> = match &results.matrix {
            Some(m) => m.backends.clone(),
            None => results.backends.keys().cloned().collect(),
        };
        let references: Vec<String> = results
            .bench
            .as_ref()
            .map(|b| {
                b.settings
                    .targets
                    .iter()
                    .filter(|t| !backends.contains(t))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let backends = backends
            .into_iter()
            .filter(|b| !references.contains(b))
            .collect();
        Self {
            backends,
            references,
        }
    }
}

/// Every stage skip the run recorded, with its backend; only `stage`'s when given.
pub fn skips<'a>(
    results: &'a Results,
    stage: Option<&'a str>,
) -> impl Iterator<Item = (&'a str, &'a StageSkip)> + 'a {
    results.backends.iter().flat_map(move |(b, r)| {
        r.skipped
            .iter()
            .filter(move |s| stage.is_none_or(|st| s.stage == st))
            .map(move |s| (b.as_str(), s))
    })
}

/// Why a stage's figures are missing: the skips it recorded, or that it did not run.
pub fn absent(results: &Results, stage: &str) -> String {
    let skips: Vec<String> = skips(results, Some(stage))
        .map(|(b, s)| format!("{b} ({})", s.reason))
        .collect();
    if skips.is_empty() {
        format!("Not measured: the {stage} stage recorded nothing for it in this run.")
    } else {
        format!(
            "Not measured: the {stage} stage did not record it here; it skipped {}.",
            and_list(&skips)
        )
    }
}

pub(super) fn missing(id: &'static str, title: &'static str, why: String) -> Figure {
    Figure {
        id,
        title,
        svgs: Vec::new(),
        caption: why,
    }
}

pub(super) fn get<'a>(results: &'a Results, b: &str) -> Option<&'a BackendResults> {
    results.backends.get(b)
}

/// `(backend, value)` for every backend that has the value.
pub(super) fn each<T>(
    results: &Results,
    names: &[String],
    f: impl Fn(&BackendResults) -> Option<T>,
) -> Vec<(String, T)> {
    names
        .iter()
        .filter_map(|b| Some((b.clone(), f(get(results, b)?)?)))
        .collect()
}

pub(super) fn series(
    name: &str,
    i: usize,
    values: Vec<Option<f64>>,
    ci: Vec<Option<[f64; 2]>>,
) -> BarSeries {
    BarSeries {
        name: name.to_owned(),
        colour: colour(i, false),
        values,
        ci,
    }
}

pub(super) fn listing(items: &[Named], unit: &str) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(b, v)| format!("{b} {}", figure(*v, unit)))
        .collect();
    and_list(&parts)
}

/// A backend and one of its figures.
pub(super) type Named = (String, f64);
/// A line's points: x, y, and whether the point is drawn filled.
pub(super) type Points = Vec<(f64, f64, bool)>;
pub(super) type HopOf = fn(&BackendResults) -> Option<&LatencyStats>;

/// "from 171 s (rust-only) to 236 s (napi)", or "24 s for unix, http and napi" when all agree.
pub(super) fn spread(items: &[Named], unit: &str) -> Option<String> {
    let ((lo_b, lo), (hi_b, hi)) = extremes(items)?;
    if lo == hi {
        let names: Vec<String> = items.iter().map(|(b, _)| b.clone()).collect();
        return Some(format!("{} for {}", figure(*lo, unit), and_list(&names)));
    }
    Some(format!(
        "from {} ({lo_b}) to {} ({hi_b})",
        figure(*lo, unit),
        figure(*hi, unit)
    ))
}

pub(super) fn extremes(items: &[Named]) -> Option<(&Named, &Named)> {
    let lo = items.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let hi = items.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some((lo, hi))
}

pub(super) fn single_bars(
    results: &Results,
    t: &Targets,
    (id, title, y_desc): (&'static str, &'static str, &str),
    stage: &str,
    reference: Option<(f64, String)>,
    pick: impl Fn(&BackendResults) -> Option<f64>,
) -> Result<(Figure, Vec<Named>)> {
    let found = each(results, &t.backends, &pick);
    if found.is_empty() {
        return Ok((missing(id, title, absent(results, stage)), found));
    }
    let values = t
        .backends
        .iter()
        .map(|b| get(results, b).and_then(&pick))
        .collect();
    let chart = Bars {
        title: title.into(),
        y_desc: y_desc.into(),
        groups: t.backends.clone(),
        series: vec![series(y_desc, 0, values, Vec::new())],
        reference,
    };
    let svgs = vec![bars(&chart)?];
    Ok((
        Figure {
            id,
            title,
            svgs,
            caption: String::new(),
        },
        found,
    ))
}

/// A figure of one backend, picked out of its results.
pub(super) type Pick = fn(&BackendResults) -> Option<f64>;

/// Bars of several figures side by side per backend (a series per figure that any backend
/// has); `None` when no backend has any.
pub(super) fn grouped(
    results: &Results,
    t: &Targets,
    (title, y_desc): (&str, &str),
    kinds: &[(&str, Pick)],
) -> Result<Option<String>> {
    let value = |b: &String, pick: Pick| get(results, b).and_then(pick);
    let series: Vec<BarSeries> = kinds
        .iter()
        .filter(|(_, pick)| t.backends.iter().any(|b| value(b, *pick).is_some()))
        .enumerate()
        .map(|(i, (name, pick))| {
            let values = t.backends.iter().map(|b| value(b, *pick)).collect();
            series(name, i, values, Vec::new())
        })
        .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let chart = Bars {
        title: title.into(),
        y_desc: y_desc.into(),
        groups: t.backends.clone(),
        series,
        reference: None,
    };
    Ok(Some(bars(&chart)?))
}
