//! The bench stage end to end on a real backend (debug builds): a quick bench of one backend
//! whose results.json validates against reports/schema.json (every backend is measured by
//! `compare --quick`'s bench stage, which CI runs: docs/bench.md#tests); and bad input: an
//! unknown backend, a backend that failed conformance, a malformed `--inject-delay-us`, a mock
//! that dies mid-run, the harness itself SIGKILLed. Each ends with a clear message (exit 2) and
//! no process left.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use contract::ready::ReadyLine;
use contract::results::{CaseResult, Conformance, LoadMode, Outcome};
use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::bench;
use sut_kit::manifest::{self, Backend};

/// Far above what a debug backend needs to start on a loaded machine; only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn backends(names: &[&str]) -> Vec<Backend> {
    let all = manifest::discover(&sut_kit::repo_root().join("backends")).unwrap();
    let wanted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    manifest::select(all, &wanted).unwrap()
}

fn options(force: bool, load: bool) -> bench::Options {
    bench::Options {
        rounds: Some(2),
        load,
        ..bench::Options::new(&Context {
            quick: true,
            force,
            explicit: true,
            ready_timeout: HANG_GUARD,
            seed: 7,
            ..Context::new(sut_kit::repo_root())
        })
    }
}

/// The pid in the ready line a process of the run printed into its stdout log.
fn ready_pid(log: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().find_map(ReadyLine::parse).map(|r| r.pid)
}

async fn wait_for_pid(log: &Path) -> u32 {
    let started = Instant::now();
    loop {
        if let Some(pid) = ready_pid(log) {
            return pid;
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "{} never got a ready line",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_bench_of_a_sidecar_backend_validates_against_the_schema() {
    let reports = tempfile::tempdir().unwrap();
    let root = sut_kit::repo_root();
    let mut run = RunDir::create(reports.path(), &root, "debug").unwrap();
    // The smallest run that has every kind of target: unix brings in `aisdk-node`, the
    // reference of a backend with a JavaScript runtime, beside `direct` and `relay`.
    bench::run(&backends(&["unix"]), &mut run, &options(true, true))
        .await
        .unwrap();

    let violations = harness::schema::file_violations(&run.path.join("results.json")).unwrap();
    assert!(violations.is_empty(), "{violations:?}");

    let r = &run.results;
    for name in ["direct", "aisdk-node", "unix"] {
        let transit = r.backends[name].latency.chunk_transit.as_ref().unwrap();
        assert_eq!(transit.rounds.len(), 2, "{name}: one entry per round");
        assert!(
            transit.p50_us > 0.0 && transit.p99_us >= transit.p50_us,
            "{name}"
        );
        assert!(run.path.join(format!("bench/{name}.hlog")).is_file());
    }
    for name in ["direct", "unix"] {
        assert!(!r.backends[name].load.is_empty(), "{name} has load points");
    }
    assert!(
        r.backends["aisdk-node"].load.is_empty(),
        "a quick run measures the references' latency, not their load"
    );
    let searched = r.backends["unix"]
        .load
        .iter()
        .filter(|p| p.mode == LoadMode::Open);
    assert!(searched.count() >= 1, "unix: the search tried a rate");
    let unix = r.backends["unix"].latency.chunk_transit.as_ref().unwrap();
    assert!(unix.overhead_p50_us.is_some() && unix.overhead_p50_ci95_us.is_some());
    assert_eq!(unix.ipc_reference.as_deref(), Some("aisdk-node"));
    assert!(r.backends["unix"].latency.tool_turnaround.is_some());
    assert!(
        r.backends["direct"].latency.tool_turnaround.is_none(),
        "direct runs no tools"
    );
    assert!(r.backends["unix"].cpu.is_some() && r.backends["unix"].memory.is_some());
    let bench = r.bench.as_ref().unwrap();
    assert_eq!(bench.round_orders.len(), 2);
    assert!(bench.noise.mock_lateness_us.is_some());
    let calibration = r.calibration.as_ref().unwrap();
    assert!(calibration.uds_rtt_us.is_some() && calibration.tcp_rtt_us.is_some());

    let confinement = bench.confinement.as_ref().unwrap();
    assert!(!confinement.sut_cpus.is_empty() && !confinement.client_cpus.is_empty());
    // The targets take the client's raised priority only on CPUs of their own.
    let cpus = |c: &[u32]| c.iter().map(|&c| c as usize).collect::<Vec<_>>();
    assert_eq!(
        confinement.sut_nice,
        harness::stages::bench::confine::sut_nice(
            &cpus(&confinement.sut_cpus),
            &cpus(&confinement.client_cpus),
            confinement.client_nice
        ),
        "{confinement:?}"
    );
    assert!(
        r.backends["relay"].cpu_at_load.is_none(),
        "a quick run leaves the references' CPU at load out"
    );
    let cpu = r.backends["unix"].cpu_at_load.as_ref().unwrap();
    assert!(cpu.ms_per_conversation > 0.0, "{cpu:?}");
    assert_eq!(
        cpu.window_ms_per_conversation.len(),
        harness::stages::bench::cpu_load::CpuLoadPlan::new(true, false).windows
    );
    assert!(r.backends["unix"].capacity.is_some());
    assert!(
        r.backends["direct"].cpu_at_load.is_none(),
        "direct's cost is the mock's"
    );
}

#[tokio::test]
async fn a_backend_that_failed_conformance_is_not_measured() {
    let reports = tempfile::tempdir().unwrap();
    let mut run = RunDir::create(reports.path(), &sut_kit::repo_root(), "debug").unwrap();
    run.results.backend_mut("rust-only").conformance =
        Some(Conformance::from_cases(vec![CaseResult {
            scenario: "text".into(),
            outcome: Outcome::Failed,
            reason: Some("no [DONE]".into()),
            raw_stream: None,
        }]));
    let err = bench::run(&backends(&["rust-only"]), &mut run, &options(false, false))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot measure rust-only") && err.contains("--force"),
        "{err}"
    );
    let skip = &run.results.backends["rust-only"].skipped[0];
    assert!(
        skip.reason.contains("failed 1 conformance case"),
        "{skip:?}"
    );
    assert!(run.results.bench.is_none(), "nothing was measured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_that_dies_mid_run_stops_the_stage_and_leaves_nothing_behind() {
    let reports = tempfile::tempdir().unwrap();
    let mut run = RunDir::create(reports.path(), &sut_kit::repo_root(), "debug").unwrap();
    let logs = run.logs(bench::STAGE);
    let mut opts = options(true, false);
    opts.rounds = Some(50);
    let stage = tokio::spawn(async move {
        let r = bench::run(&backends(&["rust-only"]), &mut run, &opts).await;
        r.map_err(|e| format!("{e:#}"))
    });
    let mock = wait_for_pid(&logs.join("mock-provider.stdout.log")).await;
    let backend = wait_for_pid(&logs.join("rust-only.stdout.log")).await;
    sut_kit::process::sigkill(mock);
    let err = tokio::time::timeout(HANG_GUARD, stage)
        .await
        .expect("the stage ends")
        .unwrap()
        .unwrap_err();
    assert!(err.contains("mock provider"), "{err}");
    sut_kit::doubles::all_gone(&[mock, backend])
        .await
        .expect("nothing the bench started outlives it");
}

fn harness_cli(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bad_flags_exit_2_with_what_is_wrong() {
    let root = sut_kit::repo_root();
    let out = harness_cli(&root, &["bench", "--backends", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no backend named `nope`"), "{err}");

    for bad in ["unix", "unix=", "unix=fast", "=100", "unix=0"] {
        let out = harness_cli(&root, &["bench", "--inject-delay-us", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--inject-delay-us"), "{bad}: {err}");
    }

    let out = harness_cli(&root, &["bench", "--sut-cpus", "4096"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CPU 4096 does not exist"), "{err}");
}

/// A root of its own (so the run folder is a temp one) that borrows the repository's built
/// backends, corpus and Node packages.
fn borrowed_root(dir: &Path) -> PathBuf {
    let repo = sut_kit::repo_root();
    std::fs::create_dir_all(dir.join("backends")).unwrap();
    for (from, to) in [
        ("backends/rust-only", "backends/rust-only"),
        ("target", "target"),
        ("fixtures", "fixtures"),
        ("sut-kit", "sut-kit"),
        ("runtimes", "runtimes"),
    ] {
        std::os::unix::fs::symlink(repo.join(from), dir.join(to)).unwrap();
    }
    dir.to_owned()
}

#[tokio::test]
async fn the_harness_killed_with_sigkill_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let root = borrowed_root(dir.path());
    let mut harness = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("--root")
        .arg(&root)
        .args([
            "bench",
            "--backends",
            "rust-only",
            "--force",
            "--profile",
            "debug",
        ])
        .args(["--quick", "--no-load", "--rounds", "50"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let logs = root.join("reports/latest/logs/bench");
    let mock = wait_for_pid(&logs.join("mock-provider.stdout.log")).await;
    let backend = wait_for_pid(&logs.join("rust-only.stdout.log")).await;
    sut_kit::process::sigkill(harness.id());
    harness.wait().unwrap();
    sut_kit::doubles::all_gone(&[mock, backend])
        .await
        .expect("nothing the bench started outlives it");
}
