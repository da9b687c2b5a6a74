//! What a deployment of each backend ships: its manifest's artifacts as built (files and
//! bytes) and stripped (ELF files stripped in a copy; the built file is never touched), the
//! runtime it needs (the Node.js binary, for `runtime = "node"`), and the shared libraries all
//! of them load beyond the C library, which the deployment's image must provide. Recorded as
//! `backends.<name>.size` by `harness build`; the start stage adds the process count. A target
//! of the runtime axis (`unix@bun`) ships its base's artifacts with its own runtime's binary
//! (and a stack's own bundles in place of the sidecar's: docs/runtimes.md#deployable-size).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use contract::results::{ArtifactSize, FileSize, RuntimeSize, Size};

use sut_kit::manifest::{self, Backend, Runtime};

use crate::run_dir::RunDir;
use crate::stages::bench::target::AISDK_NODE_BUNDLE;

/// Libraries every Linux system has: the C library, its companions and the loader. Anything
/// else the binaries load is listed as shipping beside them.
const BASE_LIBRARIES: &[&str] = &[
    "linux-vdso",
    "ld-linux",
    "libc.so",
    "libm.so",
    "libdl.so",
    "libpthread.so",
    "librt.so",
    "libresolv.so",
    "libutil.so",
];
const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// The sidecar's bundles, which a stack with an AI SDK of its own replaces with its `dist/`.
const SIDECAR_DIST: &str = "backends/sidecar/dist";

/// Measures and records the size of every backend whose artifacts are built, and of each one's
/// targets on the run's other installed runtimes.
pub fn run(backends: &[Backend], root: &Path, run: &mut RunDir) -> Result<()> {
    let profile = run.run().profile.clone();
    let other_runtimes: Vec<String> = run
        .results
        .run
        .runtimes
        .iter()
        .filter(|(_, info)| !info.default && info.error.is_none())
        .map(|(name, _)| name.clone())
        .collect();
    let on_runtimes: Vec<Backend> = backends
        .iter()
        .flat_map(|b| other_runtimes.iter().filter_map(|r| b.on_runtime(r)))
        .collect();
    for backend in backends.iter().chain(&on_runtimes) {
        if !backend.missing_artifacts(root, &profile).is_empty() {
            continue;
        }
        let measured = measure(backend, root, &profile);
        let size = run
            .results
            .backend_mut(backend.name())
            .size
            .get_or_insert_default();
        let processes = size.processes;
        *size = Size {
            processes,
            ..measured
        };
        run.save()?;
    }
    Ok(())
}

/// The terminal table: what each built backend's deployment ships.
pub fn write_table(
    out: &mut impl std::io::Write,
    run: &RunDir,
    backends: &[Backend],
) -> std::io::Result<()> {
    let mb =
        |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.1}", v as f64 / 1e6));
    writeln!(
        out,
        "{:<10} {:>12} {:>12} {:>11} {:>10} {:>10} {:>6}",
        "backend", "built MB", "stripped MB", "runtime MB", "libs MB", "deploy MB", "files"
    )?;
    for backend in backends {
        let Some(s) = run
            .results
            .backends
            .get(backend.name())
            .and_then(|b| b.size.as_ref())
        else {
            continue;
        };
        let libs: u64 = s.shared_libraries.iter().map(|l| l.bytes).sum();
        writeln!(
            out,
            "{:<10} {:>12} {:>12} {:>11} {:>10} {:>10} {:>6}",
            backend.name(),
            mb(s.artifact_bytes),
            mb(s.artifact_stripped_bytes),
            mb(s.runtime_bytes),
            mb(Some(libs)),
            mb(s.deploy_bytes),
            s.deploy_files
                .map_or_else(|| "-".to_owned(), |f| f.to_string()),
        )?;
    }
    Ok(())
}

/// The size of one backend's deployment (its artifacts must exist).
pub fn measure(backend: &Backend, root: &Path, profile: &str) -> Size {
    let strip_dir = tempfile::tempdir().ok();
    let mut artifacts = Vec::new();
    let mut elves = Vec::new();
    let own_sdk = backend
        .js_runtime
        .as_deref()
        .and_then(|r| contract::runtime::spec(r).ok())
        .filter(|spec| spec.own_sdk);
    for artifact in &backend.manifest.artifacts {
        let mut rel = manifest::for_profile(artifact, profile);
        let mut files = files_under(&root.join(&rel));
        if let Some(spec) = own_sdk.filter(|_| rel == SIDECAR_DIST) {
            // The stack's bundles of the same sources; the reference server bundled beside
            // them is the bench's, not the deployment's.
            rel = format!("{}/dist", spec.dir());
            files = files_under(&root.join(&rel))
                .into_iter()
                .filter(|f| !f.ends_with(AISDK_NODE_BUNDLE))
                .collect();
        }
        let bytes = files.iter().map(|f| file_bytes(f)).sum();
        // Bytes stripping saved, over the ELF files that could be stripped.
        let mut saved: Option<u64> = None;
        for f in files.iter().filter(|f| is_elf(f)) {
            elves.push(f.clone());
            if let Some(s) = strip_dir.as_ref().and_then(|d| stripped_bytes(f, d.path())) {
                saved = Some(saved.unwrap_or(0) + file_bytes(f).saturating_sub(s));
            }
        }
        let stripped = saved.map(|s| bytes - s);
        artifacts.push(ArtifactSize {
            path: rel,
            files: files.len() as u64,
            bytes,
            stripped_bytes: stripped,
        });
    }
    let runtime = (backend.manifest.runtime == Runtime::Node)
        .then(|| runtime_binary(root, backend.runtime_name()))
        .flatten();
    if let Some((path, _)) = &runtime {
        elves.push(path.clone());
    }
    let shared_libraries = shared_libraries(&elves);
    let artifact_bytes: u64 = artifacts.iter().map(|a| a.bytes).sum();
    let any_stripped = artifacts.iter().any(|a| a.stripped_bytes.is_some());
    let shipped: u64 = artifacts
        .iter()
        .map(|a| a.stripped_bytes.unwrap_or(a.bytes))
        .sum();
    let runtime_bytes = match (&runtime, backend.manifest.runtime) {
        (Some((_, r)), _) => Some(r.bytes),
        (None, Runtime::None) => Some(0),
        (None, Runtime::Node) => None,
    };
    let libraries: u64 = shared_libraries.iter().map(|l| l.bytes).sum();
    Size {
        artifact_bytes: Some(artifact_bytes),
        runtime_bytes,
        artifact_stripped_bytes: any_stripped.then_some(shipped),
        deploy_bytes: runtime_bytes.map(|r| shipped + r + libraries),
        deploy_files: Some(
            artifacts.iter().map(|a| a.files).sum::<u64>()
                + u64::from(runtime.is_some())
                + shared_libraries.len() as u64,
        ),
        processes: None,
        artifacts,
        runtime: runtime.map(|(_, r)| r),
        shared_libraries,
    }
}

/// The regular files at `path` (itself, or everything below it).
fn files_under(path: &Path) -> Vec<PathBuf> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Vec::new();
    };
    if !meta.is_dir() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            files.extend(files_under(&entry.path()));
        }
    }
    files.sort();
    files
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == ELF_MAGIC
}

/// The size of a stripped copy of `file` (made in `scratch`); `None` if `strip` fails or is
/// missing.
fn stripped_bytes(file: &Path, scratch: &Path) -> Option<u64> {
    let copy = scratch.join(file.file_name()?);
    std::fs::copy(file, &copy).ok()?;
    let ok = Command::new("strip").arg(&copy).status().ok()?.success();
    let bytes = ok.then(|| file_bytes(&copy));
    let _ = std::fs::remove_file(&copy);
    bytes
}

/// The pinned binary of `runtime` (contract::runtime: Node.js of the default stack, or Bun,
/// ...), with its size and version: what a deployment ships beside the artifacts.
fn runtime_binary(root: &Path, runtime: &str) -> Option<(PathBuf, RuntimeSize)> {
    let found = contract::runtime::resolve(root, runtime).ok()?;
    let binary = found.binary.canonicalize().ok()?;
    let bytes = file_bytes(&binary);
    Some((
        binary.clone(),
        RuntimeSize {
            name: binary.file_name()?.to_string_lossy().into_owned(),
            version: crate::tools::version(None, &found.binary),
            bytes,
        },
    ))
}

/// The libraries `ldd` says the ELF files load, the C library's family left out.
fn shared_libraries(elves: &[PathBuf]) -> Vec<FileSize> {
    let mut found: Vec<FileSize> = Vec::new();
    for elf in elves {
        let Ok(out) = Command::new("ldd").arg(elf).output() else {
            continue;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((name, rest)) = line.trim().split_once(" => ") else {
                continue;
            };
            let name = name.trim();
            if BASE_LIBRARIES.iter().any(|b| name.starts_with(b))
                || found.iter().any(|f| f.name == name)
            {
                continue;
            }
            let path = rest.split_whitespace().next().unwrap_or_default();
            found.push(FileSize {
                name: name.to_owned(),
                bytes: file_bytes(Path::new(path)),
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_artifacts_as_built_and_stripped_without_touching_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // An ELF the test can strip: a copy of a binary every system has.
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        std::fs::create_dir_all(root.join("out/dist")).unwrap();
        std::fs::copy(&sh, root.join("out/server")).unwrap();
        std::fs::write(root.join("out/dist/a.js"), "x".repeat(10)).unwrap();
        std::fs::write(root.join("out/dist/b.js"), "y".repeat(5)).unwrap();
        let toml = "name = \"b\"\nsummary = \"s\"\nstart = [\"out/server\"]\nartifacts = [\"out/server\", \"out/dist\"]\nruntime = \"none\"\n";
        std::fs::write(root.join("backend.toml"), toml).unwrap();
        let backend = manifest::load(&root.join("backend.toml")).unwrap();
        let built = file_bytes(&root.join("out/server"));
        let size = measure(&backend, root, "release");
        assert_eq!(size.artifact_bytes, Some(built + 15));
        assert_eq!(size.artifacts[1].files, 2);
        assert_eq!(size.runtime_bytes, Some(0), "no runtime: none shipped");
        assert_eq!(
            file_bytes(&root.join("out/server")),
            built,
            "the built file is untouched"
        );
        if let Some(stripped) = size.artifact_stripped_bytes {
            assert!(stripped <= built + 15);
        }
        assert_eq!(
            size.deploy_files,
            Some(3 + size.shared_libraries.len() as u64)
        );
    }
}
