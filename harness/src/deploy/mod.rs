//! The deployments of `deploy/`: images, compose files, systemd units and Kubernetes manifests
//! for each architecture (docs/deploy.md). [`validate`] checks every file there with the
//! validator of its kind, the check `scripts/test` runs (harness/tests/deploy_files.rs) and
//! `harness deploy --validate-only` prints.

pub mod validate;
mod validate_units;
