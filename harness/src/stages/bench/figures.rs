//! The samples of one target, per hop, for the whole stage and round by round, and what its
//! processes cost while it answered.

use hdrhistogram::Histogram;

use super::observe::{Observation, Samples};
use crate::stats;

pub use contract::results::Hop;

/// One histogram of nanoseconds per hop.
#[derive(Debug, Clone)]
pub struct HopHistograms([Histogram<u64>; 5]);

impl Default for HopHistograms {
    fn default() -> Self {
        Self(std::array::from_fn(|_| stats::histogram()))
    }
}

impl HopHistograms {
    pub fn get(&self, hop: Hop) -> &Histogram<u64> {
        &self.0[hop.index()]
    }

    fn record(&mut self, hop: Hop, ns: u64) {
        stats::record(&mut self.0[hop.index()], ns);
    }

    /// Records the samples of one conversation; text and end-to-end only when it completed
    /// (a conversation that ended in an error has no end to time).
    pub fn add(&mut self, samples: &Samples, completed: bool) {
        if let Some(ns) = samples.request_path {
            self.record(Hop::RequestPath, ns);
        }
        for &ns in &samples.chunk_transit {
            self.record(Hop::ChunkTransit, ns);
        }
        for &ns in &samples.tool_turnaround {
            self.record(Hop::ToolTurnaround, ns);
        }
        if let Some(ns) = samples.ttft {
            self.record(Hop::Ttft, ns);
        }
        if let (Some(ns), true) = (samples.e2e, completed) {
            self.record(Hop::E2e, ns);
        }
    }
}

/// Everything the stage learned about one target.
#[derive(Debug, Clone, Default)]
pub struct TargetFigures {
    pub total: HopHistograms,
    /// Index = round.
    pub rounds: Vec<HopHistograms>,
    pub conversations: u64,
    pub chunks: u64,
    pub failures: Vec<String>,
    pub lost_chunks: u64,
    pub reordered_chunks: u64,
    /// CPU time of the target's processes while it answered, in ms.
    pub cpu_ms: f64,
}

impl TargetFigures {
    /// Records one conversation of round `round`.
    pub fn add(&mut self, round: usize, seen: &Observation, samples: &Samples) {
        if self.rounds.len() <= round {
            self.rounds.resize_with(round + 1, HopHistograms::default);
        }
        let completed = seen.completed();
        self.total.add(samples, completed);
        self.rounds[round].add(samples, completed);
        self.conversations += 1;
        self.chunks += seen.texts.len() as u64;
        self.lost_chunks += samples.lost_chunks;
        self.reordered_chunks += samples.reordered_chunks;
        if let Some(why) = &seen.failure {
            self.failures.push(why.clone());
        }
    }

    /// Appends the rounds of a later batch after this one's (the gate measures in batches).
    pub fn append(&mut self, later: TargetFigures) {
        for hop in Hop::ALL {
            let _ = self.total.0[hop.index()].add(later.total.get(hop));
        }
        self.rounds.extend(later.rounds);
        self.conversations += later.conversations;
        self.chunks += later.chunks;
        self.failures.extend(later.failures);
        self.lost_chunks += later.lost_chunks;
        self.reordered_chunks += later.reordered_chunks;
        self.cpu_ms += later.cpu_ms;
    }

    /// The per-round value of `f` on `hop`, `None` for a round without samples.
    pub fn per_round(&self, hop: Hop, f: impl Fn(&Histogram<u64>) -> f64) -> Vec<Option<f64>> {
        self.rounds
            .iter()
            .map(|r| {
                let h = r.get(hop);
                (!h.is_empty()).then(|| f(h))
            })
            .collect()
    }
}
