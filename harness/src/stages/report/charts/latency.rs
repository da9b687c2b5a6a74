//! The latency charts: overhead over the direct path with intervals, overhead under load with
//! saturation, and the IPC overhead against the transports' floor (the percentile spectrum is
//! `spectrum`).

use anyhow::Result;
use contract::results::{BackendResults, LoadMode, Results};

use super::super::format::{and_list, figure, num, times};
use super::evidence::{
    Figure, HopOf, Points, Targets, absent, each, get, missing, series, single_bars,
};
use super::{Bars, Line, Lines, bars, colour, lines};
use contract::results::stages;

pub(super) fn overhead(results: &Results, t: &Targets) -> Result<Figure> {
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
        return Ok(missing(ID, TITLE, absent(results, stages::BENCH)));
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

pub(super) fn load(results: &Results, t: &Targets) -> Result<Figure> {
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
        return Ok(missing(ID, TITLE, absent(results, stages::BENCH)));
    }
    let index = |b: &str| t.backends.iter().position(|x| x == b).unwrap_or(0);
    let saturation = each(results, &t.backends, |r| r.saturation_rps);
    let saturates = |b: &str| saturation.iter().find(|(n, _)| n == b).map(|(_, rps)| *rps);
    // Still healthy at the load generator's ceiling: its rate is a lower bound, never the
    // backend's figure (docs/bench.md#capacity).
    let lower_bound = |b: &str| {
        get(results, b)
            .and_then(|r| r.capacity.as_ref())
            .is_some_and(|c| c.generator_bound)
    };
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
                    Some(rps) if lower_bound(b) => {
                        format!(
                            "{b} (healthy at {}, the generator's ceiling)",
                            figure(rps, "conv/s")
                        )
                    }
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
        let parts: Vec<String> = sorted
            .iter()
            .map(|(b, rps)| {
                if lower_bound(b) {
                    format!(
                        "{b} at least {} (the load generator's ceiling)",
                        figure(*rps, "conv/s")
                    )
                } else {
                    format!("{b} {}", figure(*rps, "conv/s"))
                }
            })
            .collect();
        format!(
            "Saturation (the highest rate whose p99 chunk overhead stays under the bench's limit \
             with no errors): {}.",
            and_list(&parts)
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

pub(super) fn calibration(results: &Results, t: &Targets) -> Result<Figure> {
    let spec = (
        "chart-calibration",
        "IPC overhead as a multiple of its transport's floor",
        "× the floor",
    );
    let pick = |r: &BackendResults| r.latency.chunk_transit.as_ref()?.ipc_floor_multiple;
    let floor = Some((1.0, "the floor".to_owned()));
    let (mut fig, found) = single_bars(results, t, spec, stages::BENCH, floor, pick)?;
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
    let floors = if floors.is_empty() {
        "not measured".to_owned()
    } else {
        and_list(&floors)
    };
    fig.caption = format!(
        "The floors: {floors}. The IPC overhead per chunk as a multiple of its floor: {}; 1× \
         would be the transport itself and nothing more.",
        and_list(&multiples)
    );
    let without: Vec<String> = t
        .backends
        .iter()
        .filter(|b| !found.iter().any(|(n, _)| n == *b))
        .cloned()
        .collect();
    if !without.is_empty() {
        fig.caption.push_str(&format!(
            " No bar for {}: the bench recorded no floor multiple for it.",
            and_list(&without)
        ));
    }
    Ok(fig)
}
