//! The percentile spectrum of chunk transit, read as HdrHistogram plots are: x is 1/(1-q) on a
//! log scale, so p50, p90, p99 and p99.9 sit a decade apart and the tail gets the room. Drawn
//! from the bench's histogram logs (every sample); from the five percentiles results.json holds
//! when a run folder has no log.

use std::path::Path;

use anyhow::Result;
use contract::results::{LatencyStats, Results};

use super::super::format::{and_list, figure, times};
use super::evidence::{Figure, Named, Points, Targets, absent, each, extremes, missing};
use super::{Line, Lines, colour, lines};
use crate::interval_log;
use crate::stats;
use contract::results::Hop;

/// Points per decade of 1/(1-q) on a curve drawn from a log: smooth at the chart's width.
const POINTS_PER_DECADE: f64 = 10.0;

/// The curve of one target: from its histogram log where the run folder has it (every sample),
/// else from results.json's percentiles. `Err` says why the log could not be used.
fn curve(run: Option<&Path>, s: &LatencyStats) -> (Points, Result<(), String>) {
    let Some((run, log)) = run.zip(s.histogram_log.as_deref()) else {
        return (from_percentiles(s), Err("no histogram log".into()));
    };
    match interval_log::read_merged(&run.join(log), Hop::ChunkTransit) {
        Ok(h) => (from_histogram(&h), Ok(())),
        Err(e) => (from_percentiles(s), Err(format!("{e:#}"))),
    }
}

/// `(1/(1-q), µs)` from p50 (x = 2) up to the last sample (x = n), evenly on the log scale.
fn from_histogram(h: &hdrhistogram::Histogram<u64>) -> Points {
    let n = h.len() as f64;
    let mut points: Points = (0..)
        .map(|k| 2.0 * 10f64.powf(f64::from(k) / POINTS_PER_DECADE))
        .take_while(|x| *x < n)
        .map(|x| (x, stats::quantile_us(h, 1.0 - 1.0 / x), true))
        .collect();
    points.push((n.max(2.0), h.max() as f64 / 1000.0, true));
    points
}

/// p50, p90, p99, p99.9, and the maximum at `1/(1-q) = n` (the last of n samples) where n is
/// past p99.9.
fn from_percentiles(s: &LatencyStats) -> Points {
    let mut points = vec![
        (2.0, s.p50_us, true),
        (10.0, s.p90_us, true),
        (100.0, s.p99_us, true),
        (1000.0, s.p999_us, true),
    ];
    if s.n > 1000 {
        points.push((s.n as f64, s.max_us, true));
    }
    points
}

pub(super) fn spectrum(results: &Results, t: &Targets, run: Option<&Path>) -> Result<Figure> {
    const ID: &str = "chart-spectrum";
    const TITLE: &str = "Percentile spectrum of chunk transit";
    let names: Vec<String> = t.backends.iter().chain(&t.references).cloned().collect();
    let found = each(results, &names, |r| r.latency.chunk_transit.clone());
    if found.is_empty() {
        return Ok(missing(
            ID,
            TITLE,
            absent(results, contract::results::stages::BENCH),
        ));
    }
    let mut unread: Vec<(String, Vec<String>)> = Vec::new();
    let series = found
        .iter()
        .map(|(b, s)| {
            let (points, read) = curve(run, s);
            if let Err(why) = read {
                match unread.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, names)) => names.push(b.clone()),
                    None => unread.push((why, vec![b.clone()])),
                }
            }
            let colour = match t.references.iter().position(|r| r == b) {
                Some(i) => colour(i, true),
                None => colour(t.backends.iter().position(|x| x == b).unwrap_or(0), false),
            };
            Line {
                name: b.clone(),
                colour,
                points,
            }
        })
        .collect();
    let max_n = found.iter().map(|(_, s)| s.n).max().unwrap_or(0);
    let ticks = [
        (2.0, "50%"),
        (10.0, "90%"),
        (100.0, "99%"),
        (1000.0, "99.9%"),
    ]
    .into_iter()
    .chain((max_n > 10_000).then_some((10_000.0, "99.99%")))
    .map(|(x, label)| (x, label.to_owned()))
    .collect();
    let chart = Lines {
        title: TITLE.into(),
        x_desc: "percentile (log scale on 1/(1-q))".into(),
        y_desc: "µs from the mock's send to the client".into(),
        x_log: true,
        x_ticks: ticks,
        series,
        markers: Vec::new(),
    };
    let mut caption = caption(&found, t);
    if unread.is_empty() {
        caption.push_str(" Every sample, from the bench's histogram logs.");
    } else {
        let why: Vec<String> = unread
            .iter()
            .map(|(why, names)| format!("{why} for {}", and_list(names)))
            .collect();
        caption.push_str(&format!(
            " Drawn from results.json's five percentiles where no histogram log could be read: {}.",
            why.join("; ")
        ));
    }
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs: vec![lines(&chart)?],
        caption,
    })
}

fn caption(found: &[(String, LatencyStats)], t: &Targets) -> String {
    let backends = || found.iter().filter(|(b, _)| t.backends.contains(b));
    let medians: Vec<Named> = backends().map(|(b, s)| (b.clone(), s.p50_us)).collect();
    let mut caption = String::new();
    if let Some(((lo_b, lo), (hi_b, hi))) = extremes(&medians) {
        caption.push_str(&format!(
            "At the median a chunk takes from {} ({lo_b}) to {} ({hi_b}).",
            figure(*lo, "µs"),
            figure(*hi, "µs")
        ));
    }
    let tails: Vec<Named> = backends()
        .map(|(b, s)| (b.clone(), s.p999_us / s.p50_us))
        .collect();
    if let Some((_, (b, ratio))) = extremes(&tails)
        && let Some((_, s)) = found.iter().find(|(n, _)| n == b)
    {
        caption.push_str(&format!(
            " The longest tail is {b}'s: p99.9 {} is {} its median.",
            figure(s.p999_us, "µs"),
            times(*ratio)
        ));
    }
    if let Some((r, s)) = found.iter().find(|(b, _)| t.references.contains(b)) {
        caption.push_str(&format!(
            " The reference {r} reads {} at the median.",
            figure(s.p50_us, "µs")
        ));
    }
    caption
}
