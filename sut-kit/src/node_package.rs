//! Whether a Node package folder of the repository (`sut-kit/node`, `web`, `backends/sidecar`)
//! is installed: one check for the harness, which installs them (`harness::prereq`), and for the
//! suites here that run their scripts (the oracle, the browser driver), so "installed" means the
//! same everywhere: what the lockfile pins, not merely a folder that exists.

use std::path::Path;

/// Whether `package` (a folder with package.json and package-lock.json) has the packages its
/// lockfile pins: `npm ci` writes `node_modules/.package-lock.json` with an entry per installed
/// package, equal to the lockfile's; a lockfile changed since the install makes it stale.
pub fn is_installed(package: &Path) -> bool {
    let installed = package.join("node_modules/.package-lock.json");
    let (Ok(lock), Ok(hidden)) = (
        std::fs::read_to_string(package.join("package-lock.json")),
        std::fs::read_to_string(&installed),
    ) else {
        return false;
    };
    let packages = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["packages"].as_object().cloned())
    };
    let (Some(want), Some(have)) = (packages(&lock), packages(&hidden)) else {
        return false;
    };
    // The lockfile also has the root entry "", and optional packages for other platforms
    // (esbuild's binaries) that npm rightly skipped.
    want.iter()
        .filter(|(name, _)| !name.is_empty())
        .all(|(name, pinned)| match have.get(name) {
            Some(installed) => installed == pinned,
            None => pinned["optional"] == true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(lock: &str, installed: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("package-lock.json"), lock).unwrap();
        if let Some(hidden) = installed {
            std::fs::create_dir_all(dir.path().join("node_modules")).unwrap();
            std::fs::write(dir.path().join("node_modules/.package-lock.json"), hidden).unwrap();
        }
        dir
    }

    const LOCK: &str = r#"{"packages": {"": {"name": "x"},
        "node_modules/ai": {"version": "6.0.1"},
        "node_modules/@esbuild/darwin-arm64": {"version": "0.25.0", "optional": true}}}"#;

    #[test]
    fn installed_means_every_pinned_package_at_its_pin() {
        assert!(!is_installed(package(LOCK, None).path()));
        let same = r#"{"packages": {"node_modules/ai": {"version": "6.0.1"}}}"#;
        assert!(is_installed(package(LOCK, Some(same)).path()));
        let stale = r#"{"packages": {"node_modules/ai": {"version": "6.0.0"}}}"#;
        assert!(!is_installed(package(LOCK, Some(stale)).path()));
        let missing = r#"{"packages": {}}"#;
        assert!(!is_installed(package(LOCK, Some(missing)).path()));
    }
}
