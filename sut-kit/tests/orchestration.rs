//! Starting processes: a backend that never prints its ready line, or dies first, fails with
//! a clear message within the timeout, and nothing it started is left running.

use std::time::{Duration, Instant};

use sut_kit::guards::HANG_GUARD;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};
use sut_kit::process::StartError;

fn settings(root: &std::path::Path, timeout: Duration) -> StartSettings {
    StartSettings {
        root: root.to_owned(),
        profile: "debug".into(),
        provider_url: "http://127.0.0.1:9/v1".into(),
        api_key: orchestrate::api_key_canary(),
        ready_timeout: timeout,
        extra_args: vec![],
        env: Vec::new(),
    }
}

#[tokio::test]
async fn a_backend_without_a_ready_line_times_out_with_its_stderr_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    // A child that starts a helper of its own (as a sidecar would) and never becomes ready.
    let script = format!(
        "sleep 600 & echo $! >> {p}; echo $$ >> {p}; echo 'warming up, slowly' >&2; exec sleep 600",
        p = pid_file.display()
    );
    let backend = sut_kit::doubles::shell_backend(dir.path(), "silent", &script)
        .expect("the test double's manifest");
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let cfg = settings(dir.path(), timeout);
    let logs = dir.path().join("logs");
    let opts = InstanceOptions::default();
    let start = orchestrate::start_backend(&backend, &cfg, &opts, &logs);
    let err = tokio::time::timeout(HANG_GUARD, start)
        .await
        .expect("start gave up at its ready timeout")
        .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, StartError::NoReadyLine { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("silent printed no ready line"),
        "{message}"
    );
    assert!(message.contains("warming up, slowly"), "{message}");
    assert!(
        waited >= timeout,
        "gave up after {waited:?}, before the timeout"
    );
    let pids = sut_kit::doubles::recorded_pids(&pid_file);
    assert_eq!(pids.len(), 2, "the test double wrote its pids");
    sut_kit::doubles::all_gone(&pids)
        .await
        .expect("nothing it started outlives it");
    assert!(dir.path().join("logs/silent.stderr.log").is_file());
}

#[tokio::test]
async fn a_backend_that_exits_early_says_how_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let backend = sut_kit::doubles::shell_backend(
        dir.path(),
        "dies",
        "echo 'cannot bind: address in use' >&2; exit 3",
    )
    .expect("the test double's manifest");
    // Reaching the ready timeout would be `NoReadyLine`: `ExitedEarly` shows it did not wait.
    let err = orchestrate::start_backend(
        &backend,
        &settings(dir.path(), Duration::from_secs(30)),
        &InstanceOptions::default(),
        &dir.path().join("logs"),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StartError::ExitedEarly { .. }), "{message}");
    assert!(
        message.contains("exit status: 3") && message.contains("address in use"),
        "{message}"
    );
}

#[tokio::test]
async fn a_ready_backend_stops_with_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let script = format!(
        "sleep 600 & echo $! >> {p}; echo $$ >> {p}; \
         echo '{{\"event\":\"ready\",\"backend\":\"ok\",\"url\":\"http://127.0.0.1:1\",\"pid\":'$$'}}'; \
         exec sleep 600",
        p = pid_file.display()
    );
    let backend = sut_kit::doubles::shell_backend(dir.path(), "ok", &script)
        .expect("the test double's manifest");
    let instance = orchestrate::start_backend(
        &backend,
        &settings(dir.path(), Duration::from_secs(10)),
        &InstanceOptions::default(),
        &dir.path().join("logs"),
    )
    .await
    .unwrap();
    assert_eq!(instance.url(), "http://127.0.0.1:1");
    let pids = sut_kit::doubles::recorded_pids(&pid_file);
    assert_eq!(instance.ready().pid, pids[1]);
    assert!(pids.iter().all(|p| sut_kit::process::pid_alive(*p)));
    let report = instance.stop().await;
    assert!(!report.forced, "sleep dies on SIGTERM");
    sut_kit::doubles::all_gone(&pids)
        .await
        .expect("nothing it started outlives it");
    let stdout = std::fs::read_to_string(dir.path().join("logs/ok.stdout.log")).unwrap();
    assert!(stdout.contains("\"event\":\"ready\""), "{stdout}");
}

#[tokio::test]
async fn the_mock_runs_as_a_process_and_serves_its_timeline() {
    let root = sut_kit::repo_root();
    let Some(profile) = ["debug", "release"]
        .into_iter()
        .find(|p| root.join(format!("target/{p}/mock-provider")).is_file())
    else {
        eprintln!("SKIPPED: no mock-provider binary; run `cargo build -p mock-provider`");
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let mock =
        sut_kit::mock::MockProcess::start(&root, profile, logs.path(), Duration::from_secs(10))
            .await
            .unwrap();
    assert!(mock.openai_url().ends_with("/v1"));
    assert!(
        mock.timeline("nothing-yet")
            .await
            .unwrap()
            .requests
            .is_empty()
    );
    let report = mock.stop().await;
    assert!(!report.forced && !report.stragglers_killed);
}
