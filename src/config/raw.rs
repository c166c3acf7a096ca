//! The configuration file as written: serde structs with documented defaults.
//! Everything here is checked by `validate` before the agent uses it; every field and its
//! default is described in `docs/configuration.md` (keep the two in step).

use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `sidecar` (next to one service) or `node_agent` (one per node): sets defaults that
    /// differ between the two, such as where a file source starts on its first run.
    #[serde(default)]
    pub role: Role,
    /// Where the agent keeps its state (checkpoints, disk buffer).
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    #[serde(default)]
    pub admin: AdminSection,
    #[serde(default)]
    pub shutdown: ShutdownSection,
    #[serde(default)]
    pub pipeline: PipelineSection,
    #[serde(default)]
    pub redaction: RedactionSection,
    #[serde(
        default,
        skip_serializing_if = "crate::metrics::config::MetricsSection::is_empty"
    )]
    pub metrics: crate::metrics::config::MetricsSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<crate::latency::config::LatencySection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<super::slo::SloSection>,
    /// Log sources; a configuration with only sinks of metrics (remote write) needs none.
    #[serde(default)]
    pub sources: BTreeMap<String, crate::logs::source::SourceType>,
    pub sinks: BTreeMap<String, crate::sink::SinkType>,
}

pub use crate::settings::Role;

fn default_data_dir() -> String {
    "/var/lib/vigia".to_owned()
}

pub use crate::admin::config::AdminSection;

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

/// Redaction of secrets in every event, before anything leaves the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionSection {
    /// `false` turns every rule off.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Built-in rules to turn off (all of the defaults are on).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Optional built-in rules to turn on: `email`, `ip`.
    #[serde(default)]
    pub enable: Vec<String>,
    /// Your own rules: a name and a regex; matches become `[REDACTED:<name>]`.
    #[serde(default)]
    pub custom: Vec<CustomRedaction>,
}

fn default_true() -> bool {
    true
}

impl Default for RedactionSection {
    fn default() -> Self {
        Self {
            enabled: true,
            disable: Vec::new(),
            enable: Vec::new(),
            custom: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRedaction {
    pub name: String,
    pub pattern: String,
}
