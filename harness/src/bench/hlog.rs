//! Every sample the rounds took, saved in HdrHistogram's interval-log format (one log per
//! target, one interval per round and hop, tagged with the hop's name), so anyone can re-read
//! them with HdrHistogram's own tools or merge runs; [`read_merged`] reads one hop back (the
//! report's percentile spectrum).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

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

/// Every interval of `hop` in the log at `path`, merged: the whole stage's samples of that
/// hop, in nanoseconds.
pub fn read_merged(path: &Path, hop: Hop) -> Result<Histogram<u64>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut merged = crate::stats::histogram();
    let mut deserializer = Deserializer::new();
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry
            .map_err(|e| anyhow::anyhow!("{} is not an interval log: {e:?}", path.display()))?;
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        if interval.tag().map(|t| t.as_str()) != Some(hop.name()) {
            continue;
        }
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .with_context(|| format!("{}: an interval is not base64", path.display()))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut encoded.as_slice())
            .map_err(|e| {
                anyhow::anyhow!("{}: an interval does not decode: {e:?}", path.display())
            })?;
        merged
            .add(&h)
            .with_context(|| format!("{}: an interval does not merge", path.display()))?;
        intervals += 1;
    }
    if intervals == 0 {
        bail!("{} has no {} interval", path.display(), hop.name());
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::observe::{Observation, Samples};
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
