//! An OpenAI-compatible mock provider that every architecture of the arena is driven by.
//!
//! Why it exists: the four backends must be measured against the same model, one whose delays
//! are fixed and whose answers are scripted, so that what differs between runs is the backend.
//! The scenario comes from a `[[scenario:NAME key=value ...]]` directive in the last user
//! message (`contract::scenario`), because message text is what passes unchanged through every
//! architecture. The mock keeps a timeline (arrival, each chunk's send time, end, client gone)
//! in `CLOCK_MONOTONIC` nanoseconds, which the harness subtracts from its own readings.
//!
//! Layout, in the order a request flows:
//! - [`server`]: accept loop, routes, [`spawn`] / [`serve`], [`MockHandle`];
//! - [`handlers`]: the routes; [`request`]: lenient request reading;
//! - [`script`]: what each scenario says, step by step;
//! - [`stream`]: the script on absolute deadlines, as an SSE body; [`complete`]: `stream: false`;
//! - [`chunks`]: OpenAI chunks from async-openai's types; [`timer`]: sub-millisecond deadlines;
//! - [`timeline`]: the record; [`error`]: OpenAI-style error bodies; [`config`]: settings;
//! - [`relay`]: the zero-work relay the bench puts in front of the mock (its own binary,
//!   `arena-relay`), built here so that it comes in the run's profile with the mock.

pub mod chunks;
pub mod complete;
pub mod config;
pub mod error;
pub mod handlers;
pub mod relay;
pub mod request;
pub mod script;
pub mod server;
pub mod stream;
pub mod timeline;
pub mod timer;

pub use config::MockConfig;
pub use error::MockError;
pub use server::{MockHandle, serve, spawn};
pub use timeline::TimelineStore;
