//! The crash stage: on a real sidecar backend and on napi (one fault each), and on a double that
//! hangs instead of crashing and leaves its runtime behind. The assertions check what the stage
//! observed against itself and against the processes left on the machine, never a fixed
//! expectation of which architecture survives.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use contract::results::{Applicability, BlastScope, CrashOutcome, Fault, RecoveryKind, StreamEnd};
use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::crash::{self, Options, Settings};
use sut_kit::manifest::{self, Backend};

fn options(root: &Path, settings: Settings, faults: Vec<Fault>) -> Options {
    Options {
        ctx: Context {
            quick: true,
            ready_timeout: Duration::from_secs(60),
            force: true,
            ..Context::new(root.to_owned())
        },
        settings,
        faults,
        pool: None,
    }
}

/// The profile whose build of `names` (and of the mock provider) exists, if any.
fn built_profile(root: &Path, backends: &[&Backend]) -> Option<&'static str> {
    ["release", "debug"].into_iter().find(|p| {
        root.join(format!("target/{p}/mock-provider")).is_file()
            && backends
                .iter()
                .all(|b| b.missing_artifacts(root, p).is_empty())
    })
}

/// Backends, sidecars and mock providers running in `root`: what the stage starts there (and
/// not the builds or tests that may run there too).
fn stage_processes_in(root: &Path) -> Vec<u32> {
    let started = |argv: &[String]| {
        let program = argv
            .first()
            .map_or("", |p| p.rsplit('/').next().unwrap_or(p));
        program == "mock-provider"
            || program.starts_with("backend-")
            || (program == "node" && argv.iter().any(|a| a.contains("backends/")))
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == root))
        .filter(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            started(&argv)
        })
        .filter(|&pid| sut_kit::process::pid_alive(pid))
        .collect()
}

/// Facts any measured outcome must agree with, whatever the architecture did.
fn consistent(name: &str, o: &CrashOutcome, bystanders: u32) {
    assert_eq!(
        o.applicability,
        Applicability::Measured,
        "{name}: {:?}",
        o.note
    );
    let radius = o.blast_radius.as_ref().unwrap();
    assert_eq!(radius.bystanders, bystanders, "{name}: {radius:?}");
    assert_eq!(radius.bystander_ends.values().sum::<u32>(), bystanders);
    let completed = radius.bystander_ends.get("completed").copied().unwrap_or(0);
    assert_eq!(radius.bystanders_failed, bystanders - completed);
    assert!(!o.statuses.is_empty(), "{name}: new requests were sampled");
    match o.survived.unwrap() {
        true => {
            assert_ne!(radius.scope, BlastScope::Process, "{name}");
            assert!(matches!(
                o.recovery_kind,
                Some(RecoveryKind::Unaffected | RecoveryKind::SelfHealed)
            ));
        }
        false => {
            assert_eq!(radius.scope, BlastScope::Process, "{name}");
            assert!(matches!(
                o.recovery_kind,
                Some(RecoveryKind::ReplacementColdStart | RecoveryKind::NotRecovered)
            ));
        }
    }
    if o.recovery_kind == Some(RecoveryKind::ReplacementColdStart) {
        assert!(
            o.recovery_ms.is_some(),
            "{name}: the replacement's cold start is measured"
        );
    }
    if radius.bystanders_failed > 0 {
        assert_ne!(radius.scope, BlastScope::None);
    }
    assert!(
        o.leftover_processes.is_some(),
        "{name}: processes were counted after the stop"
    );
}

#[tokio::test]
async fn crash_stage_on_a_sidecar_backend_and_on_napi() {
    let root = sut_kit::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let pick = |n: &str| all.iter().find(|b| b.name() == n).unwrap();
    let (unix, napi) = (pick("unix"), pick("napi"));
    let Some(profile) = built_profile(&root, &[unix, napi]) else {
        eprintln!("SKIPPED: unix, napi or the mock provider is not built; run scripts/setup");
        return;
    };
    let reports = tempfile::tempdir().unwrap();
    let settings = Settings {
        streams: 4,
        ..Settings::quick()
    };
    for (backend, fault) in [(unix, Fault::KillRuntime), (napi, Fault::CrashTool)] {
        let mut run = RunDir::create(reports.path(), &root, profile).unwrap();
        let opts = options(&root, settings.clone(), vec![fault]);
        let matrix = crash::run(std::slice::from_ref(backend), &mut run, &opts)
            .await
            .unwrap();
        let mut table = Vec::new();
        crash::table::write(&mut table, &matrix).unwrap();
        eprintln!("{}", String::from_utf8_lossy(&table));
        let outcome = &run.results.backends[backend.name()].crash[fault.name()];
        let bystanders = if fault == Fault::KillRuntime { 4 } else { 3 };
        consistent(backend.name(), outcome, bystanders);
        if fault == Fault::CrashTool {
            let faulted = outcome.faulted_stream.unwrap();
            assert_ne!(
                faulted,
                StreamEnd::NotStarted,
                "the fault request was answered"
            );
        }
        assert!(run.results.crash.as_ref().unwrap().wall_s > 0.0);
        sut_kit::doubles::all_gone(&stage_processes_in(&root))
            .await
            .expect("nothing the stage started outlives it");
    }
}

#[tokio::test]
async fn a_backend_that_hangs_and_leaves_its_runtime_behind_is_recorded_and_cleaned_up() {
    let repo = sut_kit::repo_root();
    let Some(profile) = built_profile(&repo, &[]) else {
        eprintln!("SKIPPED: the mock provider is not built; run scripts/setup");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The stage starts the mock provider from the repository's build.
    std::os::unix::fs::symlink(repo.join("target"), root.join("target")).unwrap();
    // `node` in a manifest runs the pinned runtime, found under the root.
    std::os::unix::fs::symlink(repo.join("runtimes"), root.join("runtimes")).unwrap();
    let pid_file = root.join("pids");
    let script = repo.join("harness/tests/doubles/hanging-backend.mjs");
    let folder = root.join("backends/hangs");
    std::fs::create_dir_all(&folder).unwrap();
    let toml = format!(
        "name = \"hangs\"\nsummary = \"test double\"\nstart = [\"node\", {:?}, {:?}]\nruntime = \"node\"\n",
        script.display().to_string(),
        pid_file.display().to_string()
    );
    std::fs::write(folder.join("backend.toml"), toml).unwrap();
    let backend = manifest::load(&folder.join("backend.toml")).unwrap();

    let settings = Settings {
        streams: 3,
        hang_after: Duration::from_secs(1),
        watch_limit: Duration::from_secs(4),
        ..Settings::quick()
    };
    let watch_limit = settings.watch_limit;
    let faults = vec![Fault::CrashTool, Fault::HangRuntime];
    let mut run = RunDir::create(&root.join("reports"), root, profile).unwrap();
    let started = Instant::now();
    crash::run(
        std::slice::from_ref(&backend),
        &mut run,
        &options(root, settings, faults.clone()),
    )
    .await
    .unwrap();
    // A hang guard, not a timing claim: per fault the watch limit, the probes' own limit, the
    // stop's 2 s grace and the leftover check.
    let limit = (watch_limit + Duration::from_secs(10)) * u32::try_from(faults.len()).unwrap();
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());

    let crash = &run.results.backends["hangs"].crash;
    let hung = &crash[Fault::CrashTool.name()];
    assert_eq!(
        hung.applicability,
        Applicability::Measured,
        "{:?}",
        hung.note
    );
    assert_eq!(hung.survived, Some(false), "a hung server is not serving");
    assert_eq!(hung.recovery_kind, Some(RecoveryKind::NotRecovered));
    assert!(
        hung.statuses.get("hang").is_some_and(|n| *n > 0),
        "{:?}",
        hung.statuses
    );
    let radius = hung.blast_radius.as_ref().unwrap();
    assert_eq!(radius.scope, BlastScope::Process);
    assert_eq!(radius.bystander_ends.get("hung"), Some(&2), "{radius:?}");
    assert_eq!(hung.faulted_stream, Some(StreamEnd::Hung));

    let stopped = &crash[Fault::HangRuntime.name()];
    assert_eq!(stopped.survived, Some(true), "{:?}", stopped.note);
    for o in [hung, stopped] {
        assert_eq!(
            o.leftover_processes,
            Some(1),
            "the detached runtime outlived the server"
        );
    }
    let pids = sut_kit::doubles::recorded_pids(&pid_file);
    assert_eq!(pids.len(), 2 * faults.len(), "{pids:?}");
    sut_kit::doubles::all_gone(&pids)
        .await
        .expect("nothing left behind");
}
