//! The routes: `POST /v1/chat/completions`, `GET /v1/models`, `GET|DELETE /__mock/timeline`,
//! `GET /health`, and OpenAI-style errors for everything else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use contract::clock::monotonic_ns;
use contract::scenario::{Directive, Scenario};
use contract::timeline::{Timeline, TokenUsage};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::chunks::ChunkFactory;
use crate::complete::complete;
use crate::config::MockConfig;
use crate::error::ApiError;
use crate::request::ChatRequest;
use crate::script;
use crate::stream::{Schedule, ScriptStream};
use crate::timeline::{Recorder, TimelineStore};
use crate::timer::Timer;

/// The largest request body read. Backends accept 1 MiB of UI messages; the provider request
/// built from them (tool results included) stays well within this.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// The header that tells a client which timeline entry its request is.
pub const REQUEST_ID_HEADER: &str = "x-mock-request-id";

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub config: MockConfig,
    pub timeline: TimelineStore,
    pub timer: Timer,
    /// Attempts seen per `http-429` / `http-500` key (scenario and tag, or directive text).
    attempts: Mutex<HashMap<String, u32>>,
}

impl AppState {
    pub fn new(config: MockConfig, timeline: TimelineStore, timer: Timer) -> Self {
        Self {
            config,
            timeline,
            timer,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more attempt of `key` and returns its number, from 1.
    fn next_attempt(&self, key: String) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let n = attempts.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn forget_attempts(&self, tag: Option<&str>) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        match tag {
            None => attempts.clear(),
            Some(t) => {
                let suffix = format!(" tag={t}");
                attempts.retain(|k, _| !k.ends_with(&suffix));
            }
        }
    }
}

type App = State<Arc<AppState>>;

/// `POST /v1/chat/completions`. The arrival time is taken first thing, after hyper parsed the
/// request head and before the body is read.
pub async fn chat_completions(State(app): App, request: Request) -> Response {
    let arrival_ns = monotonic_ns();
    let recorder = app.timeline.begin(arrival_ns);
    let id = recorder.id();
    let mut response = match answer(&app, recorder, arrival_ns, request).await {
        Ok(response) => response,
        Err(response) => response,
    };
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, HeaderValue::from(id));
    response
}

async fn answer(
    app: &AppState,
    recorder: Recorder,
    arrival_ns: u64,
    request: Request,
) -> Result<Response, Response> {
    let reject = |recorder: &Recorder, e: ApiError| {
        recorder.reject(e.status.as_u16(), e.message());
        e.into_response()
    };
    let body = axum::body::to_bytes(request.into_body(), MAX_REQUEST_BYTES)
        .await
        .map_err(|e| reject(&recorder, body_error(&e)))?;
    let chat = ChatRequest::parse(&body).map_err(|e| reject(&recorder, e))?;
    let directive = Directive::find_in(chat.last_user_text().unwrap_or_default()).map_err(|e| {
        reject(
            &recorder,
            ApiError::invalid_request(format!("bad scenario directive: {e}")),
        )
    })?;
    let params = &directive.params;
    let script = script::build(&directive, &chat);
    recorder.update(|r| {
        r.scenario = Some(directive.scenario.name().to_owned());
        r.tag.clone_from(&params.tag);
        r.stream = chat.stream;
        r.step = script.step;
        // Every delta plus finish, usage and [DONE]: no reallocation while streaming.
        r.chunks.reserve_exact(script.deltas.len() + 3);
    });

    if let Some(error) = injected_error(app, &directive) {
        return Err(reject(&recorder, error));
    }

    let prompt_tokens = chat.prompt_tokens();
    let completion_tokens = script.completion_tokens();
    let usage = TokenUsage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens.saturating_add(completion_tokens),
    };
    recorder.update(|r| {
        r.status = StatusCode::OK.as_u16();
        r.usage = Some(usage);
    });
    let model = chat
        .model
        .clone()
        .unwrap_or_else(|| app.config.model.clone());
    let factory = ChunkFactory::new(recorder.id(), unix_seconds(), model);
    let schedule = Schedule::new(arrival_ns, params.ttft_ms, params.gap_ms, &script);
    let timer = app.timer.clone();
    if !chat.stream {
        return Ok(complete(script, factory, schedule, usage, recorder, timer).await);
    }
    let usage = chat.include_usage.then_some(usage);
    let stream = ScriptStream::new(script, factory, schedule, usage, recorder, timer);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// `http-429` and `http-500`: an error for the first `fail_times` attempts (all, when unset).
/// Attempts are counted per scenario and tag, or per directive text when there is no tag.
fn injected_error(app: &AppState, directive: &Directive) -> Option<ApiError> {
    let params = &directive.params;
    let scenario = directive.scenario;
    if !matches!(scenario, Scenario::Http429 | Scenario::Http500) {
        return None;
    }
    let attempt = app.next_attempt(attempt_key(directive));
    if params.fail_times.is_some_and(|n| attempt > n) {
        return None;
    }
    Some(match scenario {
        Scenario::Http429 => ApiError::rate_limited(params.retry_after_s, attempt),
        _ => ApiError::server_error(attempt),
    })
}

fn attempt_key(directive: &Directive) -> String {
    match &directive.params.tag {
        Some(tag) => format!("{} tag={tag}", directive.scenario.name()),
        None => directive.render(),
    }
}

fn body_error(e: &axum::Error) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return ApiError::too_large(MAX_REQUEST_BYTES);
        }
        source = s.source();
    }
    ApiError::invalid_request(format!("could not read the request body: {e}"))
}

fn unix_seconds() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// `GET /v1/models`: the one model the mock plays.
pub async fn models(State(app): App) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": app.config.model, "object": "model", "created": 0, "owned_by": "mock-provider"}],
    }))
}

#[derive(Debug, Deserialize)]
pub struct TagFilter {
    tag: Option<String>,
}

/// `GET /__mock/timeline[?tag=T]`.
pub async fn timeline(State(app): App, Query(filter): Query<TagFilter>) -> Json<Timeline> {
    Json(app.timeline.snapshot(filter.tag.as_deref()))
}

/// `DELETE /__mock/timeline[?tag=T]`: forgets those requests and their `http-429`/`http-500`
/// attempt counts.
pub async fn clear_timeline(State(app): App, Query(filter): Query<TagFilter>) -> Json<Value> {
    let tag = filter.tag.as_deref();
    let cleared = app.timeline.clear(tag);
    app.forget_attempts(tag);
    Json(json!({ "cleared": cleared }))
}

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "backend": "mock-provider"}))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

pub async fn method_not_allowed(uri: Uri) -> Response {
    let mut e = ApiError::invalid_request(format!("{} does not accept this method", uri.path()));
    e.status = StatusCode::METHOD_NOT_ALLOWED;
    e.into_response()
}
