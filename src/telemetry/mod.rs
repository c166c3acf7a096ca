//! The agent's own observability: its Prometheus registry with typed metric handles, and the
//! `tracing` setup for its own logs (stderr, never mixed with the console sink's stdout).

pub mod admin;
pub mod agent_metrics;
pub mod delivery;
pub mod health;
pub mod logging;
pub mod loki;
pub mod register;
pub mod remote_write;

pub use agent_metrics::AgentMetrics;
