//! The soak's chart: each backend's resident memory over the minutes of steady load, with the
//! end of the warm-up marked, and the fitted growth per hour in the legend and the caption.

use anyhow::Result;
use contract::results::{Results, Soak, stages};

use super::super::format::and_list;
use super::evidence::{Figure, Targets, absent, get, missing};
use super::{Line, Lines, colour, lines};

/// At most this many points per line: ten minutes at one sample a second would draw 600 dots
/// per backend; each point is the mean of its bucket of samples.
const MAX_POINTS: usize = 120;

pub(super) fn memory(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-soak";
    const TITLE: &str = "Memory of the process tree over the soak";
    let found: Vec<(usize, &String, &Soak)> = t
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
    let chart = Lines {
        title: TITLE.into(),
        x_desc: "minutes of steady load (dashed: end of warm-up)".into(),
        y_desc: "RSS, MB".into(),
        x_log: false,
        x_ticks: Vec::new(),
        series: found
            .iter()
            .map(|(i, b, s)| Line {
                name: match s.rss_slope_mb_per_h {
                    Some(v) => format!("{b} ({v:+.1} MB/h)"),
                    None => (*b).clone(),
                },
                colour: colour(*i, false),
                points: points(s),
            })
            .collect(),
        markers: warmup_min
            .into_iter()
            .map(|m| (m, colour(0, true)))
            .collect(),
    };
    // The JavaScript heap in use beside the resident set: a heap that climbs with it is
    // retention, a flat one under a climbing resident set is the allocator
    // (docs/soak.md#the-samples).
    let with_heap: Vec<&(usize, &String, &Soak)> = found
        .iter()
        .filter(|(_, _, s)| s.samples.iter().any(|x| x.heap.is_some()))
        .collect();
    let heap_chart = Lines {
        title: "JavaScript heap in use over the soak".into(),
        x_desc: "minutes of steady load (dashed: end of warm-up)".into(),
        y_desc: "V8 heapUsed, MB".into(),
        x_log: false,
        x_ticks: Vec::new(),
        series: with_heap
            .iter()
            .map(|(i, b, s)| Line {
                name: match s.heap_used_slope_mb_per_h {
                    Some(v) => format!("{b} ({v:+.1} MB/h)"),
                    None => (*b).clone(),
                },
                colour: colour(*i, false),
                points: heap_points(s),
            })
            .collect(),
        markers: chart.markers.clone(),
    };
    let slopes: Vec<String> = found
        .iter()
        .filter_map(|(_, b, s)| {
            let v = s.rss_slope_mb_per_h?;
            let [lo, hi] = s.rss_slope_ci95_mb_per_h?;
            Some(format!("{b} {v:+.1} MB/h [{lo:+.1}, {hi:+.1}]"))
        })
        .collect();
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
        .is_none_or(|r| r.warmup_s >= crate::soak::fit::MIN_JUDGED_WARMUP_S);
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
            crate::soak::fit::MIN_JUDGED_WARMUP_S,
            and_list(&slopes)
        )
    };
    if failed.is_empty() {
        caption.push_str(" No backend failed the soak.");
    } else {
        caption.push_str(&format!(" Failed: {}.", and_list(&failed)));
    }
    let heap_slopes: Vec<String> = with_heap
        .iter()
        .filter_map(|(_, b, s)| {
            let v = s.heap_used_slope_mb_per_h?;
            let [lo, hi] = s.heap_used_slope_ci95_mb_per_h?;
            Some(format!("{b} {v:+.1} MB/h [{lo:+.1}, {hi:+.1}]"))
        })
        .collect();
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

/// The samples' heap in use as (minutes, MB) points, bucketed as [`points`]; samples without a
/// heap answer are left out of their bucket.
fn heap_points(s: &Soak) -> Vec<(f64, f64, bool)> {
    let per = s.samples.len().div_ceil(MAX_POINTS).max(1);
    s.samples
        .chunks(per)
        .filter_map(|c| {
            let heaps: Vec<(f64, u64)> = c
                .iter()
                .filter_map(|x| Some((x.t_s, x.heap?.heap_used_bytes)))
                .collect();
            let n = heaps.len() as f64;
            (n > 0.0).then(|| {
                let t = heaps.iter().map(|h| h.0).sum::<f64>() / n / 60.0;
                let mb = heaps.iter().map(|h| h.1 as f64).sum::<f64>() / n / 1e6;
                (t, mb, true)
            })
        })
        .collect()
}

/// The samples as (minutes, MB) points, averaged into at most [`MAX_POINTS`] buckets.
fn points(s: &Soak) -> Vec<(f64, f64, bool)> {
    let per = s.samples.len().div_ceil(MAX_POINTS).max(1);
    s.samples
        .chunks(per)
        .map(|c| {
            let n = c.len() as f64;
            let t = c.iter().map(|x| x.t_s).sum::<f64>() / n / 60.0;
            let mb = c.iter().map(|x| x.rss_bytes as f64).sum::<f64>() / n / 1e6;
            (t, mb, true)
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
}
