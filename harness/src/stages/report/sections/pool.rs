//! The sidecar pool (docs/pool.md): capacity, streams held and chunk overhead with 1, 2 and 4
//! sidecars, against the notes' "1 sidecar per 100 concurrent users".

use contract::results::{PoolStudy, Results};

use super::{Body, opt};
use crate::stages::report::format::num;
use crate::stages::report::tables::{Cell, Table};

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
            let capacity = match (r.capacity_rps, r.generator_bound, r.capacity_rps_ci95) {
                (Some(c), Some(true), _) => format!("≥ {}/s", num(c)),
                (Some(c), _, Some([lo, hi])) => {
                    format!("{}/s [{}, {}]", num(c), num(lo), num(hi))
                }
                (Some(c), _, None) => format!("{}/s", num(c)),
                (None, _, _) => "—".to_owned(),
            };
            let closed = r
                .closed
                .iter()
                .map(|p| {
                    format!(
                        "{} at {} ({} errors, {} lost chunks)",
                        opt(p.chunk_overhead_p99_us, "µs"),
                        p.in_flight,
                        p.errors,
                        p.lost_chunks
                    )
                })
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

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{BenchRun, Machine, PoolRow, RunInfo, Versions};

    fn results(pool: Option<PoolStudy>) -> Results {
        let mut r = Results::new(RunInfo {
            id: "t".into(),
            git_sha: "abc".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            profile: "debug".into(),
            machine: Machine::default(),
            versions: Versions::default(),
            runtimes: Default::default(),
        });
        r.bench = Some(BenchRun {
            pool,
            ..BenchRun::default()
        });
        r
    }

    fn row(sidecars: u32, capacity: Option<f64>, generator_bound: bool) -> PoolRow {
        PoolRow {
            backend: "unix".into(),
            sidecars,
            target: contract::results::stages::pool_target("unix", sidecars),
            capacity_rps: capacity,
            capacity_rps_ci95: capacity
                .filter(|_| !generator_bound)
                .map(|c| [c / 2.0, c * 2.0]),
            generator_bound: capacity.map(|_| generator_bound),
            streams_held: None,
            streams_held_per_sidecar: None,
            capacity_vs_one: None,
            closed: Vec::new(),
            cpu_ms_per_conversation: None,
            peak_rss_mib: None,
        }
    }

    #[test]
    fn the_section_shows_a_lower_bound_as_such_and_an_absent_capacity_as_absent() {
        assert!(sidecar_pool(&results(None)).is_none());
        let study = PoolStudy {
            sizes: vec![1, 2, 4],
            overhead_limit_us: 10_000.0,
            conversation_ms: 210.0,
            notes_streams_per_sidecar: 100,
            sut_cpus: vec![1],
            rows: vec![
                row(1, Some(40.0), false),
                row(2, Some(80.0), true),
                row(4, None, false),
            ],
        };
        let body = sidecar_pool(&results(Some(study))).unwrap();
        let cells: Vec<String> = body.tables[0]
            .rows
            .iter()
            .map(|r| r[2].text.clone())
            .collect();
        assert_eq!(cells, ["40/s [20, 80]", "≥ 80/s", "—"]);
    }
}
