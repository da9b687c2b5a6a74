//! The one way the harness writes a file a reader may open at any moment (results.json while a
//! run goes on, the report, the build cache, the gate study, the schema): a temp file beside it,
//! then a rename, so a reader sees the old file or the new one and never half of either.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically, creating its folder when missing.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = temp_beside(path);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// [`write`] of `value` as pretty-printed JSON.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)
        .with_context(|| format!("cannot serialise {}", path.display()))?;
    write(path, json)
}

/// `.<name>.<pid>.tmp` in the same folder: the same file system, so the rename is atomic, and
/// the process id keeps two harnesses writing one file from sharing a temp file.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/results.json");
        write(&path, "old").expect("first write");
        write_json(&path, &serde_json::json!({"a": 1})).expect("second write");
        let text = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(text, "{\n  \"a\": 1\n}");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("results.json")]);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").expect("a plain file");
        let err = write(&blocker.join("results.json"), "x").expect_err("a file is no folder");
        assert!(format!("{err:#}").contains("cannot create"), "{err:#}");
    }
}
