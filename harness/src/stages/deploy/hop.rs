//! What the container topology adds to chunk transit: the deployed architecture (published
//! port, container network, a second container for the sidecar) against the same backend
//! started on plain loopback, in interleaved rounds whose order is shuffled, each round's two
//! p50s paired so a noisy moment of the shared machine weighs on both (docs/deploy.md#run).

use contract::results::ContainerHop;
use sut_kit::mock::Mock;

use crate::external::measure;
use crate::progress::Progress;
use crate::stats;

/// Rounds and conversations per side per round: the bench's own (6 × 4 quick, 10 × 8 full;
/// docs/bench.md#workload), so the hop's interval is read as the bench's overheads are. Each
/// conversation is the bench's text workload, about a quarter second.
const ROUNDS: usize = 10;
const QUICK_ROUNDS: usize = 6;
const PER_ROUND: usize = 8;
const QUICK_PER_ROUND: usize = 4;
/// Fixed, so a run's order of sides can be replayed.
const ORDER_SEED: u64 = 25;

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub rounds: usize,
    pub per_round: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                rounds: QUICK_ROUNDS,
                per_round: QUICK_PER_ROUND,
            }
        } else {
            Self {
                rounds: ROUNDS,
                per_round: PER_ROUND,
            }
        }
    }
}

const CONTAINER: &str = "container";
const LOOPBACK: &str = "loopback";

/// Interleaved rounds against `container_url` and `loopback_url`; `None` when no round gave
/// both sides a transit figure (the mock's clock is the client's: both run on this host).
/// `label` goes into every conversation's tag: the mock keeps every request of the run, and a
/// tag used twice would join a chunk with an earlier conversation's send.
pub async fn measure(
    http: &reqwest::Client,
    mock: &Mock,
    label: &str,
    container_url: &str,
    loopback_url: &str,
    plan: Plan,
    progress: &Progress,
) -> Option<ContainerHop> {
    let sides = [CONTAINER.to_owned(), LOOPBACK.to_owned()];
    let mut container = Vec::new();
    let mut loopback = Vec::new();
    let run_tag = format!("deploy.{}.{label}", std::process::id());
    for (round, order) in stats::round_orders(&sides, plan.rounds, ORDER_SEED)
        .into_iter()
        .enumerate()
    {
        let (mut c, mut l) = (None, None);
        for side in order {
            progress.note(format!("hop round {}/{}: {side}", round + 1, plan.rounds));
            let url = if side == CONTAINER {
                container_url
            } else {
                loopback_url
            };
            let tag = format!("{run_tag}.{side}.r{round}.");
            let (_, transit) =
                measure::sequential(http, url, mock, true, plan.per_round, &tag, progress).await;
            let p50 = (!transit.is_empty()).then(|| stats::quantile_us(&transit, 0.5));
            if side == CONTAINER {
                c = p50;
            } else {
                l = p50;
            }
        }
        container.push(c);
        loopback.push(l);
    }
    summarize(&container, &loopback, plan.per_round)
}

/// The paired estimate from each round's two p50s.
pub fn summarize(
    container: &[Option<f64>],
    loopback: &[Option<f64>],
    per_round: usize,
) -> Option<ContainerHop> {
    let estimate = stats::paired_difference(container, loopback, ORDER_SEED)?;
    let flat = |v: &[Option<f64>]| v.iter().flatten().copied().collect::<Vec<f64>>();
    Some(ContainerHop {
        added_us: estimate.median,
        ci95_us: estimate.ci95,
        container_p50_us: stats::median(&flat(container))?,
        loopback_p50_us: stats::median(&flat(loopback))?,
        rounds: u32::try_from(estimate.rounds).unwrap_or(u32::MAX),
        conversations_per_round: u32::try_from(per_round).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hop_is_the_median_of_paired_round_differences() {
        let c = [Some(150.0), Some(400.0), Some(160.0), None];
        let l = [Some(100.0), Some(120.0), Some(100.0), Some(90.0)];
        let hop = summarize(&c, &l, 6).unwrap();
        // Differences 50, 280, 60 (the round without a container figure is left out).
        assert_eq!(hop.added_us, 60.0);
        assert_eq!(hop.rounds, 3);
        assert_eq!(hop.container_p50_us, 160.0);
        assert_eq!(hop.loopback_p50_us, 100.0);
        let [low, high] = hop.ci95_us.unwrap();
        assert!(low <= 60.0 && 60.0 <= high);
    }

    #[test]
    fn no_paired_round_is_no_figure() {
        assert_eq!(summarize(&[None], &[Some(1.0)], 6), None);
    }
}
