//! The distributed load proven on loopback (docs/distributed.md#proof-on-loopback): a Locust
//! master and two local workers against `rust-only` and `unix` started here, their merged
//! figures beside the harness's own client at the same rate; and a worker killed mid-run is
//! reported (lost share, figures marked partial), never silently dropped.
//!
//! Ignored by default: it installs the pinned Locust from PyPI into `.venv/` on first use and
//! takes minutes. Run it with `cargo test -p harness --test locust -- --ignored --test-threads 1`.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use contract::ready::ReadyLine;
use contract::results::Distributed;
use harness::external;
use harness::load::run::{self, Options};
use harness::run_dir::RunDir;
use harness::stages::bench::confine;
use sut_kit::manifest;
use sut_kit::orchestrate::{self, BackendInstance, InstanceOptions, StartSettings};

/// Far above what a debug backend needs to start on a loaded machine; only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(120);
/// The agreement between Locust's merged figures and the harness's own client.
const AGREEMENT: f64 = 0.15;
/// A rate both clients and both debug backends hold on the two-core machine (the proof's).
const RATE_RPS: f64 = 10.0;
const SECONDS: f64 = 20.0;

/// `harness mock --listen 127.0.0.1:0` and the URL of its ready line.
struct StandaloneMock {
    child: std::process::Child,
    url: String,
}

impl StandaloneMock {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(sut_kit::repo_root())
            .args(["mock", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready =
            ReadyLine::parse(line.trim()).unwrap_or_else(|| panic!("not a ready line: {line:?}"));
        Self {
            child,
            url: ready.url,
        }
    }
}

impl Drop for StandaloneMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The backend on the last CPU and this process (the harness's client, Locust's master and
/// workers, which inherit its mask) on the others, as the bench confines them: unpinned, a
/// Node backend's gap p99 moved 15-38 ms between runs of the same client.
async fn start_pinned(name: &str, mock: &StandaloneMock, dir: &std::path::Path) -> BackendInstance {
    let root = sut_kit::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let backend = manifest::select(all, &[name.to_owned()]).unwrap();
    let settings = StartSettings::new(&root, "debug", format!("{}/v1", mock.url), HANG_GUARD);
    let options = InstanceOptions {
        extra_args: vec!["--rate-limit".to_owned(), "off".to_owned()],
        instance: None,
    };
    let instance = orchestrate::start_backend(&backend[0], &settings, &options, dir)
        .await
        .unwrap();
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
    };
    run::check_inputs(&opts).await.unwrap();
    let mut folder = RunDir::create(dir.path(), &root, "debug").unwrap();
    let figures = run::run(&mut folder, &opts).await.unwrap();
    instance.stop().await;
    let violations = harness::schema::file_violations(&folder.path.join("results.json")).unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    figures
}

fn within(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= AGREEMENT * theirs
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
    assert!(within(ttft.p50_us, own_ttft.p50_us), "TTFT p50 {d:?}");
    assert!(within(gap.p99_us, own_gap.p99_us), "gap p99 {d:?}");
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
