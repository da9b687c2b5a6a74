//! The OpenAI-compatible provider, reached with async-openai over plain HTTP.
//!
//! async-openai's own client retries 429 and 5xx three times with its own schedule and hides the
//! response headers; the AI SDK retries twice, 2 s then 4 s, honouring `retry-after-ms` /
//! `retry-after`. So the client is built with the `middleware` feature and [`AiSdkRetry`], a
//! tower service that reproduces `retryWithExponentialBackoffRespectingRetryHeaders`
//! (`ai/src/util/retry-with-exponential-backoff.ts`) around a bare reqwest client. It also
//! bounds each attempt's wait for response headers by the idle timeout.
//!
//! The stream is read here, not by async-openai's `create_stream`: that spawns a task which
//! reads the provider as fast as it sends into an unbounded channel, so a client that stopped
//! reading made this backend hold the whole answer in memory (docs/readers.md#reader-faults).
//! [`Provider::stream`] decodes the body only as the chat loop asks for the next chunk, so a
//! slow client slows the provider through TCP ([`crate::chunks`]). async-openai's types
//! describe every chunk but the plain text one, which [`crate::fast_chunk`] reads without them
//! (the same meaning, a third less time in that stage: docs/rust-hop.md#stage-timestamps), and
//! its errors every failure.
//!
//! reqwest is built without TLS: the provider is a loopback URL (`http://127.0.0.1:PORT/v1`).

use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionStreamOptions, ChatCompletionTool,
    ChatCompletionTools, CreateChatCompletionRequest, FunctionObject,
};
use bytes::Bytes;
use contract::tools::ToolDefinition;
use futures::future::BoxFuture;
use reqwest::header::HeaderMap;

use crate::UpstreamError;
use crate::chunks::chunks_on_demand;
pub use crate::chunks::{ProviderChunk, ProviderStream};

/// The AI SDK's retry defaults (`prepareRetries`, `retryWithExponentialBackoff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`maxRetries`, [`contract::DEFAULT_MAX_RETRIES`]).
    pub max_retries: u32,
    /// Delay before the first retry (`initialDelayInMs`, 2000).
    pub initial_delay: Duration,
    /// Each further retry waits this many times longer (`backoffFactor`, 2).
    pub backoff_factor: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: contract::DEFAULT_MAX_RETRIES,
            initial_delay: Duration::from_secs(2),
            backoff_factor: 2,
        }
    }
}

/// A server-requested delay is honoured only below this bound (or when shorter than the
/// backoff), as `getRetryDelayInMs` does: a provider asking for minutes is not waited for.
const MAX_HONOURED_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where and how to reach the provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Base URL ending in `/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    /// The longest the provider may stay silent: before answering, and between two chunks.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

/// A provider configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ProviderConfigError {
    #[error(
        "--provider-url `{0}` is not an http(s) URL; pass the provider's base URL, e.g. http://127.0.0.1:8080/v1"
    )]
    BadUrl(String),
    #[error("OPENAI_API_KEY contains characters an HTTP header cannot carry; check the variable")]
    BadApiKey,
    #[error("--idle-timeout-s must be at least 1 second")]
    ZeroIdleTimeout,
    #[error("could not build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The provider client every request of the backend shares (connections are pooled).
#[derive(Debug, Clone)]
pub struct Provider {
    http: reqwest::Client,
    service: AiSdkRetry,
    /// `<base>/chat/completions`.
    url: String,
    authorization: String,
    model: String,
    idle_timeout: Duration,
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Result<Self, ProviderConfigError> {
        let url = config.base_url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ProviderConfigError::BadUrl(config.base_url));
        }
        // async-openai builds the Authorization header with `parse().unwrap()`: check the key
        // here, where a bad one is a clear startup error instead of a panic per request.
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", config.api_key))
            .map_err(|_| ProviderConfigError::BadApiKey)?;
        if config.idle_timeout.is_zero() {
            return Err(ProviderConfigError::ZeroIdleTimeout);
        }
        let http = reqwest::Client::builder()
            // A loopback provider must not be sent through a proxy named in the environment.
            .no_proxy()
            .tcp_nodelay(true)
            .build()?;
        let service = AiSdkRetry {
            inner: ReqwestService::new(http.clone()),
            policy: config.retry,
            idle_timeout: config.idle_timeout,
        };
        Ok(Self {
            http,
            service,
            url: format!("{url}/chat/completions"),
            authorization: format!("Bearer {}", config.api_key),
            model: config.model,
            idle_timeout: config.idle_timeout,
        })
    }

    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Starts one streamed completion: resolves once the provider has answered with its
    /// headers (after the retries the AI SDK would make).
    pub async fn stream(
        &self,
        messages: Vec<ChatCompletionRequestMessage>,
        tools: &[ChatCompletionTools],
    ) -> Result<ProviderStream, UpstreamError> {
        let request = CreateChatCompletionRequest {
            model: self.model.clone(),
            messages,
            tools: (!tools.is_empty()).then(|| tools.to_vec()),
            stream: Some(true),
            stream_options: Some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            }),
            ..Default::default()
        };
        let body =
            serde_json::to_vec(&request)
                .map(Bytes::from)
                .map_err(|e| UpstreamError::Internal {
                    detail: format!("cannot serialise the provider request: {e}"),
                })?;
        let (http, url, authorization) = (
            self.http.clone(),
            self.url.clone(),
            self.authorization.clone(),
        );
        let factory = HttpRequestFactory::new(move || {
            let request = http
                .post(&url)
                .header(reqwest::header::AUTHORIZATION, &authorization)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .build();
            async move { request.map_err(OpenAIError::Reqwest) }
        });
        use tower::ServiceExt;
        let response = self
            .service
            .clone()
            .oneshot(factory)
            .await
            .map_err(UpstreamError::from_openai)?;
        Ok(Box::pin(chunks_on_demand(response.bytes_stream())))
    }
}

/// The tool list in the provider's format, as `@ai-sdk/openai` sends it (non-strict).
pub fn openai_tools(definitions: &[ToolDefinition]) -> Vec<ChatCompletionTools> {
    definitions
        .iter()
        .map(|d| {
            ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: d.name.clone(),
                    description: Some(d.description.clone()),
                    parameters: Some(d.input_schema.clone()),
                    strict: None,
                },
            })
        })
        .collect()
}

/// The AI SDK's retry loop as a tower service (see the module docs).
#[derive(Debug, Clone)]
struct AiSdkRetry {
    inner: ReqwestService,
    policy: RetryPolicy,
    idle_timeout: Duration,
}

impl tower::Service<HttpRequestFactory> for AiSdkRetry {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.run(request).await })
    }
}

impl AiSdkRetry {
    async fn run(mut self, request: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        use tower::{Service, ServiceExt};
        let mut backoff = self.policy.initial_delay;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let call = self.inner.ready().await?.call(request.clone());
            let failure = match tokio::time::timeout(self.idle_timeout, call).await {
                Err(_) => return Err(boxed(UpstreamError::Idle(self.idle_timeout))),
                Ok(Ok(response)) if response.status().is_success() => return Ok(response),
                Ok(Ok(response)) => Failure::from_response(response, self.idle_timeout).await,
                Ok(Err(OpenAIError::Reqwest(e))) if e.is_connect() => Failure {
                    error: UpstreamError::Unreachable {
                        detail: e.to_string(),
                    },
                    retry_after: None,
                },
                Ok(Err(e)) => return Err(e),
            };
            let retryable = match &failure.error {
                UpstreamError::Status { status, .. } => is_retryable_status(*status),
                _ => true,
            };
            if !retryable || attempt > self.policy.max_retries {
                tracing::warn!(attempt, error = %failure.error, detail = failure.error.detail(), "provider request failed");
                return Err(boxed(failure.error));
            }
            let delay = failure
                .retry_after
                .filter(|d| *d < MAX_HONOURED_RETRY_AFTER || *d < backoff)
                .unwrap_or(backoff);
            tracing::warn!(
                attempt,
                error = %failure.error,
                delay_ms = delay.as_millis() as u64,
                "provider request failed; retrying as the AI SDK would"
            );
            tokio::time::sleep(delay).await;
            backoff = backoff.saturating_mul(self.policy.backoff_factor);
        }
    }
}

fn boxed(error: UpstreamError) -> OpenAIError {
    OpenAIError::Boxed(Box::new(error))
}

/// `APICallError.isRetryable`'s default.
fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// One failed attempt.
struct Failure {
    error: UpstreamError,
    retry_after: Option<Duration>,
}

impl Failure {
    /// Keeps the provider's own `error.message` for the log only (see [`crate::error`]).
    async fn from_response(response: reqwest::Response, idle_timeout: Duration) -> Self {
        let status = response.status();
        let retry_after = retry_after(response.headers());
        // The error body only feeds the log: a provider that stalls it must not hold the
        // answer (or the retry) longer than the idle timeout.
        let body = match tokio::time::timeout(idle_timeout, response.bytes()).await {
            Ok(Ok(body)) => body,
            _ => Default::default(),
        };
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Self {
            error: UpstreamError::Status {
                status: status.as_u16(),
                detail,
            },
            retry_after,
        }
    }
}

/// `retry-after-ms` (more precise) or `retry-after` in seconds; an HTTP date is not used.
/// A value no `Duration` can hold (`1e300`) counts as absent, so the backoff applies, as it
/// would to any delay above [`MAX_HONOURED_RETRY_AFTER`].
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str, units_per_second: f64| -> Option<Duration> {
        let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        // `try_from_secs_f64` also rejects negative and non-finite values.
        Duration::try_from_secs_f64(value / units_per_second).ok()
    };
    read("retry-after-ms", 1000.0).or_else(|| read("retry-after", 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_headers_prefer_milliseconds_and_reject_nonsense() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut bad = HeaderMap::new();
        bad.insert("retry-after", "-1".parse().unwrap());
        assert_eq!(retry_after(&bad), None);
        bad.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&bad), None);
        // A provider's header must not be able to panic the backend.
        for huge in ["1e300", "inf", "NaN"] {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", huge.parse().unwrap());
            headers.insert("retry-after-ms", huge.parse().unwrap());
            assert_eq!(retry_after(&headers), None, "{huge}");
        }
    }

    #[test]
    fn retryable_statuses_are_the_ai_sdk_ones() {
        for s in [408, 409, 429, 500, 503] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 404, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn bad_configuration_is_a_clear_error() {
        let config = ProviderConfig {
            base_url: "127.0.0.1:9/v1".into(),
            model: "m".into(),
            api_key: "k".into(),
            idle_timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        };
        assert!(matches!(
            Provider::new(config.clone()),
            Err(ProviderConfigError::BadUrl(_))
        ));
        let bad_key = ProviderConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: "line\nbreak".into(),
            ..config
        };
        assert!(matches!(
            Provider::new(bad_key),
            Err(ProviderConfigError::BadApiKey)
        ));
    }
}
