//! The report's charts, each with the sentence under it, generated from this run's numbers.
//! A chart whose figures the run lacks becomes a "not measured" note that says why.

use anyhow::Result;
use contract::results::{BackendResults, LatencyStats, LoadMode, Results};

use super::super::format::{and_list, figure, num, times};
use super::{BarSeries, Bars, Line, Lines, bars, colour, lines};

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

pub fn all(results: &Results) -> Result<Vec<Figure>> {
    let t = Targets::of(results);
    Ok(vec![
        overhead(results, &t)?,
        spectrum(results, &t)?,
        load(results, &t)?,
        cpu(results, &t)?,
        memory(results, &t)?,
        build(results, &t)?,
        calibration(results, &t)?,
    ])
}

/// Why a stage's figures are missing: the skips it recorded, or that it did not run.
pub fn absent(results: &Results, stage: &str) -> String {
    let skips: Vec<String> = results
        .backends
        .iter()
        .flat_map(|(b, r)| {
            r.skipped
                .iter()
                .filter(|s| s.stage == stage)
                .map(move |s| format!("{b} ({})", s.reason))
        })
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

fn missing(id: &'static str, title: &'static str, why: String) -> Figure {
    Figure {
        id,
        title,
        svgs: Vec::new(),
        caption: why,
    }
}

fn get<'a>(results: &'a Results, b: &str) -> Option<&'a BackendResults> {
    results.backends.get(b)
}

/// `(backend, value)` for every backend that has the value.
fn each<T>(
    results: &Results,
    names: &[String],
    f: impl Fn(&BackendResults) -> Option<T>,
) -> Vec<(String, T)> {
    names
        .iter()
        .filter_map(|b| Some((b.clone(), f(get(results, b)?)?)))
        .collect()
}

fn series(name: &str, i: usize, values: Vec<Option<f64>>, ci: Vec<Option<[f64; 2]>>) -> BarSeries {
    BarSeries {
        name: name.to_owned(),
        colour: colour(i, false),
        values,
        ci,
    }
}

fn listing(items: &[Named], unit: &str) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(b, v)| format!("{b} {}", figure(*v, unit)))
        .collect();
    and_list(&parts)
}

/// A backend and one of its figures.
type Named = (String, f64);
/// A line's points: x, y, and whether the point is drawn filled.
type Points = Vec<(f64, f64, bool)>;
type HopOf = fn(&BackendResults) -> Option<&LatencyStats>;

/// "from 171 s (rust-only) to 236 s (napi)", or "24 s for unix, http and napi" when all agree.
fn spread(items: &[Named], unit: &str) -> Option<String> {
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

fn extremes(items: &[Named]) -> Option<(&Named, &Named)> {
    let lo = items.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let hi = items.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some((lo, hi))
}

fn overhead(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-overhead";
    const TITLE: &str = "Overhead over the direct path, with 95% intervals";
    let hops: [(&str, HopOf); 2] = [
        ("per chunk (chunk transit)", |r| {
            r.latency.chunk_transit.as_ref()
        }),
        ("to the first text (TTFT)", |r| r.latency.ttft.as_ref()),
    ];
    let mut svgs = Vec::new();
    let mut sentences = Vec::new();
    for (hop, pick) in hops {
        let found = each(results, &t.backends, |r| {
            let s = pick(r)?;
            Some((s.overhead_p50_us?, s.overhead_p50_ci95_us))
        });
        if found.is_empty() {
            continue;
        }
        let value = |b: &String| found.iter().find(|(n, _)| n == b).map(|(_, v)| *v);
        let chart = Bars {
            title: format!("p50 overhead {hop}"),
            y_desc: "µs over direct".into(),
            groups: t.backends.clone(),
            series: vec![series(
                "p50 overhead",
                0,
                t.backends.iter().map(|b| value(b).map(|v| v.0)).collect(),
                t.backends
                    .iter()
                    .map(|b| value(b).and_then(|v| v.1))
                    .collect(),
            )],
            reference: None,
        };
        svgs.push(bars(&chart)?);
        let items: Vec<String> = found
            .iter()
            .map(|(b, (v, ci))| match ci {
                Some([lo, hi]) => format!("{b} {} ({}–{})", figure(*v, "µs"), num(*lo), num(*hi)),
                None => format!("{b} {}", figure(*v, "µs")),
            })
            .collect();
        sentences.push(format!(
            "{}, the p50 overhead is {}.",
            capitalise(hop),
            and_list(&items)
        ));
    }
    if svgs.is_empty() {
        return Ok(missing(ID, TITLE, absent(results, "bench")));
    }
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs,
        caption: sentences.join(" "),
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// Percentiles of a hop as `(1/(1-q), µs)`: p50, p90, p99, p99.9, and the maximum at
/// `1/(1-q) = n` (the last of n samples) where n is past p99.9.
fn spectrum_points(s: &LatencyStats) -> Points {
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

fn spectrum(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-spectrum";
    const TITLE: &str = "Percentile spectrum of chunk transit";
    let names: Vec<String> = t.backends.iter().chain(&t.references).cloned().collect();
    let found = each(results, &names, |r| r.latency.chunk_transit.clone());
    if found.is_empty() {
        return Ok(missing(ID, TITLE, absent(results, "bench")));
    }
    let series = found
        .iter()
        .map(|(b, s)| Line {
            name: b.clone(),
            colour: colour(
                t.backends.iter().position(|x| x == b).unwrap_or(0),
                t.references.contains(b),
            ),
            points: spectrum_points(s),
        })
        .collect();
    let max_n = found.iter().map(|(_, s)| s.n).max().unwrap_or(0);
    let mut ticks = vec![
        (2.0, "50%".to_owned()),
        (10.0, "90%".into()),
        (100.0, "99%".into()),
        (1000.0, "99.9%".into()),
    ];
    if max_n > 10_000 {
        ticks.push((10_000.0, "99.99%".into()));
    }
    let chart = Lines {
        title: TITLE.into(),
        x_desc: "percentile (log scale on 1/(1-q))".into(),
        y_desc: "µs from the mock's send to the client".into(),
        x_log: true,
        x_ticks: ticks,
        series,
        markers: Vec::new(),
    };
    let backends: Vec<Named> = found
        .iter()
        .filter(|(b, _)| t.backends.contains(b))
        .map(|(b, s)| (b.clone(), s.p50_us))
        .collect();
    let mut caption = String::new();
    if let Some(((lo_b, lo), (hi_b, hi))) = extremes(&backends) {
        caption.push_str(&format!(
            "At the median a chunk takes from {} ({lo_b}) to {} ({hi_b}). ",
            figure(*lo, "µs"),
            figure(*hi, "µs")
        ));
    }
    let tails: Vec<Named> = found
        .iter()
        .filter(|(b, _)| t.backends.contains(b))
        .map(|(b, s)| (b.clone(), s.p999_us / s.p50_us))
        .collect();
    if let Some((_, (b, ratio))) = extremes(&tails) {
        let s = &found.iter().find(|(n, _)| n == b).map(|(_, s)| s.clone());
        if let Some(s) = s {
            caption.push_str(&format!(
                "The longest tail is {b}'s: p99.9 {} is {} its median.",
                figure(s.p999_us, "µs"),
                times(*ratio)
            ));
        }
    }
    if let Some((r, s)) = found.iter().find(|(b, _)| t.references.contains(b)) {
        caption.push_str(&format!(
            " The reference {r} reads {} at the median.",
            figure(s.p50_us, "µs")
        ));
    }
    if max_n <= 1000 {
        caption.push_str(" With 1,000 samples or fewer the maximum is not drawn past p99.9.");
    }
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs: vec![lines(&chart)?],
        caption,
    })
}

fn load(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-load";
    const TITLE: &str = "Chunk overhead under open-loop load, and saturation";
    let found = each(results, &t.backends, |r| {
        let points: Points = r
            .load
            .iter()
            .filter(|p| p.mode == LoadMode::Open)
            .filter_map(|p| Some((p.achieved, p.chunk_overhead_p99_us?, !p.generator_behind)))
            .collect();
        (!points.is_empty()).then_some(points)
    });
    if found.is_empty() {
        return Ok(missing(ID, TITLE, absent(results, "bench")));
    }
    let index = |b: &str| t.backends.iter().position(|x| x == b).unwrap_or(0);
    let saturation = each(results, &t.backends, |r| r.saturation_rps);
    let saturates = |b: &str| saturation.iter().find(|(n, _)| n == b).map(|(_, rps)| *rps);
    let chart = Lines {
        title: TITLE.into(),
        x_desc: "conversations per second achieved (dashed: saturation)".into(),
        y_desc: "p99 chunk overhead, µs".into(),
        x_log: false,
        x_ticks: Vec::new(),
        series: found
            .iter()
            .map(|(b, points)| Line {
                name: match saturates(b) {
                    Some(rps) => format!("{b} (saturates at {})", figure(rps, "conv/s")),
                    None => b.clone(),
                },
                colour: colour(index(b), false),
                points: points.clone(),
            })
            .collect(),
        markers: saturation
            .iter()
            .map(|(b, rps)| (*rps, colour(index(b), false)))
            .collect(),
    };
    let mut caption = if saturation.is_empty() {
        "No backend recorded a saturation rate.".to_owned()
    } else {
        let mut sorted = saturation.clone();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        format!(
            "Saturation (the highest rate whose p99 chunk overhead stays under the bench's limit \
             with no errors): {}.",
            listing(&sorted, "conv/s")
        )
    };
    let behind: usize = found
        .iter()
        .map(|(_, p)| p.iter().filter(|x| !x.2).count())
        .sum();
    if behind > 0 {
        caption.push_str(&format!(
            " Hollow points ({behind}) are rates where the load generator fell behind its own \
             schedule: their latency is the machine's, not the backend's."
        ));
    }
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs: vec![lines(&chart)?],
        caption,
    })
}

fn single_bars(
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

fn cpu(results: &Results, t: &Targets) -> Result<Figure> {
    let spec = (
        "chart-cpu",
        "CPU time per 1,000 chunks",
        "CPU ms per 1,000 chunks",
    );
    let pick = |r: &BackendResults| r.cpu.as_ref().map(|c| c.ms_per_1000_chunks);
    let (mut fig, found) = single_bars(results, t, spec, "bench", None, pick)?;
    if let Some(((lo_b, lo), (hi_b, hi))) = extremes(&found) {
        fig.caption = format!(
            "The backend's whole process tree used {} of CPU per 1,000 chunks: {hi_b} costs {} \
             as much as {lo_b}, the cheapest.",
            listing(&found, "ms"),
            times(hi / lo),
        );
    }
    Ok(fig)
}

/// A figure of one backend, picked out of its results.
type Pick = fn(&BackendResults) -> Option<f64>;

/// Bars of several figures side by side per backend (a series per figure that any backend
/// has); `None` when no backend has any.
fn grouped(
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

fn in_mib(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / 1_048_576.0)
}

fn memory(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-memory";
    const TITLE: &str = "Memory of the process tree, idle and at the peak of the bench";
    let kinds: [(&str, Pick); 4] = [
        ("RSS idle", |r| in_mib(r.memory.as_ref()?.rss_idle_bytes)),
        ("RSS peak", |r| in_mib(r.memory.as_ref()?.rss_peak_bytes)),
        ("PSS idle", |r| in_mib(r.memory.as_ref()?.pss_idle_bytes)),
        ("PSS peak", |r| in_mib(r.memory.as_ref()?.pss_peak_bytes)),
    ];
    let Some(svg) = grouped(results, t, (TITLE, "MiB"), &kinds)? else {
        return Ok(missing(ID, TITLE, absent(results, "bench")));
    };
    let mut caption = String::new();
    if let Some(phrase) = spread(&each(results, &t.backends, kinds[0].1), "MiB") {
        caption.push_str(&format!("Idle, the resident set runs {phrase}. "));
    }
    if let Some(phrase) = spread(&each(results, &t.backends, kinds[1].1), "MiB") {
        caption.push_str(&format!("At the bench's peak it runs {phrase}. "));
    }
    caption.push_str(
        "PSS splits pages shared between processes, so it is the fairer sum for two-process \
         backends.",
    );
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs: vec![svg],
        caption,
    })
}

fn build(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-build";
    const TITLE: &str = "Build times: clean, incremental, install";
    let kinds: [(&str, Pick); 3] = [
        ("clean", |r| r.build.as_ref()?.clean_s),
        ("incremental", |r| r.build.as_ref()?.incremental_s),
        ("install", |r| r.build.as_ref()?.install_s),
    ];
    let Some(svg) = grouped(results, t, (TITLE, "seconds"), &kinds)? else {
        return Ok(missing(ID, TITLE, absent(results, "build")));
    };
    let parts: Vec<String> = kinds
        .iter()
        .filter_map(|(name, pick)| {
            let phrase = spread(&each(results, &t.backends, pick), "s")?;
            Some(format!("{name} {phrase}"))
        })
        .collect();
    let caption = format!(
        "Measured once each on this machine: {}. A backend without an install bar installs no npm \
         packages or was not timed.",
        and_list(&parts)
    );
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs: vec![svg],
        caption,
    })
}

fn calibration(results: &Results, t: &Targets) -> Result<Figure> {
    let spec = (
        "chart-calibration",
        "IPC overhead as a multiple of its transport's floor",
        "× the floor",
    );
    let pick = |r: &BackendResults| r.latency.chunk_transit.as_ref()?.ipc_floor_multiple;
    let floor = Some((1.0, "the floor".to_owned()));
    let (mut fig, found) = single_bars(results, t, spec, "bench", floor, pick)?;
    if found.is_empty() {
        return Ok(fig);
    }
    let c = results.calibration.as_ref();
    let floors: Vec<String> = [
        c.and_then(|c| c.uds_rtt_us).map(|r| {
            format!(
                "a Unix-socket round trip {} (p99 {})",
                figure(r.p50, "µs"),
                figure(r.p99, "µs")
            )
        }),
        c.and_then(|c| c.tcp_rtt_us).map(|r| {
            format!(
                "a loopback TCP round trip {} (p99 {})",
                figure(r.p50, "µs"),
                figure(r.p99, "µs")
            )
        }),
        c.and_then(|c| c.napi_call_ns)
            .map(|ns| format!("one napi call {}", figure(ns, "ns"))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let multiples: Vec<String> = found
        .iter()
        .map(|(b, m)| format!("{b} {}", times(*m)))
        .collect();
    fig.caption = format!(
        "The floors: {}. Each backend's IPC overhead per chunk is {} its floor; 1× would be the \
         transport itself and nothing more.",
        if floors.is_empty() {
            "not measured".to_owned()
        } else {
            and_list(&floors)
        },
        and_list(&multiples)
    );
    Ok(fig)
}
