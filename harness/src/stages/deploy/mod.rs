//! The deployments of `deploy/`: images, compose files, systemd units and Kubernetes manifests
//! for each architecture (docs/deploy.md). [`validate`] checks every file there with the
//! validator of its kind, the check `scripts/test` runs (harness/tests/deploy_files.rs) and
//! `harness deploy --validate-only` prints; [`stage`] builds the images and runs each
//! architecture in containers (`harness deploy`), recording `deploy.<backend>`.

mod compose;
mod hop;
mod images;
mod podman;
mod probe;
pub mod stage;
pub mod validate;
mod validate_error;
mod validate_units;

use std::io::Write;
use std::path::Path;

use anyhow::Result;

/// `harness deploy --validate-only`: every file under deploy/ with its validator's verdict.
pub fn validate_all(root: &Path) -> Result<std::process::ExitCode> {
    let validators = validate::Validators::new(root);
    let outcomes = validators.check_all(&root.join("deploy"))?;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for (file, outcome) in &outcomes {
        let rel = file.strip_prefix(root).unwrap_or(file).display();
        match outcome {
            Ok(kind) => writeln!(out, "ok      {rel} ({kind:?})")?,
            Err(e) => {
                failed += 1;
                writeln!(out, "FAILED  {e}")?;
            }
        }
    }
    writeln!(out, "{} files, {failed} failed", outcomes.len())?;
    Ok(if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
