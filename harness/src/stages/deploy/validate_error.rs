//! What is wrong with one file under `deploy/`, or with the machine that checks it: the error
//! every validator returns ([`super::validate`] and the systemd units' own,
//! [`super::validate_units`]), in a module of its own so that neither imports the other.

use std::path::{Path, PathBuf};

/// What is wrong with one file, or with the machine that checks it.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("{tool} is not installed: {hint}")]
    ToolMissing { tool: String, hint: &'static str },
    #[error("{}: {message}", file.display())]
    Invalid { file: PathBuf, message: String },
    #[error(
        "{}: no validator knows this kind of file (docs/deploy.md#validation lists them)",
        file.display()
    )]
    Unknown { file: PathBuf },
    #[error("{}: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `file` is not what its kind must be, for the reason `message` gives.
pub(super) fn invalid(file: &Path, message: impl Into<String>) -> ValidateError {
    ValidateError::Invalid {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

/// The text of `file`; a read failure names it.
pub(super) fn read(file: &Path) -> Result<String, ValidateError> {
    std::fs::read_to_string(file).map_err(|source| ValidateError::Io {
        file: file.to_path_buf(),
        source,
    })
}
