//! What a run records about itself: id, git commit, time, machine and the versions measured.
//! Anything that cannot be determined is `None`, never a guess.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::BTreeMap;

use contract::results::{Machine, RunInfo, RuntimeInfo, Versions};
use contract::runtime;

use crate::tools;

pub fn collect(repo_root: &Path, profile: &str) -> RunInfo {
    let git_sha = tools::output(Some(repo_root), "git", &["rev-parse", "--short", "HEAD"])
        .unwrap_or_else(|| "nogit".into());
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (date, time) = utc(secs);
    RunInfo {
        id: format!(
            "{}T{}Z-{git_sha}",
            date.replace('-', ""),
            time.replace(':', "")
        ),
        git_sha,
        started_at: format!("{date}T{time}Z"),
        profile: profile.to_owned(),
        machine: machine(),
        versions: versions(repo_root),
        runtimes: runtimes(repo_root),
    }
}

/// The default stack's runtime, as installed under `root` (absent when it is not installed:
/// the stages that need it say so themselves).
fn runtimes(root: &Path) -> BTreeMap<String, RuntimeInfo> {
    let mut out = BTreeMap::new();
    if let Ok(found) = runtime::resolve(root, runtime::DEFAULT_RUNTIME) {
        out.insert(found.name.clone(), runtime_info(root, &found, true));
    }
    out
}

/// What `results.json` records of one resolved runtime: its own `--version` and its package.
pub fn runtime_info(root: &Path, found: &runtime::Resolved, default: bool) -> RuntimeInfo {
    RuntimeInfo {
        version: tools::version(Some(root), &found.binary),
        source: found.source.clone(),
        default,
        error: None,
        sdk: runtime::spec(&found.name)
            .map(|spec| sdk_versions(root, spec))
            .unwrap_or_default(),
    }
}

/// The AI SDK packages `spec`'s targets run, as its `package.json` pins them (the sidecar's, or
/// the stack's own); a package that is not pinned there is left out.
pub fn sdk_versions(root: &Path, spec: &runtime::RuntimeSpec) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root.join(spec.sdk_manifest())).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    runtime::SDK_PACKAGES
        .iter()
        .filter_map(|p| {
            Some((
                (*p).to_owned(),
                json["dependencies"][p].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The current time, RFC 3339, UTC (when a figure was measured).
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (date, time) = utc(secs);
    format!("{date}T{time}Z")
}

/// `(YYYY-MM-DD, HH:MM:SS)` of a Unix time, UTC (Howard Hinnant's civil-from-days).
fn utc(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: Option<f64> = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
    Machine {
        cpu: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned()),
        cores: std::thread::available_parallelism()
            .ok()
            .and_then(|n| u32::try_from(n.get()).ok()),
        mem_gib: mem_kib.map(|k| (k / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned()),
    }
}

fn versions(root: &Path) -> Versions {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    Versions {
        rustc: tools::version(Some(root), "rustc"),
        // The Node.js that runs the default stack: the pinned runtime, not the system's.
        node: runtime::resolve(root, runtime::DEFAULT_RUNTIME)
            .ok()
            .and_then(|r| tools::version(Some(root), &r.binary)),
        ai: ["sut-kit/node", "backends/sidecar"].iter().find_map(|pkg| {
            let file = root.join(pkg).join("node_modules/ai/package.json");
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
            json.get("version")?.as_str().map(str::to_owned)
        }),
        napi: locked_version(&lock, "napi"),
        async_openai: locked_version(&lock, "async-openai"),
    }
}

/// The version Cargo.lock pins for `package`.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&needle)? + needle.len();
    let len = lock[start..].find('"')?;
    Some(lock[start..start + len].to_owned())
}

/// A seed from the clock, for runs that did not ask for one (results.json records it).
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), ("1970-01-01".into(), "00:00:00".into()));
        assert_eq!(utc(951_782_400), ("2000-02-29".into(), "00:00:00".into()));
        assert_eq!(utc(1_795_656_896), ("2026-11-26".into(), "01:34:56".into()));
    }

    #[test]
    fn reads_locked_versions() {
        let lock = "[[package]]\nname = \"napi\"\nversion = \"3.16.0\"\n";
        assert_eq!(locked_version(lock, "napi").as_deref(), Some("3.16.0"));
        assert_eq!(locked_version(lock, "async-openai"), None);
    }
}
