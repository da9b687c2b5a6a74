//! Test doubles for the tests of the stack itself and of the harness: a backend that is a shell
//! script (its manifest written into a scratch tree), and the processes it leaves behind.

use std::path::Path;

use anyhow::{Context, Result};

use crate::guards::{self, Hung};
use crate::manifest::{self, Backend};
use crate::process::pid_alive;

/// Writes `backends/<name>/backend.toml` under `dir` for a backend started by `sh -c script`,
/// and returns it as discovery would. The common flags land in `$0 $1 ...`, unused.
pub fn shell_backend(dir: &Path, name: &str, script: &str) -> Result<Backend> {
    let folder = dir.join("backends").join(name);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let toml = format!(
        "name = {name:?}\nsummary = \"test double\"\nstart = [\"sh\", \"-c\", {script:?}]\nruntime = \"none\"\n"
    );
    let path = folder.join(manifest::MANIFEST_FILE);
    std::fs::write(&path, toml).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(manifest::load(&path)?)
}

/// The pids a test double appended to `file` (`echo $$ >> file`); none before it wrote any.
pub fn recorded_pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Waits until none of `pids` runs; [`Hung`] names those still running after the guard.
pub async fn all_gone(pids: &[u32]) -> Result<(), Hung> {
    let gone = guards::wait_until("the processes ending", || async move {
        pids.iter().all(|p| !pid_alive(*p))
    })
    .await;
    gone.map(drop).map_err(|_| Hung {
        what: format!(
            "the end of {:?}",
            pids.iter().filter(|p| pid_alive(**p)).collect::<Vec<_>>()
        ),
    })
}
