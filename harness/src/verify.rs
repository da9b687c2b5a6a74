//! Verify before benchmark: a stage that measures backends asks here which ones passed
//! conformance for the build it is about to measure: in the current run, or in the latest
//! earlier run of the same git sha whose suite ran on the same artifacts (a fingerprint of
//! their paths, sizes and modification times). A backend that failed (or was never verified)
//! is skipped, and the skip is recorded in results.json, unless the caller forces it. Before
//! that, every stage that starts backends asks [`built_backends`] which ones are built.

use std::path::Path;

use contract::results::{Results, StageSkip};

use sut_kit::manifest::{Backend, for_profile};

use crate::run_dir::{self, RunDir};

/// Splits `backends` into those whose build output (`profile`) is under `root` and those not
/// built, `(name, reason)`; each of the latter gets a [`StageSkip`] for `stage` in `results`
/// and a line on stderr.
pub fn built_backends<'a>(
    backends: &'a [Backend],
    root: &Path,
    profile: &str,
    results: &mut Results,
    stage: &str,
) -> (Vec<&'a Backend>, Vec<(String, String)>) {
    let mut built = Vec::new();
    let mut not_built = Vec::new();
    for backend in backends {
        let missing = backend.missing_artifacts(root, profile);
        if missing.is_empty() {
            built.push(backend);
            continue;
        }
        let name = backend.name();
        let reason = format!(
            "not built ({profile}): missing {}; run `harness build --backends {name}`",
            missing.join(", ")
        );
        eprintln!("[{name}] {stage} skipped: {reason}");
        results.backend_mut(name).skipped.push(StageSkip {
            stage: stage.to_owned(),
            reason: reason.clone(),
        });
        not_built.push((name.to_owned(), reason));
    }
    (built, not_built)
}

/// What a stage that plays a suite on backends found: a verdict per backend it ran (or that was
/// named but not built), and the backends it did not run, with the reason.
#[derive(Debug)]
pub struct StageSummary<V> {
    pub verdicts: Vec<(String, V)>,
    pub skipped: Vec<(String, String)>,
}

impl<V> StageSummary<V> {
    /// How a verifying stage went: failed when `any_failed`; an error when no backend could
    /// be tested at all, which is the harness not doing its job rather than a verdict.
    pub fn outcome(&self, any_failed: bool) -> anyhow::Result<crate::stages::Outcome> {
        if self.verdicts.is_empty() {
            anyhow::bail!("no backend could be tested; build them first with `harness build`");
        }
        Ok(crate::stages::Outcome::failed_if(any_failed))
    }

    /// Starts from the backends [`built_backends`] left out: each is skipped and, when the
    /// backends were named explicitly, also gets the verdict `failed(name, reason)` returns.
    pub fn not_built(
        not_built: Vec<(String, String)>,
        explicit: bool,
        mut failed: impl FnMut(&str, &str) -> V,
    ) -> Self {
        let mut summary = Self {
            verdicts: Vec::new(),
            skipped: Vec::new(),
        };
        for (name, reason) in not_built {
            if explicit {
                summary
                    .verdicts
                    .push((name.clone(), failed(&name, &reason)));
            }
            summary.skipped.push((name, reason));
        }
        summary
    }
}

/// Where a stage looks for earlier verdicts.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub root: &'a Path,
    pub reports: &'a Path,
    pub profile: &'a str,
}

/// Which of `candidates` `stage` may measure. Skipped backends get a [`StageSkip`] in `run`;
/// forced ones are kept and named on stderr.
pub fn verified_backends(
    run: &mut RunDir,
    candidates: &[Backend],
    scope: Scope<'_>,
    stage: &str,
    force: bool,
) -> Vec<Backend> {
    let mut keep = Vec::new();
    for backend in candidates {
        let name = backend.name();
        let problem = match verdict_here(&run.results, name) {
            Some(Ok(())) => None,
            Some(Err(why)) => Some(why),
            None => match earlier_verdict(run, backend, scope) {
                Some(id) => {
                    eprintln!("[{name}] conformance passed in run {id} on the same artifacts");
                    None
                }
                None => Some(
                    "conformance has not run on this build (not in this run, nor in an earlier \
                     run of the same git sha and artifacts)"
                        .to_owned(),
                ),
            },
        };
        match problem {
            None => keep.push(backend.clone()),
            Some(why) if force => {
                eprintln!("[{name}] {why}; measured anyway (--force)");
                keep.push(backend.clone());
            }
            Some(why) => {
                let reason = format!("{why}; run `harness conformance` first, or pass --force");
                eprintln!("[{name}] {stage} skipped: {reason}");
                run.results.backend_mut(name).skipped.push(StageSkip {
                    stage: stage.to_owned(),
                    reason,
                });
            }
        }
    }
    keep
}

/// [`verified_backends`] with the scope of `run` itself: its reports folder and profile.
pub fn verified_in_run(
    run: &mut RunDir,
    candidates: &[Backend],
    root: &Path,
    stage: &str,
    force: bool,
) -> Vec<Backend> {
    let reports = run.path.parent().map(Path::to_path_buf).unwrap_or_default();
    let profile = run.run().profile.clone();
    let scope = Scope {
        root,
        reports: &reports,
        profile: &profile,
    };
    verified_backends(run, candidates, scope, stage, force)
}

/// The verdict of this run: `None` when the suite has not run on the backend here.
fn verdict_here(results: &Results, name: &str) -> Option<Result<(), String>> {
    let c = results.backends.get(name)?.conformance.as_ref()?;
    Some(if c.is_verified() {
        Ok(())
    } else {
        Err(format!("failed {} conformance case(s)", c.failed))
    })
}

/// The newest earlier run of the same sha and profile whose suite passed on artifacts with the
/// fingerprint they have now.
fn earlier_verdict(run: &RunDir, backend: &Backend, scope: Scope<'_>) -> Option<String> {
    let now = artifacts_fingerprint(scope.root, backend, scope.profile)?;
    let sha = &run.results.run.git_sha;
    let mut ids: Vec<String> = std::fs::read_dir(scope.reports)
        .ok()?
        .flatten()
        .filter(|e| e.path().join(run_dir::RESULTS_FILE).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| id != run_dir::LATEST && *id != run.results.run.id)
        .collect();
    // Run ids start with their UTC start time: the newest sorts last.
    ids.sort();
    ids.into_iter().rev().find(|id| {
        RunDir::open(scope.reports, id).is_ok_and(|earlier| {
            let r = &earlier.results;
            let c = r
                .backends
                .get(backend.name())
                .and_then(|b| b.conformance.as_ref());
            &r.run.git_sha == sha
                && r.run.profile == scope.profile
                && c.is_some_and(|c| c.is_verified() && c.artifacts.as_deref() == Some(&now))
        })
    })
}

/// A fingerprint of a backend's artifacts as built for `profile`: every file under each
/// artifact path, with its size and contents. Contents, not modification times: the evidence
/// stage's edit-build-test loop rebuilds from unchanged sources, and a rebuild that produced the
/// same bytes is the build conformance verified (docs/report.md#development-speed). `None` when
/// one is missing.
pub fn artifacts_fingerprint(root: &Path, backend: &Backend, profile: &str) -> Option<String> {
    let mut entries = Vec::new();
    for artifact in &backend.manifest.artifacts {
        let path = root.join(for_profile(artifact, profile));
        collect(&path, &mut entries).ok()?;
    }
    entries.sort();
    let h = entries.iter().fold(FNV_OFFSET, |h, entry| {
        fnv1a(fnv1a(h, entry.as_bytes()), b"\n")
    });
    Some(format!("{h:016x}"))
}

fn collect(path: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), out)?;
        }
        return Ok(());
    }
    let contents = content_hash(path, &meta)?;
    out.push(format!("{} {} {contents:016x}", path.display(), meta.len()));
    Ok(())
}

/// FNV-1a: stable across Rust releases, unlike std's hasher.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A file's content hash, read once per state of the file: every stage verifies every
/// backend, and the artifacts (binaries, the napi addon, bundles) are tens of megabytes that
/// do not change between stages. The state is the file's size and modification time.
fn content_hash(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<u64> {
    type Key = (std::path::PathBuf, u64, std::time::SystemTime);
    static SEEN: std::sync::Mutex<Option<std::collections::HashMap<Key, u64>>> =
        std::sync::Mutex::new(None);
    let key: Key = (path.to_owned(), meta.len(), meta.modified()?);
    if let Some(h) = SEEN
        .lock()
        .ok()
        .and_then(|seen| seen.as_ref()?.get(&key).copied())
    {
        return Ok(h);
    }
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut block = vec![0u8; 1 << 16];
    let mut h = FNV_OFFSET;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        h = fnv1a(h, &block[..n]);
    }
    if let Ok(mut seen) = SEEN.lock() {
        seen.get_or_insert_with(Default::default).insert(key, h);
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{CaseResult, Conformance, Outcome};

    fn backend(dir: &Path, name: &str) -> Backend {
        let folder = dir.join("backends").join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let toml = format!(
            "name = {name:?}\nsummary = \"s\"\nstart = [\"true\"]\nartifacts = [\"out/{name}\"]\nruntime = \"none\"\n"
        );
        std::fs::write(folder.join("backend.toml"), toml).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(dir.join("out").join(name), name).unwrap();
        sut_kit::manifest::load(&folder.join("backend.toml")).unwrap()
    }

    fn verdict(outcome: Outcome) -> Conformance {
        Conformance::from_cases(vec![CaseResult {
            scenario: "text".into(),
            outcome,
            reason: None,
            raw_stream: None,
        }])
    }

    #[test]
    fn skips_failed_and_unverified_backends_and_records_why() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let reports = root.join("reports");
        let [good, bad, new] = ["good", "bad", "new"].map(|n| backend(root, n));
        let mut run = RunDir::create(&reports, root, "release").unwrap();
        run.results.backend_mut("good").conformance = Some(verdict(Outcome::Ok));
        run.results.backend_mut("bad").conformance = Some(verdict(Outcome::Failed));
        let scope = Scope {
            root,
            reports: &reports,
            profile: "release",
        };
        let candidates = [good, bad, new];
        let kept = verified_backends(&mut run, &candidates, scope, "bench", false);
        assert_eq!(kept.iter().map(Backend::name).collect::<Vec<_>>(), ["good"]);
        let r = &run.results;
        assert_eq!(r.backends["bad"].skipped[0].stage, "bench");
        assert!(r.backends["bad"].skipped[0].reason.contains("failed 1"));
        assert!(r.backends["new"].skipped[0].reason.contains("has not run"));
        assert!(r.backends["good"].skipped.is_empty());

        let mut forced = RunDir::create(&reports, root, "release").unwrap();
        forced.results = run.results.clone();
        forced.results.backend_mut("bad").skipped.clear();
        let kept = verified_backends(&mut forced, &candidates[..2], scope, "bench", true);
        assert_eq!(kept.len(), 2);
        assert!(forced.results.backends["bad"].skipped.is_empty());
    }

    #[test]
    fn an_earlier_run_vouches_only_for_the_same_sha_and_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let reports = root.join("reports");
        let b = backend(root, "b");
        let scope = Scope {
            root,
            reports: &reports,
            profile: "release",
        };
        let mut earlier = RunDir::create(&reports, root, "release").unwrap();
        let mut passed = verdict(Outcome::Ok);
        passed.artifacts = artifacts_fingerprint(root, &b, "release");
        earlier.results.backend_mut("b").conformance = Some(passed);
        earlier.save().unwrap();

        let mut now = RunDir::create(&reports, root, "release").unwrap();
        let kept = verified_backends(&mut now, std::slice::from_ref(&b), scope, "bench", false);
        assert_eq!(kept.len(), 1, "same sha, same artifacts");

        // A rebuilt artifact (other size) is not what the earlier suite verified.
        std::fs::write(root.join("out/b"), "rebuilt").unwrap();
        let mut later = RunDir::create(&reports, root, "release").unwrap();
        let kept = verified_backends(&mut later, std::slice::from_ref(&b), scope, "bench", false);
        assert!(kept.is_empty());
        assert!(
            later.results.backends["b"].skipped[0]
                .reason
                .contains("same git sha")
        );
    }

    #[test]
    fn a_rebuild_to_the_same_bytes_keeps_the_fingerprint_and_other_bytes_change_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let b = backend(root, "b");
        let artifact = root.join("out/b");
        std::fs::write(&artifact, "built").unwrap();
        let before = artifacts_fingerprint(root, &b, "release").unwrap();

        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::write(&artifact, "built").unwrap();
        std::fs::File::options()
            .append(true)
            .open(&artifact)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(artifacts_fingerprint(root, &b, "release").unwrap(), before);

        std::fs::write(&artifact, "BUILT").unwrap();
        assert_ne!(artifacts_fingerprint(root, &b, "release").unwrap(), before);
    }
}
