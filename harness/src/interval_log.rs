//! The bench's histogram logs read back: HdrHistogram's interval-log format, one interval per
//! round and hop, tagged with the hop's name (the bench writes them, `bench::hlog`). Its own
//! module so the report, which draws the percentile spectrum from them, reads a run's files
//! without importing the stage that wrote them.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use contract::results::Hop;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

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
