//! LeanSpec core: everything the four chat backends share, so that each backend's own code is
//! only its chat path.
//!
//! Why it exists: the unix, http, napi and rust-only backends must answer the same external
//! API (docs/design.md#external-api) with the same statuses, limits, tools and stream framing; any difference
//! outside the chat path would pollute the comparison they exist for.
//!
//! Layout:
//! - corpus: [`spec`] (what a spec is), [`spec_store`] (load + index once), [`search_index`]
//!   (inverted index, ranking), [`spec_api`] (the three operations REST and tools share),
//!   [`corpus_gen`] (the `gen-specs` generator for scale runs);
//! - tools: [`tools`] ([`Toolbox`]: definitions with JSON Schemas, execution that turns every
//!   failure, panics included, into a tool result), [`internal`] (the callback router for a JS
//!   runtime, behind its credential);
//! - the shell: [`args`] ([`ServerArgs`]), [`backend`] ([`ChatBackend`], the trait a backend
//!   implements), [`server`] ([`router`], [`serve`]), `chat_route` (`/api/chat` checks and the
//!   SSE response), [`chat_request`] (body validation), [`rest`], [`rate_limit`], [`error`]
//!   ([`ApiError`]), [`ui_stream`] (chunk → frame encoder, [`SseBody`]), [`launch`] (tracing,
//!   signals, ready line for the bins), `inject` (the self-check's `--inject-delay-us`),
//!   [`page`] (the chat page at `GET /`, compiled in from `web/dist`), [`stage_clock`] (per-chunk
//!   stage timestamps, off unless asked for);
//! - bins: `gen-specs` (corpus generator) and `leanspec-echo` (the shell around a backend that
//!   echoes the user's text, for process-level tests and smoke runs without a provider).
//!
//! Differences from the interface first agreed (docs/architecture.md, "backends/core"):
//! - `ChatBackend::chat` is declared `fn chat(..) -> impl Future<Output = ..> + Send`, so the
//!   future is `Send` for axum; implementations still write `async fn chat`.
//! - `Health::Unavailable` carries a `reason` besides `retry_after_s` (shown in the 503 body).
//! - `SpecStore::search(query, limit)` takes the number of hits wanted.
//! - `serve(listener, backend, state, shutdown)` takes a [`CoreState`] built by
//!   [`CoreState::from_args`] (or [`CoreState::new`]); [`BoundServer`] is the `run_main` helper.
//! - `internal_router(toolbox, InternalAuth)`: [`InternalAuth::Transport`] for the 0600 Unix
//!   socket, [`InternalAuth::Bearer`] for loopback TCP.
//! - The rate limit applies to `POST /api/chat` only; health, REST and tools are cheap
//!   in-memory reads.
//! - `list_specs` answers one page (at most [`spec_api::DEFAULT_LIST_LIMIT`] specs) with the
//!   total `count` and `next_offset`; REST pages with `?offset=&limit=`.

pub mod args;
pub mod backend;
pub mod chat_request;
mod chat_route;
pub mod corpus_gen;
pub mod error;
mod inject;
pub mod internal;
pub mod launch;
pub mod page;
pub mod rate_limit;
pub mod rest;
pub mod search_index;
pub mod server;
pub mod spec;
pub mod spec_api;
pub mod spec_store;
pub mod stage_clock;
pub mod tools;
pub mod ui_stream;

pub use args::{ApiKey, ServerArgs};
pub use backend::{ChatBackend, Health};
pub use error::ApiError;
pub use internal::{InternalAuth, internal_router, random_bearer_token};
pub use launch::{BoundServer, init_tracing, print_ready_line, shutdown_signal};
pub use rate_limit::{RateLimit, RateLimiter};
pub use server::{CLIENT_SEND_BUFFER, CoreState, router, serve};
pub use spec::{Spec, SpecSummary, Status};
pub use spec_store::{SpecStore, SpecStoreError};
/// Re-exported so backends name the same token type the shell fires.
pub use tokio_util::sync::CancellationToken;
pub use tools::Toolbox;
pub use ui_stream::{ChunkSender, ClientGone, SseBody};
