//! Where the bench finds the zero-work relay (`mock_provider::relay`, the `arena-relay` binary
//! of the mock-provider package): in the run's profile, built with the mock provider, so a
//! release run measures a release relay as it measures release backends.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The relay's binary name, beside the mock provider's in `target/<profile>/`.
pub const BINARY: &str = "arena-relay";

/// The relay of `profile`: `target/<profile>/arena-relay`, built with the mock provider when it
/// is not there yet (the build stage builds both; a stage run on its own may come first).
pub async fn ensure_binary(root: &Path, profile: &str, log_dir: &Path) -> Result<PathBuf> {
    let binary = root.join("target").join(profile).join(BINARY);
    if !binary.is_file() {
        crate::provider::build(root, profile, log_dir).await?;
    }
    binary
        .is_file()
        .then_some(binary)
        .with_context(|| format!("building the mock provider's package made no {BINARY}"))
}
