//! The configuration file as written: serde structs with documented defaults.
//! Everything here is checked by `validate` before the agent uses it; every field and its
//! default is described in `docs/configuration.md` (keep the two in step).

use super::duration::HumanDuration;
use crate::logs::frame::{ContainerFormat, MultilineMode};
use crate::logs::parse::Format;
use crate::logs::source::file::discovery::FollowSymlinks;
use crate::logs::source::file::tailer::ReadFrom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Loki's default line limit; lines longer than this are truncated with a marker.
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 * 1024;

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
        skip_serializing_if = "super::metrics::MetricsSection::is_empty"
    )]
    pub metrics: super::metrics::MetricsSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<super::latency::LatencySection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<super::slo::SloSection>,
    pub sources: BTreeMap<String, SourceSpec>,
    pub sinks: BTreeMap<String, SinkSpec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Sidecar,
    NodeAgent,
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
    /// Files matched by globs, tailed through rotation and restarts.
    File(FileSource),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSource {
    /// Longer lines are cut at this size and marked as truncated.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Log format of the lines: auto (detected per line) or one format for every line.
    #[serde(default)]
    pub format: Format,
    /// Container-log framing of the input: auto, cri, docker or raw.
    #[serde(default)]
    pub container: ContainerFormat,
    #[serde(default)]
    pub multiline: MultilineSection,
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

impl Default for StdinSource {
    fn default() -> Self {
        Self {
            max_line_bytes: default_max_line_bytes(),
            format: Format::default(),
            container: ContainerFormat::default(),
            multiline: MultilineSection::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// Glob patterns of the files to read (`**` matches any number of directories).
    pub include: Vec<String>,
    /// Glob patterns of files not to read, even when included.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where to start in files found on the source's first start (no checkpoint yet);
    /// defaults by `role`: `beginning` for a sidecar, `end` for a node agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_from: Option<ReadFrom>,
    /// Log format of the lines: auto (detected per line) or one format for every line.
    #[serde(default)]
    pub format: Format,
    /// Container-log framing: auto (per file), cri, docker or raw.
    #[serde(default)]
    pub container: ContainerFormat,
    #[serde(default)]
    pub multiline: MultilineSection,
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Files held open at most; more wait, and files read to their end make room.
    #[serde(default = "default_max_open_files")]
    pub max_open_files: usize,
    /// After a rotation, how long the old file keeps being read once at its end.
    #[serde(default = "default_rotate_wait")]
    pub rotate_wait: HumanDuration,
    /// How often the globs are matched again (inotify events also trigger it).
    #[serde(default = "default_discovery_interval")]
    pub discovery_interval: HumanDuration,
    /// How often open files are checked for new data without an inotify event.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// How often acknowledged progress is written to the checkpoint; 0s writes on every change.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: HumanDuration,
    /// Which symbolic links to follow: `within_roots` (targets inside an include pattern's
    /// base directory or `symlink_roots`), `always` or `never`.
    #[serde(default)]
    pub follow_symlinks: FollowSymlinks,
    /// Directories links may point into besides the include roots (`/var/log/pods` for the
    /// links in `/var/log/containers`).
    #[serde(default)]
    pub symlink_roots: Vec<String>,
}

fn default_max_open_files() -> usize {
    1024
}

fn default_rotate_wait() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_discovery_interval() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_poll_interval() -> HumanDuration {
    HumanDuration::from_millis(250)
}

fn default_checkpoint_interval() -> HumanDuration {
    HumanDuration::from_secs(1)
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineSection {
    /// auto (every built-in rule), none, java, python, go, ruby, nodejs, or custom.
    #[serde(default)]
    pub mode: MultilineMode,
    /// custom: a line matching this regex starts a new event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_pattern: Option<String>,
    /// custom: a line matching this regex continues the current event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_pattern: Option<String>,
    /// An event ends when no line has joined it for this long.
    #[serde(default = "default_multiline_timeout")]
    pub timeout: HumanDuration,
    /// An event ends at this many lines.
    #[serde(default = "default_multiline_max_lines")]
    pub max_lines: usize,
}

fn default_multiline_timeout() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_multiline_max_lines() -> usize {
    500
}

impl Default for MultilineSection {
    fn default() -> Self {
        Self {
            mode: MultilineMode::default(),
            start_pattern: None,
            continue_pattern: None,
            timeout: default_multiline_timeout(),
            max_lines: default_multiline_max_lines(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkSpec {
    /// One JSON object per line on standard output.
    Console(ConsoleSink),
    /// Grafana Loki's push API.
    Loki(Box<crate::sink::loki::config::LokiSink>),
}

impl SinkSpec {
    /// Source ids whose events this sink receives; empty means every source.
    pub fn inputs(&self) -> &[String] {
        match self {
            SinkSpec::Console(sink) => &sink.inputs,
            SinkSpec::Loki(sink) => &sink.inputs,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSink {
    #[serde(default)]
    pub inputs: Vec<String>,
}
