//! Targets the harness did not start (`--target NAME=URL --mock-url URL`): one of `deploy/`,
//! or a team's own deployment, pointed at a mock provider that runs on its own (`harness
//! mock`). The conformance suite plays against it first ([`conformance::external`]); only a
//! target that passed is measured, and only what a client and that mock can see
//! (docs/distributed.md#what-a-shared-clock-changes).

use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

pub mod client;
pub mod crash;
pub mod measure;
pub mod soak;
pub mod stage;

/// A `--target` flag: a label for results.json and the deployment's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub name: String,
    pub url: String,
}

/// Bad input about a target or the mock: the command exits 2 with this text.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("--target wants NAME=URL (e.g. rust-only=http://10.0.0.5:3030), got {0:?}")]
    Malformed(String),
    #[error(
        "--target {0:?}: the name may hold letters, digits, `-`, `_` and `.` (it names a folder)"
    )]
    BadName(String),
    #[error("{0:?} is not an http:// URL with a host (e.g. http://10.0.0.5:3030)")]
    BadUrl(String),
    #[error("{what} at {url} is unreachable: {reason}")]
    Unreachable {
        what: &'static str,
        url: String,
        reason: String,
    },
}

/// Parses `NAME=URL` (clap's value parser for `--target`).
pub fn parse_target(s: &str) -> Result<TargetSpec, TargetError> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| TargetError::Malformed(s.to_owned()))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(TargetError::BadName(name.to_owned()));
    }
    Ok(TargetSpec {
        name: name.to_owned(),
        url: parse_url(url.trim())?,
    })
}

/// An `http://host[:port][/path]` base URL without its trailing slash.
pub fn parse_url(url: &str) -> Result<String, TargetError> {
    let bad = || TargetError::BadUrl(url.to_owned());
    let parsed = reqwest::Url::parse(url).map_err(|_| bad())?;
    if parsed.scheme() != "http" || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Whether the mock at `mock_url` reads this machine's clock: it answers on a loopback
/// address, so its `CLOCK_MONOTONIC` stamps subtract from the client's.
pub fn shares_clock(mock_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(mock_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How long a target may take to answer `GET /health` before it counts as unreachable.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET {url}/health` answers (any status: a 503 is a target that is there but not ready,
/// which the suite then reports); a refused or silent address is [`TargetError::Unreachable`].
pub async fn check_reachable(what: &'static str, url: &str, path: &str) -> Result<(), TargetError> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(REACH_TIMEOUT)
        .build()
        .map_err(|e| TargetError::Unreachable {
            what,
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    http.get(format!("{url}{path}"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| TargetError::Unreachable {
            what,
            url: url.to_owned(),
            reason: root_cause(&e),
        })
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_target("rust-only=http://127.0.0.1:3030/"),
            Ok(TargetSpec {
                name: "rust-only".into(),
                url: "http://127.0.0.1:3030".into()
            })
        );
        assert!(matches!(
            parse_target("http://x:1"),
            Err(TargetError::BadName(_)) | Err(TargetError::Malformed(_))
        ));
        assert_eq!(
            parse_target("nourl"),
            Err(TargetError::Malformed("nourl".into()))
        );
        assert!(matches!(
            parse_target("a/b=http://x"),
            Err(TargetError::BadName(_))
        ));
        assert!(matches!(
            parse_target("a=ftp://x"),
            Err(TargetError::BadUrl(_))
        ));
        assert!(matches!(
            parse_target("a=localhost:80"),
            Err(TargetError::BadUrl(_))
        ));
    }

    #[test]
    fn only_a_loopback_mock_shares_the_clock() {
        assert!(shares_clock("http://127.0.0.1:9000"));
        assert!(shares_clock("http://[::1]:9000/v1"));
        assert!(shares_clock("http://localhost:9000"));
        assert!(!shares_clock("http://10.0.0.7:9000"));
        assert!(!shares_clock("http://mock.internal:9000"));
    }
}
