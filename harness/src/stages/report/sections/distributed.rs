//! Beyond one machine (docs/distributed.md): external targets with the clock each figure was
//! read on, the external soak's latency drift window by window (the only drift a client sees
//! of a deployment whose memory it cannot read), its crash matrix from outside, and the
//! distributed run's merged figures beside the harness's own client.

use std::collections::BTreeMap;

use contract::results::{
    Applicability, CrashOutcome, LatencyStats, RecoveryKind, Results, SoakDrift,
};

use super::Body;
use crate::stages::report::tables::{Cell, Table};

fn us(s: &Option<LatencyStats>, q: fn(&LatencyStats) -> f64) -> Cell {
    Cell::plain(
        s.as_ref()
            .map_or("—".to_owned(), |s| format!("{:.0} µs", q(s))),
    )
}

/// `None` when the run has neither a measured external target nor a distributed run.
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
    let drifts: Vec<(&String, &SoakDrift)> = results
        .backends
        .iter()
        .filter(|(_, b)| b.external)
        .filter_map(|(name, b)| Some((name, b.soak.as_ref()?.drift.as_ref()?)))
        .collect();
    if !drifts.is_empty() {
        body.before.push(
            "The soak against a deployment the harness did not start: its memory is not this \
             machine's to read, so what it shows is the latency a client saw, window by window \
             (the `text` conversations sent in each; TTFT on the client's clock), and the slope \
             of TTFT after the warm-up. It is reported, not judged."
                .to_owned(),
        );
        body.tables.push(drift_table(&drifts));
        body.items
            .extend(drifts.iter().map(|(name, d)| slope_line(name, d)));
    }
    if let Some(crashed) = external_crash(results) {
        body.before.push(
            "The crash matrix from outside: the faults a client and the mock can play, and the \
             runtime's through the owner's control command; times from the injection (the \
             command's start), on the client's clock. Memory and leftover processes are not \
             this machine's to read."
                .to_owned(),
        );
        body.tables.push(crashed);
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
        if let Some(i) = &d.interleaved {
            body.after.push(format!(
                "The two clients took turns: {}.",
                crate::load::interleaved_line(i)
            ));
        }
    }
    (!body.tables.is_empty()).then_some(body)
}

/// One row per fault of each external target: what a client saw, or why it was not played;
/// `None` when no external target has a crash record.
pub fn external_crash(results: &Results) -> Option<Table> {
    let crashed: Vec<(&String, &BTreeMap<String, CrashOutcome>)> = results
        .backends
        .iter()
        .filter(|(_, b)| b.external && !b.crash.is_empty())
        .map(|(name, b)| (name, &b.crash))
        .collect();
    (!crashed.is_empty()).then(|| crash_table(&crashed))
}

fn crash_table(crashed: &[(&String, &BTreeMap<String, CrashOutcome>)]) -> Table {
    let ms = |v: Option<f64>| Cell::plain(v.map_or("—".to_owned(), |v| format!("{v:.0} ms")));
    let rows = crashed
        .iter()
        .flat_map(|(name, faults)| {
            faults.iter().map(|(fault, o)| {
                let outcome = match o.applicability {
                    Applicability::Measured => match o.survived {
                        Some(true) => "survived",
                        Some(false) => "did not survive",
                        None => "measured",
                    },
                    Applicability::NotApplicable => "not applicable",
                    Applicability::NotMeasured => "not measured",
                };
                let recovery = match o.recovery_kind {
                    Some(RecoveryKind::NotRecovered) => Cell::plain("not recovered"),
                    _ => ms(o.recovery_ms),
                };
                vec![
                    Cell::plain(name.as_str()),
                    Cell::plain(fault.as_str()),
                    Cell::plain(outcome),
                    ms(o.detect_ms),
                    recovery,
                    Cell::plain(o.note.as_deref().unwrap_or("")),
                ]
            })
        })
        .collect();
    Table {
        header: [
            "Target",
            "Fault",
            "Outcome",
            "Detected",
            "Recovered",
            "Note",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

/// One row per window of each soaked target.
fn drift_table(drifts: &[(&String, &SoakDrift)]) -> Table {
    let ms =
        |v: Option<f64>| Cell::plain(v.map_or("—".to_owned(), |v| format!("{:.1} ms", v / 1e3)));
    let rows = drifts
        .iter()
        .flat_map(|(name, d)| {
            d.windows.iter().map(|w| {
                vec![
                    Cell::plain(name.as_str()),
                    Cell::plain(format!("{:.0}–{:.0} s", w.start_s, w.end_s)),
                    Cell::plain(w.conversations.to_string()),
                    Cell::plain(w.errors.to_string()),
                    ms(w.ttft_p50_us),
                    ms(w.ttft_p99_us),
                    ms(w.e2e_p50_us),
                ]
            })
        })
        .collect();
    Table {
        header: [
            "Soaked target",
            "Window",
            "Conversations",
            "Errors",
            "TTFT p50",
            "TTFT p99",
            "End to end p50",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    }
}

/// The TTFT slope after warm-up and its interval, or why there is none.
pub fn slope_line(name: &str, d: &SoakDrift) -> String {
    match (d.ttft_slope_ms_per_h, d.ttft_slope_ci95_ms_per_h) {
        (Some(s), Some([lo, hi])) => format!(
            "{name}: TTFT slope after warm-up {s:+.1} ms/h (95% interval {lo:+.1} to {hi:+.1})"
        ),
        (Some(s), None) => format!("{name}: TTFT slope after warm-up {s:+.1} ms/h"),
        _ => format!("{name}: no TTFT slope (fewer than 3 conversations after warm-up)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{Soak, SoakWindow};

    fn window(start_s: f64, ttft_p50_us: Option<f64>) -> SoakWindow {
        SoakWindow {
            start_s,
            end_s: start_s + 6.0,
            conversations: 12,
            errors: u64::from(ttft_p50_us.is_none()),
            ttft_p50_us,
            ttft_p99_us: ttft_p50_us.map(|v| v * 2.0),
            e2e_p50_us: ttft_p50_us.map(|v| v * 9.0),
        }
    }

    fn results() -> Results {
        serde_json::from_value(serde_json::json!({
            "schema_version": contract::results::SCHEMA_VERSION,
            "run": {"id": "x", "git_sha": "x", "started_at": "x", "profile": "release",
                    "machine": {}, "versions": {}},
            "backends": {}
        }))
        .unwrap()
    }

    fn soak(drift: Option<SoakDrift>) -> Soak {
        Soak {
            minutes: 0.2,
            rate_rps: 2.0,
            requests: 24,
            errors: 1,
            error_kinds: Default::default(),
            rss_slope_mb_per_h: None,
            rss_slope_ci95_mb_per_h: None,
            pss_slope_mb_per_h: None,
            pss_slope_ci95_mb_per_h: None,
            heap_used_slope_mb_per_h: None,
            heap_used_slope_ci95_mb_per_h: None,
            fd_slope_per_h: None,
            fd_slope_ci95_per_h: None,
            passed: false,
            verdict: String::new(),
            samples: Vec::new(),
            not_sampled: None,
            drift,
        }
    }

    #[test]
    fn an_external_soak_shows_its_drift_window_by_window_with_the_slope() {
        let mut results = results();
        let drift = SoakDrift {
            windows: vec![window(0.0, Some(22_400.0)), window(6.0, None)],
            ttft_slope_ms_per_h: Some(3.25),
            ttft_slope_ci95_ms_per_h: Some([-1.5, 8.0]),
        };
        let far = results.backend_mut("far");
        far.external = true;
        far.soak = Some(soak(Some(drift.clone())));
        // A backend the harness started: its soak is the soak section's, not this one's.
        results.backend_mut("near").soak = Some(soak(Some(drift)));
        let body = beyond_one_machine(&results).unwrap();
        let t = &body.tables[0];
        assert_eq!(t.header[0], "Soaked target");
        assert_eq!(t.rows.len(), 2);
        let text = |row: &[Cell]| row.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
        assert_eq!(
            text(&t.rows[0]),
            ["far", "0–6 s", "12", "0", "22.4 ms", "44.8 ms", "201.6 ms"]
        );
        assert_eq!(text(&t.rows[1])[3..], ["1", "—", "—", "—"]);
        assert_eq!(
            body.items,
            ["far: TTFT slope after warm-up +3.2 ms/h (95% interval -1.5 to +8.0)"]
        );
    }

    #[test]
    fn an_external_crash_shows_each_fault_as_a_client_saw_it_or_why_not() {
        use contract::results::Fault;
        let mut results = results();
        let mut killed = CrashOutcome::measured();
        killed.survived = Some(true);
        killed.detect_ms = Some(259.4);
        killed.recovery_ms = Some(632.6);
        killed.recovery_kind = Some(RecoveryKind::SelfHealed);
        let far = results.backend_mut("far");
        far.external = true;
        far.crash.insert(Fault::KillRuntime.name().into(), killed);
        far.crash.insert(
            Fault::Stall.name().into(),
            CrashOutcome::not_applicable("depends on the start flags"),
        );
        // A backend the harness started: its faults are the crash section's.
        results
            .backend_mut("near")
            .crash
            .insert(Fault::Stall.name().into(), CrashOutcome::measured());
        let body = beyond_one_machine(&results).unwrap();
        let t = &body.tables[0];
        assert_eq!(t.header[1], "Fault");
        let text = |row: &[Cell]| row.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
        let rows: Vec<Vec<String>> = t.rows.iter().map(|r| text(r)).collect();
        assert_eq!(
            rows,
            [
                ["far", "kill-runtime", "survived", "259 ms", "633 ms", ""],
                [
                    "far",
                    "stall",
                    "not applicable",
                    "—",
                    "—",
                    "depends on the start flags"
                ],
            ]
        );
    }

    #[test]
    fn a_run_without_anything_beyond_one_machine_has_no_section() {
        let mut results = results();
        results.backend_mut("near").soak = Some(soak(None));
        assert!(beyond_one_machine(&results).is_none());
    }
}
