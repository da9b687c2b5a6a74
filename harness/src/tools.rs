//! Asking a tool what it is: `TOOL --version`, and a command's output as text. Every part of the
//! harness that records a tool's version (the run's versions, the build study's hash, the size
//! stage's runtime, the toolchains a backend needs) or checks that a tool is there (the
//! prerequisites, valgrind, setpriv, Locust) asks here, so they read a version the same way.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// The trimmed standard output of `program args`, run in `cwd` (the process's own folder when
/// `None`), when it ran, succeeded and printed something. The folder matters for `rustc`:
/// rustup picks the toolchain of the folder's `rust-toolchain.toml`.
pub fn output(cwd: Option<&Path>, program: impl AsRef<OsStr>, args: &[&str]) -> Option<String> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let out = command.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The first line of `program --version` (e.g. `rustc 1.95.0 (…)`, `v26.12.1`), if it runs.
pub fn version(cwd: Option<&Path>, program: impl AsRef<OsStr>) -> Option<String> {
    output(cwd, program, &["--version"])
        .and_then(|text| text.lines().next().map(|l| l.trim().to_owned()))
}

/// Whether `program --version` runs and succeeds: the tool is installed and on the path.
pub fn present(program: impl AsRef<OsStr>) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_runs_gives_its_first_line_and_a_missing_one_nothing() {
        let cargo = version(None, "cargo").expect("cargo runs the tests");
        assert!(cargo.starts_with("cargo "), "{cargo}");
        assert!(!cargo.contains('\n'));
        assert!(present("cargo"));
        assert_eq!(version(None, "no-such-tool-anywhere"), None);
        assert!(!present("no-such-tool-anywhere"));
    }

    #[test]
    fn a_failing_command_is_none_even_when_it_printed() {
        assert_eq!(output(None, "sh", &["-c", "echo printed; exit 3"]), None);
        assert_eq!(
            output(None, "sh", &["-c", "echo ' two words '"]).as_deref(),
            Some("two words")
        );
    }
}
