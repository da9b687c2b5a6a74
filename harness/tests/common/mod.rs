//! What the tests of targets the harness did not start share: `harness mock --listen` on its
//! own, and a debug backend started here against it, as a deployment elsewhere would be.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use contract::ready::ReadyLine;
use sut_kit::manifest;
use sut_kit::orchestrate::{self, BackendInstance, InstanceOptions, StartSettings};

/// Far above what a debug backend needs to start on a loaded machine; only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// `harness mock --listen 127.0.0.1:0`, and the URL its ready line gives.
pub struct StandaloneMock {
    child: std::process::Child,
    pub url: String,
}

impl StandaloneMock {
    pub fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(sut_kit::repo_root())
            .args(["mock", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready =
            ReadyLine::parse(line.trim()).unwrap_or_else(|| panic!("not a ready line: {line:?}"));
        assert_eq!(ready.backend, "mock-provider");
        assert_eq!(ready.pid, child.id());
        Self {
            child,
            url: ready.url,
        }
    }
}

impl Drop for StandaloneMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The debug build of backend `name` on port 0, pointed at `mock`, with `extra_args` on its
/// command line (`--rate-limit off` for load); its logs go to `dir`.
pub async fn start_backend(
    name: &str,
    mock: &StandaloneMock,
    dir: &Path,
    extra_args: &[&str],
) -> BackendInstance {
    let root = sut_kit::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let backend = manifest::select(all, &[name.to_owned()]).unwrap();
    let settings = StartSettings::new(&root, "debug", format!("{}/v1", mock.url), HANG_GUARD);
    let options = InstanceOptions {
        extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
        instance: None,
    };
    orchestrate::start_backend(&backend[0], &settings, &options, dir)
        .await
        .unwrap()
}
