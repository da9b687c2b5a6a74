//! reports/schema.json is what the results types generate, and it rejects what it must.

#[test]
fn the_committed_schema_matches_the_results_types() {
    let committed =
        std::fs::read_to_string(conformance::repo_root().join(harness::schema::SCHEMA_PATH))
            .unwrap();
    assert!(
        committed == harness::schema::generate(),
        "reports/schema.json is stale: run `cargo run -p harness -- schema`"
    );
}

#[test]
fn the_schema_accepts_a_fresh_run_and_rejects_a_broken_one() {
    let root = conformance::repo_root();
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
