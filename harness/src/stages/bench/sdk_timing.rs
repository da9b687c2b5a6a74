//! The AI SDK's own reading of the latency rounds: each JavaScript target, started with
//! `ARENA_SDK_TIMING=1`, logs ai@7's timing of every step on a later turn of its event loop
//! (contract::sdk_timing), so the stream being measured never waits for it; the logs are read
//! once the rounds are over, before any load runs (docs/runtimes.md#two-readings-of-ttft-and-chunk-gaps).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use contract::results::SdkStepTiming;
use contract::sdk_timing::{StepTiming, parse_lines};

use crate::stats::median;

/// How long the last steps' lines may take to reach the log after the last round: one more
/// turn of the target's event loop, and for a sidecar the host's forwarding of its stderr.
pub const SETTLE: Duration = Duration::from_millis(300);

/// Each target whose log (`<log_dir>/<target>.stderr.log`) holds timing lines, with their
/// summary; a target without any (no JavaScript, or ai@6) is left out.
pub fn read(log_dir: &Path, targets: &[String]) -> BTreeMap<String, SdkStepTiming> {
    targets
        .iter()
        .filter_map(|name| {
            let log = std::fs::read_to_string(log_dir.join(format!("{name}.stderr.log"))).ok()?;
            Some((name.clone(), summarize(&parse_lines(&log))?))
        })
        .collect()
}

/// Percentiles over the steps, in microseconds; `None` without steps.
pub fn summarize(steps: &[StepTiming]) -> Option<SdkStepTiming> {
    let us = |ms: f64| ms * 1000.0;
    let mut ttfo: Vec<f64> = steps.iter().map(|s| us(s.ttfo_ms)).collect();
    ttfo.sort_by(f64::total_cmp);
    let at = |sorted: &[f64], q: f64| {
        sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
    };
    let gaps = |pick: fn(&contract::sdk_timing::GapStats) -> f64| {
        let values: Vec<f64> = steps
            .iter()
            .filter_map(|s| s.gap_ms.as_ref().map(|g| us(pick(g))))
            .collect();
        median(&values)
    };
    (!ttfo.is_empty()).then(|| SdkStepTiming {
        steps: ttfo.len() as u64,
        ttfo_p50_us: at(&ttfo, 0.5),
        ttfo_p90_us: at(&ttfo, 0.9),
        gap_median_p50_us: gaps(|g| g.median),
        gap_p90_p50_us: gaps(|g| g.p90),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(ttfo_ms: f64, gap_median_ms: Option<f64>) -> StepTiming {
        StepTiming {
            request: None,
            ttfo_ms,
            gap_ms: gap_median_ms.map(|median| contract::sdk_timing::GapStats {
                min: median / 2.0,
                median,
                p90: median * 2.0,
                max: median * 3.0,
            }),
        }
    }

    #[test]
    fn percentiles_over_steps_in_microseconds() {
        let steps: Vec<StepTiming> = (1..=10).map(|i| step(f64::from(i), Some(1.0))).collect();
        let s = summarize(&steps).unwrap();
        assert_eq!(s.steps, 10);
        assert_eq!(s.ttfo_p50_us, 5000.0);
        assert_eq!(s.ttfo_p90_us, 9000.0);
        assert_eq!(s.gap_median_p50_us, Some(1000.0));
        assert_eq!(s.gap_p90_p50_us, Some(2000.0));
    }

    #[test]
    fn steps_without_gaps_leave_the_gaps_out_and_no_steps_give_nothing() {
        let s = summarize(&[step(2.0, None)]).unwrap();
        assert_eq!(s.gap_median_p50_us, None);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn reads_only_the_targets_that_logged_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("unix.stderr.log"),
            "sidecar: sdk-timing {\"request\":\"a\",\"ttfo_ms\":3,\"gap_ms\":null}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("rust-only.stderr.log"), "listening\n").unwrap();
        let names = ["unix", "rust-only", "absent"].map(str::to_owned);
        let read = read(dir.path(), &names);
        assert_eq!(read.keys().collect::<Vec<_>>(), ["unix"]);
        assert_eq!(read["unix"].ttfo_p50_us, 3000.0);
    }
}
