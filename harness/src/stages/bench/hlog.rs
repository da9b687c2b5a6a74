//! Every sample the rounds took, saved in HdrHistogram's interval-log format (one log per
//! target, one interval per round and hop, tagged with the hop's name), so anyone can re-read
//! them with HdrHistogram's own tools or merge runs; [`crate::interval_log::read_merged`] reads
//! one hop back (the report's percentile spectrum).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::figures::{Hop, TargetFigures};

/// Writes `figures` to `path`; `round_spans` are each round's start (from the first round's)
/// and length.
pub fn write(
    path: &Path,
    target: &str,
    figures: &TargetFigures,
    round_spans: &[(Duration, Duration)],
) -> Result<()> {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "arena bench: {target}; one interval per round and hop, values in nanoseconds"
        ))
        .with_start_time(SystemTime::now())
        .with_max_value_divisor(1_000.0);
    let mut log = builder
        .begin_log_with(&mut file, &mut serializer)
        .context("cannot start the histogram log")?;
    for (round, hops) in figures.rounds.iter().enumerate() {
        let Some(&(start, length)) = round_spans.get(round) else {
            continue;
        };
        for hop in Hop::ALL {
            let h = hops.get(hop);
            if h.is_empty() {
                continue;
            }
            log.write_histogram(h, start, length, Tag::new(hop.name()))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval_log::read_merged;
    use crate::stages::bench::observe::{Observation, Samples};
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn one_tagged_interval_per_round_and_hop_reads_back() {
        let mut figures = TargetFigures::default();
        for round in 0..2 {
            let samples = Samples {
                chunk_transit: vec![1_000, 2_000],
                ttft: Some(9_000),
                ..Samples::default()
            };
            figures.add(round, &Observation::default(), &samples);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hlog");
        let spans = [
            (Duration::ZERO, Duration::from_secs(1)),
            (Duration::from_secs(1), Duration::from_secs(1)),
        ];
        write(&path, "x", &figures, &spans).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let tags: Vec<String> = IntervalLogIterator::new(&bytes)
            .filter_map(|e| match e.unwrap() {
                LogEntry::Interval(i) => i.tag().map(|t| t.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(tags, ["chunk_transit", "ttft", "chunk_transit", "ttft"]);
        let merged = read_merged(&path, Hop::ChunkTransit).unwrap();
        assert_eq!(merged.len(), 4, "both rounds' chunk transits");
        assert_eq!(merged.max(), 2_000);
        assert!(
            read_merged(&path, Hop::ToolTurnaround).is_err(),
            "no such interval"
        );
    }
}
