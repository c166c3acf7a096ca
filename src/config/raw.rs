//! The configuration file as written: serde structs with documented defaults.
//! Everything here is checked by `validate` before the agent uses it; every field and its
//! default is described in `docs/configuration.md` (keep the two in step).

use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Loki's default line limit; lines longer than this are truncated with a marker.
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the agent keeps its state (checkpoints, disk buffer).
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    #[serde(default)]
    pub admin: AdminSection,
    #[serde(default)]
    pub shutdown: ShutdownSection,
    #[serde(default)]
    pub pipeline: PipelineSection,
    pub sources: BTreeMap<String, SourceSpec>,
    pub sinks: BTreeMap<String, SinkSpec>,
}

fn default_data_dir() -> String {
    "/var/lib/vigia".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[serde(default = "default_admin_listen")]
    pub listen: String,
}

fn default_admin_listen() -> String {
    "0.0.0.0:9100".to_owned()
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: default_admin_listen(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSection {
    /// How long SIGTERM waits for in-flight events to be delivered before giving up.
    #[serde(default = "default_grace_period")]
    pub grace_period: HumanDuration,
}

fn default_grace_period() -> HumanDuration {
    HumanDuration::from_secs(10)
}

impl Default for ShutdownSection {
    fn default() -> Self {
        Self {
            grace_period: default_grace_period(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Capacity, in batches, of each channel between stages. With `batch_max_events`
    /// this bounds the events held in memory between a source and its sinks.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// Largest batch a source hands to the pipeline at once.
    #[serde(default = "default_batch_max_events")]
    pub batch_max_events: usize,
}

fn default_channel_capacity() -> usize {
    8
}

fn default_batch_max_events() -> usize {
    512
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            channel_capacity: default_channel_capacity(),
            batch_max_events: default_batch_max_events(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceSpec {
    /// Lines from the process's standard input.
    Stdin(StdinSource),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSource {
    /// Longer lines are cut at this size and marked as truncated.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

impl Default for StdinSource {
    fn default() -> Self {
        Self {
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkSpec {
    /// One JSON object per line on standard output.
    Console(ConsoleSink),
}

impl SinkSpec {
    /// Source ids whose events this sink receives; empty means every source.
    pub fn inputs(&self) -> &[String] {
        match self {
            SinkSpec::Console(sink) => &sink.inputs,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSink {
    #[serde(default)]
    pub inputs: Vec<String>,
}
