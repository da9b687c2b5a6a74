//! Helpers shared by the harness's integration tests.
#![allow(dead_code)]
// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use conformance::manifest::{self, Backend};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness lives inside the repository")
        .to_path_buf()
}

/// Writes `backends/<name>/backend.toml` under `dir` for a backend started by `sh -c script`,
/// and returns it as discovered. The common flags land in `$0 $1 ...` of the script, unused.
pub fn shell_backend(dir: &Path, name: &str, script: &str) -> Backend {
    let folder = dir.join("backends").join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let toml = format!(
        "name = {name:?}\nsummary = \"test double\"\nstart = [\"sh\", \"-c\", {script:?}]\nruntime = \"none\"\n"
    );
    std::fs::write(folder.join("backend.toml"), toml).unwrap();
    manifest::load(&folder.join("backend.toml")).unwrap()
}

/// The pids a test double appended to `file` (`echo $$ >> file`).
pub fn pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Waits (bounded) until none of `pids` exists; returns those still alive.
pub async fn still_alive(pids: &[u32]) -> Vec<u32> {
    for _ in 0..300 {
        if pids.iter().all(|p| !conformance::process::pid_alive(*p)) {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pids.iter()
        .copied()
        .filter(|p| conformance::process::pid_alive(*p))
        .collect()
}

/// Sends SIGKILL to `pid` (gone already is fine).
pub fn sigkill(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Asserts that a results.json matches the committed reports/schema.json.
pub fn validate_results(results: &Path) {
    let schema_text = std::fs::read_to_string(repo_root().join("reports/schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match reports/schema.json: {errors:?}",
        results.display()
    );
}
