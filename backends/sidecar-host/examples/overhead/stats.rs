//! Histograms per path and the report: each path's figures, and its overhead over the direct
//! path split into the hop (echo sidecar) and the AI SDK (real sidecar minus echo).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// Three significant figures: 1 µs resolution up to 1 ms, as fine as the clock read warrants.
const SIGNIFICANT_FIGURES: u8 = 3;

#[derive(Debug)]
pub struct Figures {
    pub request_path: Histogram<u64>,
    pub chunk_transit: Histogram<u64>,
    pub lost: u64,
}

impl Default for Figures {
    fn default() -> Self {
        let new = || Histogram::new(SIGNIFICANT_FIGURES).unwrap_or_else(|e| panic!("{e}"));
        Self {
            request_path: new(),
            chunk_transit: new(),
            lost: 0,
        }
    }
}

impl Figures {
    pub fn record(&mut self, request_path_ns: u64, transits_ns: impl Iterator<Item = u64>) {
        let _ = self.request_path.record(request_path_ns.max(1));
        for t in transits_ns {
            let _ = self.chunk_transit.record(t.max(1));
        }
    }
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1_000.0
}

fn p50_diff(a: &Histogram<u64>, b: &Histogram<u64>) -> f64 {
    us(a, 0.5) - us(b, 0.5)
}

/// Markdown: one table per concurrency, then the split.
pub fn report(results: &BTreeMap<(usize, String), Figures>, paths: &[String]) -> String {
    let mut out = String::new();
    let levels: Vec<usize> = {
        let mut l: Vec<usize> = results.keys().map(|(c, _)| *c).collect();
        l.dedup();
        l
    };
    for c in levels {
        let Some(direct) = results.get(&(c, "direct".to_owned())) else {
            continue;
        };
        out.push_str(&format!(
            "\n### concurrency {c}\n\n| path | requests | request path p50 / p99 (µs) | chunk transit p50 / p90 / p99 (µs) | overhead p50: request / chunk (µs) |\n|---|---|---|---|---|\n"
        ));
        for path in paths {
            let Some(f) = results.get(&(c, path.clone())) else {
                continue;
            };
            out.push_str(&format!(
                "| {path} | {} | {:.0} / {:.0} | {:.0} / {:.0} / {:.0} | {:+.0} / {:+.0} |\n",
                f.request_path.len(),
                us(&f.request_path, 0.5),
                us(&f.request_path, 0.99),
                us(&f.chunk_transit, 0.5),
                us(&f.chunk_transit, 0.9),
                us(&f.chunk_transit, 0.99),
                p50_diff(&f.request_path, &direct.request_path),
                p50_diff(&f.chunk_transit, &direct.chunk_transit),
            ));
        }
        out.push_str(
            "\nsplit of the p50 overhead (µs): hop = echo - direct, AI SDK = full - echo\n\n",
        );
        for transport in ["unix", "http"] {
            let (Some(echo), Some(full)) = (
                results.get(&(c, format!("{transport}-echo"))),
                results.get(&(c, format!("{transport}-full"))),
            ) else {
                continue;
            };
            out.push_str(&format!(
                "- {transport}: request path: hop {:+.0}, AI SDK {:+.0}; per chunk: hop {:+.0}, AI SDK {:+.0}\n",
                p50_diff(&echo.request_path, &direct.request_path),
                p50_diff(&full.request_path, &echo.request_path),
                p50_diff(&echo.chunk_transit, &direct.chunk_transit),
                p50_diff(&full.chunk_transit, &echo.chunk_transit),
            ));
        }
    }
    out
}
