//! Ctrl-C on the harness stops every process it started, at once.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigint_stops_every_child_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = common::repo_root();
    // The harness needs its Node oracle from the real tree; the backends come from the temp root.
    std::os::unix::fs::symlink(repo.join("harness"), root.join("harness")).unwrap();
    let pid_file = root.join("pids");
    let script = format!(
        "sleep 600 & echo $! >> {p}; echo $$ >> {p}; exec sleep 600",
        p = pid_file.display()
    );
    common::shell_backend(root, "hangs", &script);

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
    let started = Instant::now();
    while common::pids(&pid_file).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backend never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pids = common::pids(&pid_file);
    let harness_pid = rustix::process::Pid::from_raw(harness.id() as i32).unwrap();
    rustix::process::kill_process(harness_pid, rustix::process::Signal::INT).unwrap();
    let status = harness.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(common::still_alive(&pids).await, Vec::<u32>::new());
}
