//! A deployment the harness did not start: `harness mock` on its own (its ready line), a
//! backend started here on port 0 and pointed at it, then the external bench against its URL
//! (suite first, then the client-clock figures), recorded as `external: true` in a results.json
//! that validates against the schema; the soak and the crash matrix against the same kind of
//! target (errors and latency by window, memory absent with its reason; the client's hang-up
//! played from outside, faults on the target's processes not applicable without a control
//! command; `tests/external_crash.rs` has the control command). And bad input: a malformed `--target` and an unreachable URL each
//! exit 2 with a clear message, before any run folder is made.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::StandaloneMock;
use harness::external::{self, measure::Plan, stage};
use harness::run_dir::RunDir;

fn harness() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harness"));
    c.current_dir(sut_kit::repo_root());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_started_elsewhere_is_verified_then_measured_as_external() {
    let mock = StandaloneMock::start();
    let root = sut_kit::repo_root();
    let reports = tempfile::tempdir().unwrap();
    let instance = common::start_backend("rust-only", &mock, reports.path(), &[]).await;

    let mut ctx = harness::stages::Context::new(root.clone());
    ctx.quick = true;
    let opts = stage::Options {
        ctx,
        // Enough to read every figure once; the measurement's size is not what is tested.
        plan: Plan {
            sequential: 3,
            rates: &[5.0],
            point_s: 1.0,
            warmup: 1,
        },
        mock_url: mock.url.clone(),
        targets: vec![external::parse_target(&format!("elsewhere={}", instance.url())).unwrap()],
    };
    let remote = stage::check_inputs(&opts).await.unwrap();
    let mut run = RunDir::create(reports.path(), &root, "debug").unwrap();
    let measured = stage::run(&mut run, &remote, &opts).await.unwrap();
    instance.stop().await;

    let entry = &run.results.backends["elsewhere"];
    let verdict = entry.conformance.as_ref().unwrap();
    assert!(verdict.is_verified(), "{verdict:?}");
    assert!(
        verdict.unsupported > 0,
        "fault cases cannot be played from outside"
    );
    assert_eq!(measured, 1);
    assert!(entry.external);
    let f = entry.external_figures.as_ref().unwrap();
    assert!(f.shared_clock, "the mock is on loopback");
    assert_eq!((f.conversations, f.errors, f.lost_chunks), (3, 0, 0));
    let ttft = f.ttft_us.as_ref().unwrap();
    assert!(
        ttft.p50_us >= 20_000.0,
        "TTFT includes the scripted 20 ms: {ttft:?}"
    );
    let gap = f.gap_us.as_ref().unwrap();
    assert_eq!(gap.n, 3 * 19);
    assert!(f.chunk_transit_us.is_some());
    assert_eq!(f.rates.len(), 1);
    let violations = harness::schema::file_violations(&run.path.join("results.json")).unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_and_crash_measure_a_target_from_outside_after_the_suite() {
    use contract::results::{Applicability, Fault};
    let mock = StandaloneMock::start();
    let root = sut_kit::repo_root();
    let reports = tempfile::tempdir().unwrap();
    let instance = common::start_backend("rust-only", &mock, reports.path(), &[]).await;
    let mut ctx = harness::stages::Context::new(root.clone());
    ctx.quick = true;
    let opts = stage::Options {
        ctx,
        plan: Plan::new(true),
        mock_url: mock.url.clone(),
        targets: vec![external::parse_target(&format!("outside={}", instance.url())).unwrap()],
    };
    let remote = stage::check_inputs(&opts).await.unwrap();
    let mut run = RunDir::create(reports.path(), &root, "debug").unwrap();
    // A few seconds of the soak's load: enough conversations for every window's count; the
    // figures' sizes are not what is tested.
    let soaked = external::soak::run(&mut run, &remote, &opts, 0.05, 10.0)
        .await
        .unwrap();
    // The suite tags its conversations by target name and process: a second suite in this
    // process against the same mock needs a name of its own.
    let again = stage::Options {
        targets: vec![external::parse_target(&format!("again={}", instance.url())).unwrap()],
        ..opts.clone()
    };
    // The client's hang-up plays from outside; the runtime's death needs a control command
    // (none here); `stall` needs the target's start flags.
    let faults = [Fault::ClientDisconnect, Fault::KillRuntime, Fault::Stall];
    let settings = harness::stages::crash::Settings::quick();
    let verified = external::crash::run(&mut run, &remote, &again, &faults, &settings, None)
        .await
        .unwrap();
    instance.stop().await;

    assert_eq!((soaked.len(), verified), (1, 1));
    let entry = &run.results.backends["outside"];
    assert!(entry.external);
    let soak = entry.soak.as_ref().unwrap();
    assert!(soak.requests > 0);
    assert_eq!(soak.errors, 0, "{:?}", soak.error_kinds);
    assert!(soak.passed, "{}", soak.verdict);
    assert!(soak.samples.is_empty() && soak.rss_slope_mb_per_h.is_none());
    assert!(soak.not_sampled.as_deref().unwrap().contains("external"));
    let drift = soak.drift.as_ref().unwrap();
    assert_eq!(drift.windows.len(), external::soak::WINDOWS);
    let sent: u64 = drift.windows.iter().map(|w| w.conversations).sum();
    assert_eq!(sent, soak.requests);
    assert!(drift.windows.iter().any(|w| w.ttft_p50_us.is_some()));
    assert!(!run.results.soak.as_ref().unwrap().concurrent);

    let crashed = &run.results.backends["again"];
    assert!(crashed.external);
    assert_eq!(crashed.crash.len(), faults.len());
    for fault in faults {
        let o = &crashed.crash[fault.name()];
        let expected = if external::crash::needs_processes(fault) {
            Applicability::NotApplicable
        } else {
            Applicability::Measured
        };
        assert_eq!(o.applicability, expected, "{fault}: {:?}", o.note);
    }
    let dropped = &crashed.crash[Fault::ClientDisconnect.name()];
    assert_eq!(dropped.survived, Some(true), "{:?}", dropped.note);
    assert_eq!(
        dropped.faulted_stream,
        Some(contract::results::StreamEnd::Dropped)
    );
    assert!(
        dropped.provider.is_some(),
        "the mock is on loopback: one clock"
    );
    let violations = harness::schema::file_violations(&run.path.join("results.json")).unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn soak_and_crash_refuse_a_bad_target_with_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let target = format!("x={free}");
    for command in ["soak", "crash"] {
        fails_with_2(&[command, "--target", "x=ftp://host"], "http:// URL");
        fails_with_2(&[command, "--target", &target], "--mock-url");
        fails_with_2(
            &[command, "--target", &target, "--mock-url", &free],
            "unreachable",
        );
        fails_with_2(
            &[
                command,
                "--target",
                &target,
                "--mock-url",
                &free,
                "--backends",
                "unix",
            ],
            "--backends acts on backends the harness starts",
        );
    }
    fails_with_2(
        &[
            "crash",
            "--target",
            &target,
            "--mock-url",
            &free,
            "--pool",
            "2",
        ],
        "--pool acts on backends",
    );
    fails_with_2(
        &[
            "soak",
            "--target",
            &target,
            "--mock-url",
            &free,
            "--minutes",
            "0",
        ],
        "--minutes",
    );
    fails_with_2(
        &["crash", "--control", "true", "--faults", "kill-runtime"],
        "--control plays faults on a deployment the harness did not start: it needs --target",
    );
    fails_with_2(
        &[
            "crash",
            "--target",
            &target,
            "--mock-url",
            &free,
            "--control",
            " ",
        ],
        "--control is empty",
    );
}

fn fails_with_2(args: &[&str], needle: &str) {
    let out = harness().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
}

#[test]
fn a_malformed_target_exits_2_and_says_what_it_wants() {
    fails_with_2(
        &[
            "bench",
            "--target",
            "no-url-here",
            "--mock-url",
            "http://127.0.0.1:9",
        ],
        "NAME=URL",
    );
    fails_with_2(
        &[
            "bench",
            "--target",
            "x=ftp://host",
            "--mock-url",
            "http://127.0.0.1:9",
        ],
        "http:// URL",
    );
    fails_with_2(&["bench", "--target", "x=http://127.0.0.1:9"], "--mock-url");
    fails_with_2(
        &[
            "bench",
            "--target",
            "x=http://127.0.0.1:9",
            "--mock-url",
            "http://127.0.0.1:9",
            "--rounds",
            "3",
        ],
        "--rounds acts on backends the harness starts",
    );
}

#[test]
fn an_unreachable_url_exits_2_naming_it() {
    // A port the kernel just handed out and took back: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{free}");
    fails_with_2(
        &["bench", "--target", &format!("x={url}"), "--mock-url", &url],
        "unreachable",
    );
}

#[test]
fn load_refuses_bad_input_before_starting_anything() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let target = format!("x={free}");
    fails_with_2(&["load", "--target", &target, "--rate", "5"], "--locust");
    fails_with_2(
        &["load", "--target", &target, "--rate", "0", "--locust"],
        "must be positive",
    );
    fails_with_2(
        &[
            "load",
            "--target",
            &target,
            "--rate",
            "5",
            "--locust",
            "--mock-url",
            &free,
        ],
        "unreachable",
    );
}
