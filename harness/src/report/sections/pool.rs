//! The sidecar pool (docs/pool.md): capacity, streams held and chunk overhead with 1, 2 and 4
//! sidecars, against the notes' "1 sidecar per 100 concurrent users".

use contract::results::{PoolStudy, Results};

use super::{Body, opt};
use crate::report::format::num;
use crate::report::tables::{Cell, Table};

/// `None` when the run's bench had no `--pool`.
pub fn sidecar_pool(results: &Results) -> Option<Body> {
    let study = results.bench.as_ref()?.pool.as_ref()?;
    let mut body = Body::default();
    body.before.push(format!(
        "Each backend that runs Node sidecars, measured with {} sidecars on the system under \
         test's CPUs ({}) by the load stage's method. Streams held = capacity × the \
         conversation's {} ms (Little's law): the concurrent streams before the p99 chunk \
         overhead passes {} µs. The notes guessed {} per sidecar.",
        study
            .sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        study
            .sut_cpus
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        num(study.conversation_ms),
        num(study.overhead_limit_us),
        study.notes_streams_per_sidecar,
    ));
    body.tables.push(table(study));
    if study.rows.is_empty() {
        body.after
            .push("No backend of this run took `--sidecars`: no row.".to_owned());
    }
    Some(body)
}

fn table(study: &PoolStudy) -> Table {
    let rows = study
        .rows
        .iter()
        .map(|r| {
            let capacity = match (r.capacity_rps, r.generator_bound) {
                (Some(c), Some(true)) => format!("≥ {}/s", num(c)),
                (Some(c), _) => format!("{}/s", num(c)),
                (None, _) => "—".to_owned(),
            };
            let closed = r
                .closed
                .iter()
                .map(|p| format!("{} at {}", opt(p.chunk_overhead_p99_us, "µs"), p.in_flight))
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                Cell::plain(&r.backend),
                Cell::plain(r.sidecars.to_string()),
                Cell::plain(capacity),
                Cell::plain(
                    r.capacity_vs_one
                        .map_or("—".to_owned(), |v| format!("{v:.2}×")),
                ),
                Cell::plain(opt(r.streams_held, "")),
                Cell::plain(opt(r.streams_held_per_sidecar, "")),
                Cell::plain(if closed.is_empty() {
                    "—".to_owned()
                } else {
                    closed
                }),
                Cell::plain(opt(r.cpu_ms_per_conversation, "ms")),
                Cell::plain(opt(r.peak_rss_mib, "MiB")),
            ]
        })
        .collect();
    Table {
        header: [
            "Backend",
            "Sidecars",
            "Capacity",
            "vs one",
            "Streams held",
            "per sidecar",
            "p99 chunk overhead, closed loop (in flight)",
            "CPU per conversation",
            "Peak RSS",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}
