//! The flags every backend shares (docs/architecture.md, "Common server flags"), and the API
//! key, which is read from the environment only and never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::rate_limit::RateLimit;

pub use contract::API_KEY_ENV;

/// Flatten into a backend's own clap parser with `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address of the public listener; port 0 lets the kernel pick (see the ready line).
    #[arg(long, default_value = "127.0.0.1:3030")]
    pub listen: SocketAddr,
    /// OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1.
    #[arg(long, value_parser = parse_provider_url)]
    pub provider_url: String,
    /// Model name sent to the provider.
    #[arg(long, default_value = contract::DEFAULT_MODEL)]
    pub model: String,
    /// The spec corpus the tools and the REST API read.
    #[arg(long, default_value = "fixtures/specs")]
    pub specs_dir: PathBuf,
    /// Per-client limit on POST /api/chat: `N/min`, or `off` for benchmarks.
    #[arg(long, default_value = "10/min")]
    pub rate_limit: RateLimit,
    /// Adds the `__crash` and `__panic` tools and allows `--inject-delay-us` and
    /// `--inject-cpu-us`. Never in
    /// production.
    #[arg(long)]
    pub enable_fault_injection: bool,
    /// Holds every text chunk this many microseconds before it is forwarded: a known
    /// regression for the bench stage's self-check (docs/bench.md#self-check).
    #[arg(long, requires = "enable_fault_injection", value_name = "N")]
    pub inject_delay_us: Option<u64>,
    /// Burns this many microseconds of CPU per text chunk before it is forwarded: a known cost
    /// the bench stage's CPU at load must read back (docs/bench.md#cpu-at-load).
    #[arg(long, requires = "enable_fault_injection", value_name = "N")]
    pub inject_cpu_us: Option<u64>,
    /// An upstream silent this many seconds ends the stream with an error.
    #[arg(
        long,
        default_value_t = contract::DEFAULT_IDLE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub idle_timeout_s: u64,
    /// Retries of a provider request that failed with 408/409/429/5xx or could not connect,
    /// with the AI SDK's backoff (2 s, then 4 s; `Retry-After` honoured); 0 fails at once.
    #[arg(long, default_value_t = contract::DEFAULT_MAX_RETRIES)]
    pub max_retries: u32,
    /// From `OPENAI_API_KEY`; deliberately not a flag, so it never shows in `ps`.
    #[arg(skip = ApiKey::from_env())]
    pub api_key: ApiKey,
}

/// An `http://` or `https://` URL, without a trailing slash (clients append `/chat/completions`).
fn parse_provider_url(value: &str) -> Result<String, String> {
    let url = value.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{value:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{value:?} has no host"));
    }
    Ok(url.to_owned())
}

/// The provider's API key. Its `Debug` and `Display` never show the value, so logging a
/// struct that holds it cannot leak it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// `OPENAI_API_KEY`, or empty when unset (the mock provider needs none).
    pub fn from_env() -> Self {
        Self(std::env::var(API_KEY_ENV).unwrap_or_default())
    }

    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }

    /// The key itself, for the provider client or the sidecar's environment only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() {
            "ApiKey(<redacted>)"
        } else {
            "ApiKey(<unset>)"
        })
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn defaults_match_the_architecture_doc() {
        let cli = Cli::try_parse_from(["x", "--provider-url", "http://127.0.0.1:1/v1"]).unwrap();
        let args = cli.server;
        assert_eq!(args.listen.to_string(), "127.0.0.1:3030");
        assert_eq!(args.model, "mock-gpt");
        assert_eq!(args.specs_dir, PathBuf::from("fixtures/specs"));
        assert_eq!(args.rate_limit.to_string(), "10/min");
        assert!(!args.enable_fault_injection);
        assert_eq!(args.idle_timeout_s, 60);
        assert_eq!(args.max_retries, 2);
        assert!(
            Cli::try_parse_from(["x"]).is_err(),
            "--provider-url is required"
        );
        assert!(
            Cli::try_parse_from(["x", "--provider-url", "http://h/v1", "--rate-limit", "x"])
                .is_err()
        );
    }

    #[test]
    fn provider_url_and_idle_timeout_are_checked() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["x"], args].concat()).map(|c| c.server);
        let args = parse(&["--provider-url", "http://127.0.0.1:9/v1/"]).unwrap();
        assert_eq!(args.provider_url, "http://127.0.0.1:9/v1");
        for bad in ["127.0.0.1:9/v1", "ftp://host/v1", "http://", "https:///v1"] {
            assert!(parse(&["--provider-url", bad]).is_err(), "{bad}");
        }
        let url = "http://127.0.0.1:9/v1";
        assert!(parse(&["--provider-url", url, "--idle-timeout-s", "0"]).is_err());
        assert_eq!(
            parse(&["--provider-url", url, "--idle-timeout-s", "5"])
                .unwrap()
                .idle_timeout_s,
            5
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let key = ApiKey::new("sk-secret-value");
        assert_eq!(
            format!("{key:?} {key}"),
            "ApiKey(<redacted>) ApiKey(<redacted>)"
        );
        assert_eq!(key.expose(), "sk-secret-value");
    }
}
