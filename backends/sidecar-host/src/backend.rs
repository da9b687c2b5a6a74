//! The pool of sidecars as a [`ChatBackend`] the core shell serves.

use std::sync::Arc;
use std::time::Duration;

use contract::request_id::RequestId;
use contract::runtime_memory::RuntimeMemory;
use contract::ui_message::ChatRequest;
use leanspec_core::{ApiError, ChatBackend, Health, SseBody};
use tokio_util::sync::CancellationToken;

use crate::args::SidecarWire;
use crate::member::Phase;
use crate::pool::{Pool, PoolHealth};
use crate::transport::Endpoint;
use crate::{frames_relay, relay};

#[derive(Debug)]
pub struct SidecarBackend<E: Endpoint> {
    /// The backend's name (its transport's).
    name: &'static str,
    pool: Arc<Pool<E>>,
    silence_limit: Duration,
    wire: SidecarWire,
}

impl<E: Endpoint> SidecarBackend<E> {
    /// `silence_limit`: a sidecar silent this long mid-stream is stuck; the relay ends the
    /// stream with an error (see [`relay::silence_backstop`]).
    /// `wire`: how streams cross to the sidecars (docs/frames.md).
    pub fn new(
        name: &'static str,
        pool: Arc<Pool<E>>,
        silence_limit: Duration,
        wire: SidecarWire,
    ) -> Self {
        Self {
            name,
            pool,
            silence_limit,
            wire,
        }
    }

    pub fn pool(&self) -> &Arc<Pool<E>> {
        &self.pool
    }
}

impl<E: Endpoint> ChatBackend for SidecarBackend<E> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn chat(
        &self,
        request: ChatRequest,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        let (pool, silence) = (&self.pool, self.silence_limit);
        match self.wire {
            SidecarWire::Sse => {
                relay::forward_chat(pool, &request, &request_id, silence, cancel).await
            }
            SidecarWire::Frames => {
                frames_relay::forward_chat(pool, &request, &request_id, silence, cancel).await
            }
        }
    }

    fn health(&self) -> Health {
        match self.pool.health() {
            PoolHealth::Up => Health::Ok,
            PoolHealth::Down { retry_after } => Health::Unavailable {
                retry_after_s: relay::retry_after_seconds(retry_after),
                reason: relay::SIDECAR_DOWN.into(),
            },
        }
    }

    fn runtime_pid(&self) -> Option<u32> {
        self.pool.runtime_pid()
    }

    /// Every live sidecar asked at once; one that does not answer within
    /// [`MEMORY_TIMEOUT`] is left out.
    async fn runtime_memory(&self) -> Vec<RuntimeMemory> {
        let asks = self.pool.members().iter().filter_map(|m| match m.phase() {
            Phase::Up { client } => Some(async move { client.memory(MEMORY_TIMEOUT).await }),
            Phase::Down { .. } => None,
        });
        futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// How long `/health/runtime` waits for a sidecar's figures: a sample a second must not pile
/// up behind a sidecar whose event loop is busy.
const MEMORY_TIMEOUT: Duration = Duration::from_millis(500);
