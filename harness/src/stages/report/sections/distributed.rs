//! Beyond one machine (docs/distributed.md): external targets with the clock each figure was
//! read on, and the distributed run's merged figures beside the harness's own client.

use contract::results::{LatencyStats, Results};

use super::Body;
use crate::stages::report::tables::{Cell, Table};

fn us(s: &Option<LatencyStats>, q: fn(&LatencyStats) -> f64) -> Cell {
    Cell::plain(
        s.as_ref()
            .map_or("—".to_owned(), |s| format!("{:.0} µs", q(s))),
    )
}

/// `None` when the run has neither an external target nor a distributed run.
pub fn beyond_one_machine(results: &Results) -> Option<Body> {
    let mut body = Body::default();
    let external: Vec<Vec<Cell>> = results
        .backends
        .iter()
        .filter_map(|(name, b)| Some((name, b.external_figures.as_ref()?)))
        .map(|(name, f)| {
            vec![
                Cell::plain(name),
                Cell::plain(&f.url),
                Cell::plain(if f.shared_clock {
                    "shared"
                } else {
                    "client only"
                }),
                us(&f.ttft_us, |s| s.p50_us),
                us(&f.e2e_us, |s| s.p50_us),
                us(&f.gap_us, |s| s.p99_us),
                us(&f.chunk_transit_us, |s| s.p50_us),
                Cell::plain(f.capacity_rps.map_or("—".to_owned(), |r| format!("{r}/s"))),
            ]
        })
        .collect();
    if !external.is_empty() {
        body.before.push(
            "Deployments the harness did not start, measured after the conformance suite passed \
             against their URL. TTFT, end to end and the gap are on the client's clock; chunk \
             transit joins the mock's and is shown only where the two share a clock."
                .to_owned(),
        );
        body.tables.push(Table {
            header: [
                "Target",
                "URL",
                "Clock",
                "TTFT p50",
                "End to end p50",
                "Gap p99",
                "Transit p50",
                "Highest rate held",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: external,
        });
    }
    if let Some(d) = results.load.as_ref().and_then(|l| l.distributed.as_ref()) {
        body.before.push(format!(
            "{}; every figure merged from the workers' raw samples.",
            d.headline()
        ));
        let mut rows = vec![vec![
            Cell::plain("workers, merged"),
            Cell::plain(d.completed.to_string()),
            Cell::plain(d.errors.to_string()),
            us(&d.ttft_us, |s| s.p50_us),
            us(&d.ttft_us, |s| s.p99_us),
            us(&d.gap_us, |s| s.p50_us),
            us(&d.gap_us, |s| s.p99_us),
        ]];
        if let Some(h) = &d.harness_client {
            rows.push(vec![
                Cell::plain("the harness's own"),
                Cell::plain((h.conversations - h.errors).to_string()),
                Cell::plain(h.errors.to_string()),
                us(&h.ttft_us, |s| s.p50_us),
                us(&h.ttft_us, |s| s.p99_us),
                us(&h.gap_us, |s| s.p50_us),
                us(&h.gap_us, |s| s.p99_us),
            ]);
        }
        body.tables.push(Table {
            header: [
                "Client",
                "Completed",
                "Errors",
                "TTFT p50",
                "TTFT p99",
                "Gap p50",
                "Gap p99",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
        });
    }
    (!body.tables.is_empty()).then_some(body)
}
