//! The pool of sidecars as a [`ChatBackend`] the core shell serves.

use std::sync::Arc;
use std::time::Duration;

use contract::ui_message::ChatRequest;
use leanspec_core::{ApiError, ChatBackend, Health, SseBody};
use tokio_util::sync::CancellationToken;

use crate::pool::{Pool, PoolHealth};
use crate::proxy;
use crate::transport::TransportKind;

#[derive(Debug, Clone)]
pub struct SidecarBackend {
    kind: TransportKind,
    pool: Arc<Pool>,
    silence_limit: Duration,
}

impl SidecarBackend {
    /// `silence_limit`: a sidecar silent this long mid-stream is stuck; the relay ends the
    /// stream with an error (see [`proxy::silence_backstop`]).
    pub fn new(kind: TransportKind, pool: Arc<Pool>, silence_limit: Duration) -> Self {
        Self {
            kind,
            pool,
            silence_limit,
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl ChatBackend for SidecarBackend {
    fn name(&self) -> &'static str {
        self.kind.backend_name()
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        proxy::forward_chat(&self.pool, &request, self.silence_limit, cancel).await
    }

    fn health(&self) -> Health {
        match self.pool.health() {
            PoolHealth::Up => Health::Ok,
            PoolHealth::Down { retry_after } => Health::Unavailable {
                retry_after_s: proxy::retry_after_seconds(retry_after),
                reason: proxy::SIDECAR_DOWN.into(),
            },
        }
    }

    fn runtime_pid(&self) -> Option<u32> {
        self.pool.runtime_pid()
    }
}
