//! The binary: one ready line on stdout once it serves, a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use contract::ready::ReadyLine;
use rustix::process::{Pid, Signal, kill_process};

use sut_kit::guards::HANG_GUARD;

#[test]
fn prints_one_ready_line_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let ready = ReadyLine::parse(&line).unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    assert_eq!(ready.backend, "mock-provider");
    assert_eq!(ready.pid, child.id());
    assert_eq!(ready.runtime_pid, None);
    assert!(ready.url.starts_with("http://127.0.0.1:"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::get(format!("{}/health", ready.url))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

    let pid = Pid::from_raw(child.id() as i32).unwrap();
    kill_process(pid, Signal::TERM).unwrap();
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if started.elapsed() >= HANG_GUARD {
            // Not left running after the test fails.
            let _ = child.kill();
            panic!("the process did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "nothing but the ready line on stdout: {rest:?}"
    );
}
