//! The system's Chromium, found by one rule for every check that drives a browser (the chat
//! page's browser suite here, the report's check in the harness): `$CHROMIUM` when set, else the
//! first of Debian's `chromium` or other distributions' `chromium-browser` on PATH. Nothing ever
//! downloads a browser; `scripts/setup` installs Debian's package when none is found.

use std::path::PathBuf;

use thiserror::Error;

/// Names a Chromium binary to use instead of the one found on PATH.
pub const CHROMIUM_ENV: &str = "CHROMIUM";
/// What Debian's `chromium` package (and other distributions' builds) install on PATH.
pub const CHROMIUM_NAMES: &[&str] = &["chromium", "chromium-browser"];

#[derive(Debug, Error)]
pub enum ChromiumError {
    #[error(
        "no Chromium found on PATH ({names}): install Debian's `chromium` package (`scripts/setup` \
         does), or set {CHROMIUM_ENV} to a Chromium binary",
        names = CHROMIUM_NAMES.join(", ")
    )]
    NotFound,
    #[error("{CHROMIUM_ENV}={0} is not a file")]
    NotAFile(PathBuf),
}

/// The Chromium to run: `$CHROMIUM`, else the first of [`CHROMIUM_NAMES`] on PATH.
pub fn find() -> Result<PathBuf, ChromiumError> {
    if let Some(path) = std::env::var_os(CHROMIUM_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ChromiumError::NotAFile(path))
        };
    }
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .flat_map(|dir| CHROMIUM_NAMES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or(ChromiumError::NotFound)
}
