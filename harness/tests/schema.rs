//! reports/schema.json is what the results types generate, and it rejects what it must.

#[test]
fn the_committed_schema_matches_the_results_types() {
    let committed =
        std::fs::read_to_string(sut_kit::repo_root().join(harness::schema::SCHEMA_PATH)).unwrap();
    assert!(
        committed == harness::schema::generate(),
        "reports/schema.json is stale: run `cargo run -p harness -- schema`"
    );
}

#[test]
fn the_schema_accepts_a_fresh_run_and_rejects_a_broken_one() {
    let root = sut_kit::repo_root();
    let reports = tempfile::tempdir().unwrap();
    let run = harness::run_dir::RunDir::create(reports.path(), &root, "debug").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&harness::schema::generate()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.path.join("results.json")).unwrap())
            .unwrap();
    assert!(validator.is_valid(&instance));
    instance["backends"] = serde_json::json!({"unix": {"conformance": {"passed": 1, "failed": 0, "unsupported": 0,
        "cases": [{"scenario": "text", "outcome": "MAYBE"}]}}});
    assert!(
        !validator.is_valid(&instance),
        "an unknown outcome must not validate"
    );
    instance.as_object_mut().unwrap().remove("schema_version");
    assert!(!validator.is_valid(&instance));
}

#[test]
fn the_schema_holds_gate_study_json_and_rejects_a_broken_one() {
    use contract::results::{GateStudy, GateStudyTally, GateStudyTrial};
    let trial = GateStudyTrial {
        injected_us: 0,
        baseline_run: "r0".into(),
        current_run: "r1".into(),
        backend: "unix".into(),
        metric: "chunk_overhead_p50".into(),
        change: Some(0.01),
        ci95: Some([-0.02, 0.04]),
        decision: "pass".into(),
        rounds: None,
        first_decision: None,
        trees_swapped: None,
        load_average: None,
    };
    let tally = GateStudyTally {
        trials: 1,
        passes: 1,
        ..GateStudyTally::default()
    };
    let study = GateStudy {
        method: "files".into(),
        backends: vec!["unix".into()],
        pairs: 1,
        delays_us: vec![100],
        latency_threshold: 0.05,
        runs: vec!["r0".into(), "r1".into()],
        tallies: [(
            "unix".to_owned(),
            [(
                "chunk_overhead_p50".to_owned(),
                [(0_u64, tally)].into_iter().collect(),
            )]
            .into_iter()
            .collect(),
        )]
        .into_iter()
        .collect(),
        trials: vec![trial],
    };
    let schema = harness::schema::definition("GateStudy");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut instance = serde_json::to_value(&study).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let back: GateStudy = serde_json::from_value(instance.clone()).unwrap();
    assert_eq!(back, study);
    instance["trials"][0]["injected_us"] = serde_json::json!("a lot");
    assert!(!validator.is_valid(&instance));
}
