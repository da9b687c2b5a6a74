//! systemd units checked with `systemd-analyze verify`. The units name their programs under
//! `/opt/leanspec/` (where docs/deploy.md installs them) and `verify` insists that they exist,
//! so each unit is verified as a copy, beside copies of its sibling units (a `BindsTo=` must
//! resolve), with that prefix moved into a temporary folder holding an empty executable for
//! each program; messages name the original file. Any message is a failure: `verify` exits 0
//! on an unknown key or a value it cannot parse, which it only reports and ignores.

use std::path::Path;
use std::process::Command;

use super::validate_error::{ValidateError, invalid, read};

/// Where the units expect the release files (docs/deploy.md#systemd).
const INSTALL_PREFIX: &str = "/opt/leanspec/";

pub(super) fn verify(file: &Path) -> Result<(), ValidateError> {
    let io = |source| ValidateError::Io {
        file: file.to_path_buf(),
        source,
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .ok_or_else(|| invalid(file, "not a file"))?;
    let temp = tempfile::tempdir().map_err(io)?;
    let prefix = format!("{}/opt/leanspec/", temp.path().display());
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let sibling = entry.map_err(io)?.path();
        if sibling.extension().is_none_or(|e| e != "service") {
            continue;
        }
        let text = read(&sibling)?;
        for program in programs(&text) {
            let stub = temp.path().join(program.trim_start_matches('/'));
            if let Some(parent) = stub.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&stub, "").map_err(io)?;
            set_executable(&stub).map_err(io)?;
        }
        let copy = temp.path().join(sibling.file_name().unwrap_or_default());
        std::fs::write(copy, text.replace(INSTALL_PREFIX, &prefix)).map_err(io)?;
    }
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(temp.path().join(name))
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ValidateError::ToolMissing {
                tool: "systemd-analyze".into(),
                hint: "Debian's systemd package provides it; without it the units under deploy/ \
                       are not verified",
            },
            _ => io(e),
        })?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let said = said.replace(&prefix, INSTALL_PREFIX).replace(
        &temp.path().display().to_string(),
        &dir.display().to_string(),
    );
    if output.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(invalid(
            file,
            format!("systemd-analyze verify says:\n{}", said.trim()),
        ))
    }
}

/// The programs the unit starts from the install prefix (`ExecStart=` and the other `Exec*=`).
fn programs(unit: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|line| line.trim().strip_prefix("Exec"))
        .filter_map(|rest| rest.split_once('='))
        .filter_map(|(_, command)| {
            let program = command.trim().trim_start_matches(['-', '@', ':', '+', '!']);
            program.split_whitespace().next().map(str::to_owned)
        })
        .filter(|program| program.starts_with(INSTALL_PREFIX))
        .collect()
}

fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_the_exec_lines_under_the_install_prefix() {
        let unit = "[Service]\nExecStart=/opt/leanspec/bin/x --flag \\\n  more\nExecStartPre=-/usr/bin/true\nExecStopPost=+/opt/leanspec/bin/y\n";
        assert_eq!(
            programs(unit),
            ["/opt/leanspec/bin/x", "/opt/leanspec/bin/y"]
        );
    }
}
