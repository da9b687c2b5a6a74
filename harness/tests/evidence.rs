//! The evidence stage: its file-read parts on the project's own backends, the security probes on
//! a fixture that exposes what a backend must not (so a probe that gets through is counted as a
//! success, never skipped), and the port-conflict study on real backends in the debug build.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::evidence::{self, ports, security};
use sut_kit::manifest::{self, Backend};
use sut_kit::orchestrate::StartSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn backends(root: &Path) -> Vec<Backend> {
    manifest::discover(&root.join("backends")).unwrap()
}

fn find<'a>(all: &'a [Backend], name: &str) -> &'a Backend {
    all.iter().find(|b| b.name() == name).unwrap()
}

#[tokio::test]
async fn own_code_dependencies_and_platform_needs_come_from_each_manifest() {
    let root = sut_kit::repo_root();
    let all = backends(&root);
    let reports = tempfile::tempdir().unwrap();
    let mut run = RunDir::create(reports.path(), &root, "debug").unwrap();
    let opts = evidence::Options {
        ctx: Context {
            ready_timeout: Duration::from_secs(60),
            ..Context::new(root.clone())
        },
        instances: 2,
    };
    evidence::run(&all, &mut run, &opts).await.unwrap();
    for b in &all {
        let r = &run.results.backends[b.name()];
        let m = r.evidence.maintainability.as_ref().unwrap();
        assert!(m.own_lines > 0 && m.own_files > 0, "{}: {m:?}", b.name());
        assert_eq!(
            m.own_lines,
            m.languages.values().map(|c| c.lines).sum::<u64>()
        );
        assert!(m.shared_lines <= m.own_lines);
        assert!(m.crates_direct <= m.crates_transitive);
        assert!(
            m.crates_direct > 0,
            "{}: every backend uses registry crates",
            b.name()
        );
        let c = r.evidence.cross_platform.as_ref().unwrap();
        assert_eq!(c.os_specific_apis as usize, c.os_specific.len());
        assert!(c.os_specific.iter().all(|u| !u.sites.is_empty()));
        assert_eq!(c.platforms.len(), evidence::platform::PLATFORMS.len());
        assert_eq!(
            c.native_builds as usize,
            c.native_artifacts.len() * c.platforms.len()
        );
        // No conformance ran in this run: the parts that start the backend are skipped, with
        // the reason, not recorded as zero.
        assert!(r.evidence.port_conflicts.is_none() && r.evidence.security.is_none());
        assert!(r.skipped.iter().any(|s| s.stage == evidence::STAGE));
    }
    let ev = |n: &str| run.results.backends[n].evidence.clone();
    // The sidecar's source is counted for the backends whose build installs it, not for
    // rust-only, and its lockfile's packages with it.
    for n in ["unix", "http", "napi"] {
        let m = ev(n).maintainability.unwrap();
        assert!(
            m.components.contains(&"npm:backends/sidecar".to_owned()),
            "{n}"
        );
        assert!(
            m.languages.contains_key("JavaScript") && m.npm_transitive > 0,
            "{n}"
        );
    }
    let rust_only = ev("rust-only").maintainability.unwrap();
    assert_eq!((rust_only.npm_direct, rust_only.npm_transitive), (0, 0));
    assert!(!rust_only.languages.contains_key("JavaScript"));
    let napi = ev("napi").cross_platform.unwrap();
    assert!(napi.native_artifacts.iter().any(|a| a.kind == "node-addon"));
    assert_eq!(napi.runtimes, ["node"]);
    let unix = ev("unix").cross_platform.unwrap();
    assert!(unix.os_specific.iter().any(|u| u.api == "unix-socket"));
    let host = evidence::deps::host_triple().unwrap();
    assert!(
        unix.platforms
            .iter()
            .any(|p| p.target == host && p.buildable_here),
        "the host builds for itself"
    );
    assert!(
        unix.platforms
            .iter()
            .all(|p| p.buildable_here != p.why_not.is_some())
    );
}

/// Answers 200 to every request on `listener`, as a hop without a credential would.
async fn open_door(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        });
    }
}

#[tokio::test]
async fn probes_that_get_through_count_as_successes() {
    let user = match security::probe_user() {
        Ok(u) => u,
        Err(why) => {
            // Without root there is no other user to act as: the stage records this reason.
            assert!(!why.is_empty());
            return;
        }
    };
    let key = "sk-evidence-fixture-key";
    // A process with the key on its command line (readable by anyone), and one open listener
    // held by a child of this test so that it is the only listener the probes find there.
    let leaky = tokio::process::Command::new("sh")
        .args(["-c", "sleep 30", key])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tokio::spawn(open_door(listener));
    let exposed = security::Exposure {
        pids: vec![leaky.id().unwrap(), std::process::id()],
        public_port: None,
        api_key: key.to_owned(),
        chat_body: "{}".to_owned(),
    };
    let s = security::probe(&user, &exposed).await;
    let hit = |what: &str| {
        s.probes
            .iter()
            .any(|p| p.what.contains(what) && p.succeeded)
    };
    assert!(hit("cmdline"), "{:#?}", s.probes);
    assert!(
        hit(&format!("GET /health on 127.0.0.1:{port}")),
        "{:#?}",
        s.probes
    );
    assert!(hit(&format!("POST /api/chat on 127.0.0.1:{port}")));
    // Root's environment is not another user's to read.
    assert!(!hit("environ"));
    assert_eq!(s.attempts, Some(s.probes.len() as u32));
    assert_eq!(
        s.succeeded,
        Some(s.probes.iter().filter(|p| p.succeeded).count() as u32)
    );
    assert!(s.succeeded.unwrap() >= 3);
    drop(dir);
}

/// The profile whose build of `names` and of the mock provider exists, if any.
fn built_profile(root: &Path, backends: &[&Backend]) -> Option<&'static str> {
    ["debug", "release"].into_iter().find(|p| {
        root.join(format!("target/{p}/mock-provider")).is_file()
            && backends
                .iter()
                .all(|b| b.missing_artifacts(root, p).is_empty())
    })
}

#[tokio::test]
async fn instances_side_by_side_and_a_fixed_port_twice() {
    let root = sut_kit::repo_root();
    let all = backends(&root);
    let chosen = [find(&all, "rust-only"), find(&all, "unix")];
    let profile = built_profile(&root, &chosen).expect("scripts/setup builds the debug backends");
    let logs = tempfile::tempdir().unwrap();
    let mock = harness::provider::start(&root, profile, logs.path())
        .await
        .unwrap();
    let cfg: StartSettings =
        harness::provider::start_settings(&root, profile, &mock, Duration::from_secs(60));
    let user = security::probe_user();
    for b in chosen {
        let (p, s) = ports::measure(b, &cfg, 2, &logs.path().join(b.name()), &user)
            .await
            .unwrap();
        assert_eq!(p.instances, 2);
        assert_eq!(p.failed_binds as usize, p.failures.len());
        // The kernel refuses a second listener on one port: the second start must fail, and
        // the operator's error is kept whatever it says.
        assert_eq!(p.fixed_port_failed_binds, 1, "{}: {p:?}", b.name());
        assert!(p.fixed_port_error.is_some());
        let expected = p.failed_binds
            + p.left_behind.len() as u32
            + u32::from(!p.error_names_port)
            + u32::from(!p.error_says_in_use);
        assert_eq!(p.problems, expected, "{}: {p:?}", b.name());
        match &user {
            Ok(_) => {
                let attempts = s.attempts.unwrap();
                assert_eq!(attempts as usize, s.probes.len());
                assert!(attempts >= 2, "{}: environ and cmdline at least", b.name());
            }
            Err(why) => assert_eq!(s.skipped.as_deref(), Some(why.as_str())),
        }
        if b.name() == "unix" && user.is_ok() {
            // The unix backend's hops are Unix sockets in a folder of their own: each is probed.
            assert!(
                s.probes
                    .iter()
                    .any(|p| p.what.starts_with("list the socket folder"))
            );
            assert!(s.probes.iter().any(|p| p.what.contains("on unix:")));
        }
    }
    mock.stop().await;
}
