//! Ctrl-C on the harness stops every process it started, at once.

use std::process::Command;

#[tokio::test]
async fn sigint_stops_every_child_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = sut_kit::repo_root();
    // The harness needs its Node oracle from the real tree; the backends come from the temp root.
    std::os::unix::fs::symlink(repo.join("sut-kit"), root.join("sut-kit")).unwrap();
    // ...and the pinned Node runtime it runs that oracle on.
    std::os::unix::fs::symlink(repo.join("runtimes"), root.join("runtimes")).unwrap();
    let pid_file = root.join("pids");
    let script = format!(
        "sleep 600 & echo $! >> {p}; echo $$ >> {p}; exec sleep 600",
        p = pid_file.display()
    );
    sut_kit::doubles::shell_backend(root, "hangs", &script).expect("the test double's manifest");

    let mut harness = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--root", &root.display().to_string()])
        .args([
            "conformance",
            "--scenarios",
            "text",
            "--ready-timeout-s",
            "120",
        ])
        .spawn()
        .unwrap();
    let pid_file = &pid_file;
    sut_kit::guards::wait_until("the backend's start", || async move {
        sut_kit::doubles::recorded_pids(pid_file).len() >= 2
    })
    .await
    .expect("the backend starts");
    let pids = sut_kit::doubles::recorded_pids(pid_file);
    let harness_pid = rustix::process::Pid::from_raw(harness.id() as i32).unwrap();
    rustix::process::kill_process(harness_pid, rustix::process::Signal::INT).unwrap();
    let status = harness.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    sut_kit::doubles::all_gone(&pids)
        .await
        .expect("nothing it started outlives it");
}
