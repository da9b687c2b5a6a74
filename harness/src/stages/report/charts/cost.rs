//! The cost charts: CPU per 1,000 chunks, memory idle and at the peak, build times.

use anyhow::Result;
use contract::results::{BackendResults, Results};

use super::super::format::{and_list, times};
use super::evidence::{
    Figure, Pick, Targets, absent, each, extremes, grouped, listing, missing, single_bars, spread,
};
use contract::results::stages;

pub(super) fn cpu(results: &Results, t: &Targets) -> Result<Figure> {
    let spec = (
        "chart-cpu",
        "CPU time per 1,000 chunks",
        "CPU ms per 1,000 chunks",
    );
    let pick = |r: &BackendResults| r.cpu.as_ref().map(|c| c.ms_per_1000_chunks);
    let (mut fig, found) = single_bars(results, t, spec, stages::BENCH, None, pick)?;
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

fn in_mib(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / 1_048_576.0)
}

pub(super) fn memory(results: &Results, t: &Targets) -> Result<Figure> {
    const ID: &str = "chart-memory";
    const TITLE: &str = "Memory of the process tree, idle and at the peak of the bench";
    let kinds: [(&str, Pick); 4] = [
        ("RSS idle", |r| in_mib(r.memory.as_ref()?.rss_idle_bytes)),
        ("RSS peak", |r| in_mib(r.memory.as_ref()?.rss_peak_bytes)),
        ("PSS idle", |r| in_mib(r.memory.as_ref()?.pss_idle_bytes)),
        ("PSS peak", |r| in_mib(r.memory.as_ref()?.pss_peak_bytes)),
    ];
    let Some(svg) = grouped(results, t, (TITLE, "MiB"), &kinds)? else {
        return Ok(missing(ID, TITLE, absent(results, stages::BENCH)));
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

pub(super) fn build(results: &Results, t: &Targets) -> Result<Figure> {
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
