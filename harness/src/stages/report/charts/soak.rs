//! The soak's charts: each backend's resident memory over the minutes of steady load, and the
//! JavaScript heap in use where there is one, with the end of the warm-up marked and the
//! fitted growth per hour in the legends and the caption.

use anyhow::Result;
use contract::results::{Results, Soak, SoakSample, stages};
use plotters::style::RGBColor;

use super::super::format::and_list;
use super::evidence::{Figure, Targets, absent, get, missing};
use super::{Line, Lines, colour, lines};

/// At most this many points per line: ten minutes at one sample a second would draw 600 dots
/// per backend; each point is the mean of its bucket of samples.
const MAX_POINTS: usize = 120;

pub(super) fn memory(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-soak";
    const TITLE: &str = "Memory of the process tree over the soak";
    let found: Vec<Row<'_>> = t
        .backends
        .iter()
        .enumerate()
        .filter_map(|(i, b)| Some((i, b, get(results, b)?.soak.as_ref()?)))
        .filter(|(_, _, s)| !s.samples.is_empty())
        .collect();
    if found.is_empty() {
        return Ok(missing(ID, TITLE, absent(results, stages::SOAK)));
    }
    let warmup_min = results.soak.as_ref().map(|r| r.warmup_s / 60.0);
    let markers: Vec<_> = warmup_min
        .into_iter()
        .map(|m| (m, colour(0, true)))
        .collect();
    let rows: Vec<&Row<'_>> = found.iter().collect();
    let chart = memory_lines(TITLE, "RSS, MB", &rows, &RSS, &markers);
    // The JavaScript heap in use beside the resident set: a heap that climbs with it is
    // retention, a flat one under a climbing resident set is the allocator
    // (docs/soak.md#the-samples).
    let with_heap: Vec<&Row<'_>> = found
        .iter()
        .filter(|(_, _, s)| s.samples.iter().any(|x| x.heap.is_some()))
        .collect();
    let heap_chart = memory_lines(
        "JavaScript heap in use over the soak",
        "V8 heapUsed, MB",
        &with_heap,
        &HEAP,
        &markers,
    );
    let slopes = slope_texts(&rows, &RSS);
    let failed: Vec<String> = found
        .iter()
        .filter(|(_, _, s)| !s.passed)
        .map(|(_, b, s)| format!("{b} ({})", s.verdict))
        .collect();
    let how = results.soak.as_ref().map_or_else(String::new, |r| {
        let minutes = if r.minutes == 1.0 {
            "minute"
        } else {
            "minutes"
        };
        format!(
            "{} {minutes} at {} conversations/s per backend, the backends side by side; ",
            r.minutes, r.rate_rps
        )
    });
    let judged = results
        .soak
        .as_ref()
        .is_none_or(contract::results::SoakRun::growth_judged);
    let mut caption = if judged {
        format!(
            "{how}growth after warm-up, with its 95% interval: {}.",
            and_list(&slopes)
        )
    } else {
        format!(
            "{how}a warm-up shorter than the {:.0} s a JavaScript heap takes to settle, so the \
             slopes after it ({}) are the runtimes still warming up, not growth: this soak judged \
             errors only (docs/soak.md).",
            contract::results::MIN_JUDGED_WARMUP_S,
            and_list(&slopes)
        )
    };
    if failed.is_empty() {
        caption.push_str(" No backend failed the soak.");
    } else {
        caption.push_str(&format!(" Failed: {}.", and_list(&failed)));
    }
    let heap_slopes = slope_texts(&with_heap, &HEAP);
    if !heap_slopes.is_empty() {
        caption.push_str(&format!(
            " JavaScript heap in use (V8's heapUsed), after warm-up: {}.",
            and_list(&heap_slopes)
        ));
    }
    let mut svgs = vec![lines(&chart)?];
    if !with_heap.is_empty() {
        svgs.push(lines(&heap_chart)?);
    }
    Ok(Figure {
        id: ID,
        title: TITLE,
        svgs,
        caption,
    })
}

/// One backend's soak, with its place in the report's colours.
type Row<'a> = (usize, &'a String, &'a Soak);

/// A fitted growth: MB per hour and its 95% interval.
type Slope = (f64, [f64; 2]);

/// One memory figure of the samples: how to read it from a sample and its fitted slope.
struct Measure {
    value: fn(&SoakSample) -> Option<f64>,
    slope: fn(&Soak) -> Option<Slope>,
}

const RSS: Measure = Measure {
    value: |x| Some(x.rss_bytes as f64),
    slope: |s| Some((s.rss_slope_mb_per_h?, s.rss_slope_ci95_mb_per_h?)),
};
const HEAP: Measure = Measure {
    value: |x| Some(x.heap?.heap_used_bytes as f64),
    slope: |s| {
        Some((
            s.heap_used_slope_mb_per_h?,
            s.heap_used_slope_ci95_mb_per_h?,
        ))
    },
};

/// A line per backend of `measure` over the minutes of load, its slope in the legend.
fn memory_lines(
    title: &str,
    y_desc: &str,
    rows: &[&Row<'_>],
    measure: &Measure,
    markers: &[(f64, RGBColor)],
) -> Lines {
    Lines {
        title: title.into(),
        x_desc: "minutes of steady load (dashed: end of warm-up)".into(),
        y_desc: y_desc.into(),
        x_log: false,
        x_ticks: Vec::new(),
        series: rows
            .iter()
            .map(|(i, b, s)| Line {
                name: match (measure.slope)(s) {
                    Some((v, _)) => format!("{b} ({v:+.1} MB/h)"),
                    None => (*b).clone(),
                },
                colour: colour(*i, false),
                points: points(s, measure.value),
            })
            .collect(),
        markers: markers.to_vec(),
    }
}

/// "backend +slope MB/h [lo, hi]" for each row whose `measure` has a fitted slope.
fn slope_texts(rows: &[&Row<'_>], measure: &Measure) -> Vec<String> {
    rows.iter()
        .filter_map(|(_, b, s)| {
            let (v, [lo, hi]) = (measure.slope)(s)?;
            Some(format!("{b} {v:+.1} MB/h [{lo:+.1}, {hi:+.1}]"))
        })
        .collect()
}

/// The samples' `value` as (minutes, MB) points, averaged into at most [`MAX_POINTS`]
/// buckets; samples without a value are left out of their bucket, and an empty bucket out of
/// the line.
fn points(s: &Soak, value: fn(&SoakSample) -> Option<f64>) -> Vec<(f64, f64, bool)> {
    let per = s.samples.len().div_ceil(MAX_POINTS).max(1);
    s.samples
        .chunks(per)
        .filter_map(|c| {
            let read: Vec<(f64, f64)> = c.iter().filter_map(|x| Some((x.t_s, value(x)?))).collect();
            let n = read.len() as f64;
            (n > 0.0).then(|| {
                let t = read.iter().map(|r| r.0).sum::<f64>() / n / 60.0;
                let mb = read.iter().map(|r| r.1).sum::<f64>() / n / 1e6;
                (t, mb, true)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Results {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/report/hand-written-full/results.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_soak_too_short_to_judge_growth_says_its_slopes_are_warm_up() {
        let mut results = fixture();
        let full = memory(&results, &Targets::of(&results)).unwrap().caption;
        assert!(full.contains("growth after warm-up"), "{full}");
        if let Some(run) = results.soak.as_mut() {
            run.warmup_s = 15.0;
        }
        let quick = memory(&results, &Targets::of(&results)).unwrap().caption;
        assert!(quick.contains("judged errors only"), "{quick}");
        assert!(!quick.contains("growth after warm-up"), "{quick}");
    }

    #[test]
    fn a_sampled_heap_draws_a_chart_of_its_own_and_samples_without_one_are_left_out() {
        let mut results = fixture();
        let none = memory(&results, &Targets::of(&results)).unwrap();
        assert_eq!(none.svgs.len(), 1, "no heap sampled: the RSS chart alone");
        assert!(
            !none.caption.contains("JavaScript heap"),
            "{}",
            none.caption
        );

        let soak = results
            .backends
            .values_mut()
            .find_map(|b| b.soak.as_mut())
            .unwrap();
        let samples = soak.samples.len();
        for (i, x) in soak.samples.iter_mut().enumerate() {
            // Every other sample's heap answer missed its deadline.
            x.heap = (i % 2 == 0).then_some(contract::results::HeapSample {
                runtimes: 1,
                heap_total_bytes: 40_000_000,
                heap_used_bytes: 20_000_000,
                external_bytes: 1_000_000,
                array_buffers_bytes: 100_000,
            });
        }
        soak.heap_used_slope_mb_per_h = Some(1.5);
        soak.heap_used_slope_ci95_mb_per_h = Some([-0.5, 3.5]);
        let heap = points(soak, HEAP.value);
        assert!(!heap.is_empty() && heap.len() <= samples.div_ceil(2));
        assert!(
            heap.iter().all(|(_, mb, _)| (*mb - 20.0).abs() < 1e-9),
            "{heap:?}"
        );

        let both = memory(&results, &Targets::of(&results)).unwrap();
        assert_eq!(both.svgs.len(), 2, "the heap chart beside the RSS chart");
        assert!(
            both.caption.contains("JavaScript heap in use")
                && both.caption.contains("+1.5 MB/h [-0.5, +3.5]"),
            "{}",
            both.caption
        );
    }
}
