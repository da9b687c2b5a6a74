//! The deployments of `deploy/`: images, compose files, systemd units and Kubernetes manifests
//! for each architecture (docs/deploy.md). [`validate`] checks every file there with the
//! validator of its kind, the check `scripts/test` runs (harness/tests/deploy_files.rs) and
//! `harness deploy --validate-only` prints.

pub mod validate;
mod validate_units;

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};

/// `harness deploy --validate-only`: every file under deploy/ with its validator's verdict.
pub fn validate_all(root: &Path, validate_only: bool) -> Result<std::process::ExitCode> {
    if !validate_only {
        bail!(
            "only `harness deploy --validate-only` is implemented; the container run is \
             deploy/rehearse, described in docs/deploy.md#run"
        );
    }
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
