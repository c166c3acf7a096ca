//! One integration-test binary (faster to link than one per file), with shared support.

mod admin;
mod admin_auth;
mod admin_load;
mod admin_tls;
mod admin_tls_prometheus;
mod alerts;
mod cli;
mod dashboards;
mod docs;
mod examples;
mod exposition;
mod fault_matrix;
mod file_source;
mod latency;
mod layering;
mod loki;
mod metrics;
mod observability;
mod openapi;
mod parse;
mod remote_write;
mod remote_write_prometheus;
mod run;
mod support;
mod tailer_limits;
mod tailer_model;
