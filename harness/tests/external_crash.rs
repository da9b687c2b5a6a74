//! The crash matrix of a deployment the harness did not start, played from outside: a backend
//! started here against `harness mock` on its own stands in for it. A `--control` command that
//! kills its runtime by pid plays `kill-runtime`, and the recovery is seen from outside; a
//! control command that fails leaves the fault not measured, with its stderr; a reader fault is
//! measured through the URL and the mock's record, with memory absent and the reason why.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

mod common;

use common::StandaloneMock;
use contract::results::{Applicability, Fault, RecoveryKind};
use harness::external::{self, measure::Plan, stage};
use harness::run_dir::RunDir;
use harness::stages::crash::control::Control;
use harness::stages::crash::{Settings, elsewhere};

fn options(mock: &StandaloneMock, target: &str) -> stage::Options {
    let mut ctx = harness::stages::Context::new(sut_kit::repo_root());
    ctx.quick = true;
    stage::Options {
        ctx,
        plan: Plan::new(true),
        mock_url: mock.url.clone(),
        targets: vec![external::parse_target(target).unwrap()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_command_kills_the_runtime_and_the_recovery_is_seen_from_outside() {
    let mock = StandaloneMock::start();
    let root = sut_kit::repo_root();
    let reports = tempfile::tempdir().unwrap();
    let instance = common::start_backend("unix", &mock, reports.path(), &[]).await;
    let runtime = instance.ready().runtime_pid.unwrap();
    let opts = options(&mock, &format!("deployed={}", instance.url()));
    let remote = stage::check_inputs(&opts).await.unwrap();
    let mut run = RunDir::create(reports.path(), &root, "debug").unwrap();
    // The environment is the contract's: the command refuses any other fault or target.
    let control = Control::new(format!(
        "test \"$ARENA_FAULT\" = kill-runtime && test \"$ARENA_TARGET\" = deployed \
         && test \"$ARENA_TARGET_URL\" = {} && test \"$ARENA_PHASE\" = inject \
         && kill -KILL {runtime}",
        instance.url()
    ));
    let settings = Settings::quick();
    let faults = [Fault::KillRuntime, Fault::Stall];
    let verified =
        external::crash::run(&mut run, &remote, &opts, &faults, &settings, Some(&control))
            .await
            .unwrap();
    let runtime_gone = !sut_kit::process::pid_alive(runtime);
    instance.stop().await;

    assert_eq!(verified, 1);
    assert!(runtime_gone, "the control command killed the sidecar");
    let entry = &run.results.backends["deployed"];
    assert!(entry.external);
    let killed = &entry.crash[Fault::KillRuntime.name()];
    assert_eq!(
        killed.applicability,
        Applicability::Measured,
        "{:?}",
        killed.note
    );
    // The server restarts its sidecar: from outside, health failed or streams broke, then
    // the deployment served again.
    assert_eq!(killed.survived, Some(true), "{:?}", killed.note);
    assert_eq!(
        killed.recovery_kind,
        Some(RecoveryKind::SelfHealed),
        "{killed:?}"
    );
    assert!(killed.recovery_ms.is_some(), "{killed:?}");
    let radius = killed.blast_radius.as_ref().unwrap();
    assert!(
        radius.bystanders_failed > 0,
        "the sidecar's streams died with it: {radius:?}"
    );
    assert!(killed.note.as_deref().unwrap().contains("control command"));
    assert_eq!(
        killed.leftover_processes, None,
        "not this machine's to count"
    );
    let stall = &entry.crash[Fault::Stall.name()];
    assert_eq!(stall.applicability, Applicability::NotApplicable);
    assert_eq!(stall.note.as_deref(), Some(elsewhere::NEEDS_FLAGS));
    assert!(run.results.crash.is_some());
    let violations = harness::schema::file_violations(&run.path.join("results.json")).unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_control_command_is_not_measured_and_reader_faults_play_from_outside() {
    let mock = StandaloneMock::start();
    let reports = tempfile::tempdir().unwrap();
    let instance = common::start_backend("rust-only", &mock, reports.path(), &[]).await;
    let mut settings = Settings::quick();
    // A few stalled streams (each 10^5 chunks, more than the buffers on the way hold), held
    // briefly: what is tested is that the fault plays through the URL and the mock's record
    // alone, not its size.
    settings.readers.streams = 3;
    settings.readers.watch = std::time::Duration::from_secs(1);
    let failing = Control::new(
        "echo 'looking for the runtime' >&2; echo 'no such container: arena-0' >&2; exit 1".into(),
    );
    let plan = elsewhere::Plan {
        settings: &settings,
        mock_url: &mock.url,
        control: Some(&failing),
        http: sut_kit::client::http_client().unwrap(),
    };
    let faults = [Fault::KillRuntime, Fault::StalledReader];
    let played = elsewhere::play("failing", instance.url(), &plan, &faults)
        .await
        .unwrap();
    let without = elsewhere::Plan {
        control: None,
        ..plan
    };
    let unplayed = elsewhere::play("plain", instance.url(), &without, &[Fault::HangRuntime])
        .await
        .unwrap();
    instance.stop().await;

    let (fault, killed) = &played[0];
    assert_eq!(*fault, Fault::KillRuntime);
    assert_eq!(killed.applicability, Applicability::NotMeasured);
    let note = killed.note.as_deref().unwrap();
    assert!(note.contains("exit status: 1"), "{note}");
    assert!(note.contains("no such container: arena-0"), "{note}");

    let (fault, stalled) = &played[1];
    assert_eq!(*fault, Fault::StalledReader);
    assert_eq!(
        stalled.applicability,
        Applicability::Measured,
        "{:?}",
        stalled.note
    );
    assert_eq!(stalled.reader_streams, Some(3));
    assert_eq!(stalled.survived, Some(true), "{:?}", stalled.note);
    let sent = stalled.provider_sent_fraction.unwrap();
    assert!(
        sent > 0.0 && sent < 1.0,
        "stalled readers hold their answers back: {sent}"
    );
    assert!(stalled.provider_throttled.is_some());
    assert!(
        stalled.healthy_overhead_change_us.is_some(),
        "the mock is on loopback"
    );
    assert_eq!(stalled.peak_growth_bytes_per_stream, None);
    assert_eq!(stalled.memory_still_growing, None);
    let note = stalled.note.as_deref().unwrap();
    assert!(note.contains("memory not read"), "{note}");

    let (_, hung) = &unplayed[0];
    assert_eq!(hung.applicability, Applicability::NotApplicable);
    assert_eq!(hung.note.as_deref(), Some(elsewhere::NEEDS_CONTROL));
}
