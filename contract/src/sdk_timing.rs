//! The AI SDK's own timing of each step (ai@7's `performance.timeToFirstOutputMs` and
//! `timeBetweenOutputChunksMs`), carried out of a JavaScript target as one log line per step so
//! that reading it costs the measured stream nothing: the harness reads the lines from the
//! target's log after the latency rounds (docs/runtimes.md#two-readings-of-ttft-and-chunk-gaps).

use serde::Deserialize;

/// Set to `1` in a target's environment, its chat function logs each step's timing.
pub const SDK_TIMING_ENV: &str = "ARENA_SDK_TIMING";

/// What opens a timing line (the JSON of [`StepTiming`] follows on the same line), wherever the
/// host puts its JavaScript's log lines.
pub const SDK_TIMING_LINE: &str = "sdk-timing ";

/// ai@7's statistics of the gaps between a step's output chunks, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct GapStats {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

/// One step's timing as the JavaScript writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepTiming {
    /// The request id of the chat the step belongs to.
    pub request: Option<String>,
    /// From the step's provider call to its first output chunk.
    pub ttfo_ms: f64,
    /// Absent for a step with fewer than two output chunks.
    pub gap_ms: Option<GapStats>,
}

/// The timing lines of a log, in order; other lines (and a line cut by a kill) are skipped. The
/// JSON is read up to its end: a host may append fields of its own (` member=0 pid=12`).
pub fn parse_lines(log: &str) -> Vec<StepTiming> {
    log.lines()
        .filter_map(|line| {
            let at = line.find(SDK_TIMING_LINE)?;
            let json = &line[at + SDK_TIMING_LINE.len()..];
            serde_json::Deserializer::from_str(json)
                .into_iter::<StepTiming>()
                .next()?
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lines_wherever_the_host_prefixed_them_and_skips_the_rest() {
        let log = "sidecar[12]: listening\n\
                   2026-12-06T21:00:00Z INFO sidecar[12]: sdk-timing {\"request\":\"r1\",\"ttfo_ms\":1.5,\"gap_ms\":{\"min\":0.9,\"p10\":1,\"median\":1.1,\"avg\":1.2,\"p90\":1.4,\"max\":3}}\n\
                   sdk-timing {\"request\":null,\"ttfo_ms\":2,\"gap_ms\":null} member=0 pid=12\n\
                   sdk-timing {\"request\":\"r3\",\"ttfo";
        let steps = parse_lines(log);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].request.as_deref(), Some("r1"));
        assert_eq!(steps[0].gap_ms.unwrap().median, 1.1);
        assert_eq!(steps[1].ttfo_ms, 2.0);
        assert!(steps[1].gap_ms.is_none());
    }
}
