//! vigia: an observability sidecar and node agent.
//!
//! Data flows one way (see `docs/architecture.md`): sources read raw lines, the log stages
//! frame, parse and normalize them into [`logs::record::Record`]s, and sinks deliver them and
//! acknowledge back along [`pipeline::ack`], which is what lets checkpoints advance safely.
// `deny`, not `forbid`: `startup_pages` alone allows `unsafe`, for one measured `madvise` call.
#![deny(unsafe_code)]

pub mod admin;
pub mod app;
pub mod build_info;
pub mod cli;
pub mod cmd;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod http_client;
pub mod inject;
pub mod latency;
pub mod logs;
pub mod metrics;
pub mod settings;
pub mod shutdown;
pub mod sink;
pub mod startup_pages;
pub mod telemetry;
pub mod tls;
