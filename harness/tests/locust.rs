//! The distributed load proven on loopback (docs/distributed.md#proof-on-loopback): a Locust
//! master and two local workers against `rust-only` and `unix` started here, their merged
//! figures beside the harness's own client at the same rate; and a worker killed mid-run is
//! reported (lost share, figures marked partial), never silently dropped.
//!
//! Ignored by default: it installs the pinned Locust from PyPI into `.venv/` on first use and
//! takes minutes. Run it with `cargo test -p harness --test locust -- --ignored --test-threads 1`.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::StandaloneMock;
use contract::results::Distributed;
use harness::external;
use harness::load::run::{self, Options};
use harness::run_dir::RunDir;
use harness::stages::bench::confine;
use sut_kit::orchestrate::BackendInstance;

/// The agreement between Locust's merged figures and the harness's own client.
const AGREEMENT: f64 = 0.15;
/// A rate both clients and both debug backends hold on the two-core machine (the proof's).
const RATE_RPS: f64 = 10.0;
/// Each client's arrivals, in [`WINDOWS`] turns of 5 s each (docs/distributed.md#agreement-between-the-clients).
const SECONDS: f64 = 40.0;
const WINDOWS: u32 = 8;

/// The backend on the last CPU and this process (the harness's client, Locust's master and
/// workers, which inherit its mask) on the others, as the bench confines them: unpinned, a
/// Node backend's gap p99 moved 15-38 ms between runs of the same client.
async fn start_pinned(name: &str, mock: &StandaloneMock, dir: &std::path::Path) -> BackendInstance {
    let instance = common::start_backend(name, mock, dir, &["--rate-limit", "off"]).await;
    let sut = confine::default_sut_cpus();
    let pids = harness::procfs::tree(instance.process.pgid(), instance.ready().runtime_pid);
    confine::pin(&pids, &sut).unwrap();
    confine::pin(&[std::process::id()], &confine::client_cpus(&sut)).unwrap();
    instance
}

async fn drive(
    name: &str,
    mock: &StandaloneMock,
    seconds: f64,
    kill_after: Option<Duration>,
) -> Distributed {
    let root = sut_kit::repo_root();
    let dir = tempfile::tempdir().unwrap();
    let instance = start_pinned(name, mock, dir.path()).await;
    let opts = Options {
        ctx: harness::stages::Context::new(root.clone()),
        target: external::parse_target(&format!("{name}={}", instance.url())).unwrap(),
        mock_url: mock.url.clone(),
        workers: 2,
        rate_rps: RATE_RPS,
        seconds,
        master: None,
        kill_worker_after: kill_after,
        harness_client: kill_after.is_none(),
        windows: WINDOWS,
    };
    run::check_inputs(&opts).await.unwrap();
    let mut folder = RunDir::create(dir.path(), &root, "debug").unwrap();
    let figures = run::run(&mut folder, &opts).await.unwrap();
    instance.stop().await;
    let violations = harness::schema::file_violations(&folder.path.join("results.json")).unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    figures
}

async fn agrees(name: &str) {
    let mock = StandaloneMock::start();
    let d = drive(name, &mock, SECONDS, None).await;
    assert_eq!((d.workers, d.workers_reported), (2, 2), "{d:?}");
    assert!(!d.partial && d.lost.workers == 0, "{d:?}");
    assert_eq!((d.errors, d.lost_chunks), (0, 0), "{d:?}");
    let own = d.harness_client.as_ref().unwrap();
    let (ttft, own_ttft) = (d.ttft_us.as_ref().unwrap(), own.ttft_us.as_ref().unwrap());
    let (gap, own_gap) = (d.gap_us.as_ref().unwrap(), own.gap_us.as_ref().unwrap());
    eprintln!(
        "{name}: TTFT p50 {:.0} / {:.0} µs, gap p99 {:.0} / {:.0} µs (locust / harness)",
        ttft.p50_us, own_ttft.p50_us, gap.p99_us, own_gap.p99_us
    );
    let turns = d.interleaved.as_ref().unwrap();
    eprintln!("{name}: {}", harness::load::interleaved_line(turns));
    for p in &turns.pairs {
        eprintln!("{name}: window {p:?}");
    }
    // Pair by pair, the clients may differ by the 15%, or by as much as the harness's
    // own client moved from one window to the next where the machine moved more than that.
    let ttft_bound = AGREEMENT.max(turns.ttft_p50_window_to_window.median);
    let gap_bound = AGREEMENT.max(turns.gap_p99_window_to_window.median);
    eprintln!("{name}: bounds TTFT p50 ±{ttft_bound:.3}, gap p99 ±{gap_bound:.3}");
    assert!(
        turns.ttft_p50.median.abs() <= ttft_bound,
        "TTFT p50 {turns:?}"
    );
    assert!(turns.gap_p99.median.abs() <= gap_bound, "gap p99 {turns:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "installs Locust from PyPI and runs for minutes: see the module's comment"]
async fn two_workers_agree_with_the_harness_client_on_rust_only() {
    agrees("rust-only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "installs Locust from PyPI and runs for minutes: see the module's comment"]
async fn two_workers_agree_with_the_harness_client_on_unix() {
    agrees("unix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "installs Locust from PyPI and runs for minutes: see the module's comment"]
async fn a_worker_killed_mid_run_is_reported_lost_and_the_run_partial() {
    let mock = StandaloneMock::start();
    let d = drive("rust-only", &mock, 10.0, Some(Duration::from_secs(4))).await;
    assert_eq!((d.workers, d.workers_reported), (2, 1), "{d:?}");
    assert!(d.partial, "{d:?}");
    assert_eq!(d.lost.workers, 1, "{d:?}");
    assert!(
        d.lost.share > 0.0 && d.lost.share < 1.0,
        "a share of the schedule, not all or none: {d:?}"
    );
    assert!(d.completed > 0 && d.completed < d.scheduled, "{d:?}");
}
