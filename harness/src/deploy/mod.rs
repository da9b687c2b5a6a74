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
mod validate_units;
