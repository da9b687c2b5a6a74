//! The cases, each written once over any transport (`support::UnderTest`).

pub mod external;
pub mod security;
pub mod stalled;
pub mod streaming;
pub mod supervision;
