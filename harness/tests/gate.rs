//! The gate: its rule on synthetic runs (a clear regression, a clear pass, an interval that
//! straddles the threshold), and bad input (missing file, malformed JSON, another schema
//! version, a backend missing from one side), each exit 2 with a message naming the file.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use contract::results::{BenchRun, LatencyStats, Results, RoundStats, RunInfo};
use harness::gate::decide::{Decision, LATENCY_THRESHOLD};
use harness::gate::{self, metrics::Metric};

fn stats(rounds: &[(f64, f64)]) -> LatencyStats {
    LatencyStats {
        rounds: rounds
            .iter()
            .enumerate()
            .map(|(i, (p50, p99))| RoundStats {
                round: i as u32,
                n: 20,
                p50_us: *p50,
                p99_us: *p99,
            })
            .collect(),
        ..LatencyStats::from_percentiles(
            100,
            rounds[0].0,
            rounds[0].0,
            rounds[0].1,
            rounds[0].1,
            rounds[0].1,
        )
    }
}

/// A run where the direct path takes `direct` µs per chunk and unix adds `overheads` (one per
/// round), its p99 twice its p50.
fn run(direct: f64, overheads: &[f64], saturation: f64) -> Results {
    let mut r = Results::new(RunInfo {
        id: "x".into(),
        git_sha: "x".into(),
        started_at: "x".into(),
        profile: "release".into(),
        machine: Default::default(),
        versions: Default::default(),
        runtimes: Default::default(),
    });
    r.bench = Some(BenchRun::default());
    let d: Vec<(f64, f64)> = overheads.iter().map(|_| (direct, direct * 2.0)).collect();
    let u: Vec<(f64, f64)> = overheads
        .iter()
        .map(|o| (direct + o, (direct + o) * 2.0))
        .collect();
    r.backend_mut("direct").latency.chunk_transit = Some(stats(&d));
    r.backend_mut("direct").latency.ttft = Some(stats(&d));
    let unix = r.backend_mut("unix");
    unix.latency.chunk_transit = Some(stats(&u));
    unix.latency.ttft = Some(stats(&u));
    unix.saturation_rps = Some(saturation);
    r
}

fn write(dir: &Path, name: &str, r: &Results) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(r).unwrap()).unwrap();
    path
}

fn decision(judgements: &[gate::decide::Judgement], metric: Metric) -> Decision {
    judgements
        .iter()
        .find(|j| j.backend == "unix" && j.metric == metric)
        .unwrap()
        .decision
        .clone()
}

const STEADY: [f64; 8] = [500.0, 510.0, 495.0, 505.0, 498.0, 502.0, 507.0, 493.0];

#[test]
fn a_clear_regression_a_clear_pass_and_an_interval_that_straddles() {
    let dir = tempfile::tempdir().unwrap();
    // The machine is twice as slow in the current run: normalised, nothing changed.
    let baseline = write(dir.path(), "a.json", &run(100.0, &STEADY, 200.0));
    let slower_machine: Vec<f64> = STEADY.iter().map(|o| o * 2.0).collect();
    let same = write(dir.path(), "b.json", &run(200.0, &slower_machine, 200.0));
    let j = gate::judge_files(&baseline, &same).unwrap();
    assert_eq!(
        decision(&j, Metric::ChunkOverheadP50),
        Decision::Pass,
        "{j:?}"
    );
    assert_eq!(decision(&j, Metric::Saturation), Decision::Pass);
    assert_eq!(gate::exit_code(&j), ExitCode::SUCCESS);

    // A delay of the threshold plus 30% of the direct path's p50 on every chunk, and a quarter
    // of the capacity.
    let added = 100.0 * (LATENCY_THRESHOLD + 0.3);
    let worse: Vec<f64> = STEADY.iter().map(|o| o + added).collect();
    let regressed = write(dir.path(), "c.json", &run(100.0, &worse, 50.0));
    let j = gate::judge_files(&baseline, &regressed).unwrap();
    assert_eq!(decision(&j, Metric::ChunkOverheadP50), Decision::Regression);
    assert_eq!(decision(&j, Metric::Saturation), Decision::Regression);
    assert_eq!(gate::exit_code(&j), ExitCode::from(1));
    let mut report = Vec::new();
    gate::write_report(&mut report, &j).unwrap();
    let report = String::from_utf8(report).unwrap();
    assert!(
        report.contains(&format!(
            "REGRESSION unix chunk overhead p50: {:+.1}% worse (more overhead per chunk",
            (LATENCY_THRESHOLD + 0.3) * 100.0
        )),
        "{report}"
    );

    // Half the rounds unchanged, half twice the threshold worse: neither verdict holds.
    let scattered: Vec<f64> = STEADY
        .iter()
        .enumerate()
        .map(|(i, o)| {
            o + if i % 2 == 0 {
                0.0
            } else {
                200.0 * LATENCY_THRESHOLD
            }
        })
        .collect();
    let unsure = write(dir.path(), "d.json", &run(100.0, &scattered, 200.0));
    let j = gate::judge_files(&baseline, &unsure).unwrap();
    assert!(
        matches!(
            decision(&j, Metric::ChunkOverheadP50),
            Decision::CouldNotJudge(_)
        ),
        "{j:?}"
    );
    assert_eq!(gate::exit_code(&j), ExitCode::from(2));
}

#[test]
fn the_rule_on_intervals() {
    use gate::decide::rule;
    let p50 = Metric::ChunkOverheadP50;
    assert_eq!(rule(p50, 0.3, 0.5), Decision::Regression);
    assert_eq!(rule(p50, -0.1, 0.2), Decision::Pass);
    assert!(matches!(rule(p50, 0.1, 0.4), Decision::CouldNotJudge(_)));
    // CPU per chunk in µs against its own threshold, said in µs.
    let cpu = Metric::CpuPerChunk;
    assert_eq!(rule(cpu, 30.0, 120.0), Decision::Regression);
    assert_eq!(rule(cpu, -8.0, 12.0), Decision::Pass);
    match rule(cpu, 5.0, 40.0) {
        Decision::CouldNotJudge(why) => assert!(why.contains("+25 µs threshold"), "{why}"),
        d => panic!("{d:?}"),
    }
    // Capacity per core: the base's over the head's, minus 1, against 10%.
    assert_eq!(
        Metric::CapacityPerCore.paired_change(500.0, 250.0),
        Some(1.0)
    );
    assert_eq!(
        rule(Metric::CapacityPerCore, 0.5, 1.2),
        Decision::Regression
    );
    assert_eq!(rule(Metric::CapacityPerCore, -0.05, 0.06), Decision::Pass);
}

/// Runs the binary's gate on two files; its exit code, and its stderr then its stdout.
fn gate_cli(baseline: &Path, current: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "--root",
            &sut_kit::repo_root().display().to_string(),
            "gate",
        ])
        .arg("--baseline")
        .arg(baseline)
        .arg("--current")
        .arg(current)
        .output()
        .unwrap();
    // What it says, on either stream: an unusable file on stderr, a target it could not judge
    // in its verdict table.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.code(), said)
}

#[test]
fn bad_input_exits_2_naming_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.json", &run(100.0, &STEADY, 200.0));

    let missing = dir.path().join("missing.json");
    let (code, err) = gate_cli(&good, &missing);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("missing.json") && err.contains("cannot read"),
        "{err}"
    );

    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "{\"schema_version\": 2, ").unwrap();
    let (code, err) = gate_cli(&good, &malformed);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("malformed.json") && err.contains("not JSON"),
        "{err}"
    );

    let mut old: serde_json::Value = serde_json::to_value(run(100.0, &STEADY, 200.0)).unwrap();
    old["schema_version"] = 1.into();
    let old_path = dir.path().join("old.json");
    std::fs::write(&old_path, old.to_string()).unwrap();
    let (code, err) = gate_cli(&old_path, &good);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("old.json") && err.contains("schema version 1"),
        "{err}"
    );

    let mut without_unix = run(100.0, &STEADY, 200.0);
    without_unix.backends.remove("unix");
    let lacking = write(dir.path(), "lacking.json", &without_unix);
    let (code, err) = gate_cli(&good, &lacking);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("lacking.json") && err.contains("`unix`") && err.contains("could not judge"),
        "{err}"
    );
    let (code, err) = gate_cli(&lacking, &good);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("lacking.json") && err.contains("`unix`"),
        "{err}"
    );
}

/// The committed baseline is a run the gate can read, of every backend, and judged against
/// itself it shows no change and no regression (docs/gate.md#the-baseline).
#[test]
fn the_committed_baseline_reads_and_judges_itself_unchanged() {
    let baseline = sut_kit::repo_root().join("reports/baseline.json");
    let judgements = gate::judge_files(&baseline, &baseline)
        .unwrap_or_else(|e| panic!("reports/baseline.json: {e}"));
    let mut backends: Vec<&str> = judgements.iter().map(|j| j.backend.as_str()).collect();
    backends.dedup();
    assert_eq!(backends, ["http", "napi", "rust-only", "unix"]);
    for j in &judgements {
        assert_ne!(j.decision, Decision::Regression, "{j:?}");
        if j.metric == Metric::ChunkOverheadP50 {
            assert_eq!(j.change, Some(0.0), "{j:?}");
        }
    }
}

#[test]
fn a_variant_measured_in_one_run_only_is_not_judged_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = write(dir.path(), "baseline.json", &run(250.0, &STEADY, 100.0));
    let mut with_frames = run(250.0, &STEADY, 100.0);
    let unix = with_frames.backends["unix"].clone();
    with_frames.backends.insert("unix+sse".into(), unix);
    let current = write(dir.path(), "current.json", &with_frames);
    let j = gate::judge_files(&baseline, &current).unwrap();
    // unix itself is still judged; the variant is not, with the file that lacks it named.
    assert_eq!(
        decision(&j, Metric::ChunkOverheadP50),
        Decision::Pass,
        "{j:?}"
    );
    let frames: Vec<_> = j.iter().filter(|j| j.backend == "unix+sse").collect();
    assert_eq!(frames.len(), Metric::ALL.len());
    match &frames[0].decision {
        Decision::CouldNotJudge(why) => {
            assert!(why.contains("`unix` with `+sse`"), "{why}");
            assert!(why.contains("current.json only"), "{why}");
            assert!(why.contains("baseline.json"), "{why}");
        }
        d => panic!("{d:?}"),
    }
    assert_eq!(gate::exit_code(&j), ExitCode::from(2));
    // The other way round: the variant in the baseline only.
    let j = gate::judge_files(&current, &baseline).unwrap();
    let frames = j.iter().find(|j| j.backend == "unix+sse").unwrap();
    assert!(
        matches!(&frames.decision, Decision::CouldNotJudge(why) if why.contains("current.json only")),
        "{frames:?}"
    );
}
