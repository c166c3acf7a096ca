//! From the file as written ([`ConfigFile`]) to a [`Config`] the agent can run, or every
//! problem found, each with its field path.

use super::diagnostics::{Diagnostic, did_you_mean};
use super::raw::{ConfigFile, SinkSpec, SourceSpec};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A configuration that passed validation: every value here is usable as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub admin_listen: SocketAddr,
    pub grace_period: Duration,
    pub channel_capacity: usize,
    pub batch_max_events: usize,
    pub sources: Vec<SourceConfig>,
    pub sinks: Vec<SinkConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub id: String,
    pub kind: SourceKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    Stdin { max_line_bytes: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    pub id: String,
    /// Resolved: the source ids feeding this sink (never empty).
    pub inputs: Vec<String>,
    pub kind: SinkKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    Console,
}

const MIN_LINE_BYTES: usize = 1024;
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
const MAX_GRACE: Duration = Duration::from_secs(3600);

pub fn validate(file: &ConfigFile) -> Result<Config, Vec<Diagnostic>> {
    let mut problems = Vec::new();

    let admin_listen = match file.admin.listen.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            problems.push(Diagnostic::new(
                "admin.listen",
                format!(
                    "`{}` is not a socket address (expected `IP:PORT`, e.g. `0.0.0.0:9100` or `[::1]:9100`)",
                    file.admin.listen
                ),
            ));
            None
        }
    };

    let grace_period = file.shutdown.grace_period.0;
    if grace_period.is_zero() || grace_period > MAX_GRACE {
        problems.push(Diagnostic::new(
            "shutdown.grace_period",
            format!(
                "must be between 1ms and 1h, got {}",
                file.shutdown.grace_period
            ),
        ));
    }
    if file.data_dir.trim().is_empty() {
        problems.push(Diagnostic::new("data_dir", "must not be empty"));
    }
    check_range(
        &mut problems,
        "pipeline.channel_capacity",
        file.pipeline.channel_capacity,
        1,
        4096,
    );
    check_range(
        &mut problems,
        "pipeline.batch_max_events",
        file.pipeline.batch_max_events,
        1,
        65_536,
    );

    if file.sources.is_empty() {
        problems.push(Diagnostic::new(
            "sources",
            "at least one source is required",
        ));
    }
    if file.sinks.is_empty() {
        problems.push(Diagnostic::new("sinks", "at least one sink is required"));
    }

    let sources: Vec<SourceConfig> = file
        .sources
        .iter()
        .map(|(id, spec)| {
            check_component_id(&mut problems, "sources", id);
            let kind = match spec {
                SourceSpec::Stdin(stdin) => {
                    check_range(
                        &mut problems,
                        &format!("sources.{id}.max_line_bytes"),
                        stdin.max_line_bytes,
                        MIN_LINE_BYTES,
                        MAX_LINE_BYTES,
                    );
                    SourceKind::Stdin {
                        max_line_bytes: stdin.max_line_bytes,
                    }
                }
            };
            SourceConfig {
                id: id.clone(),
                kind,
            }
        })
        .collect();
    let stdin_sources = sources
        .iter()
        .filter(|s| matches!(s.kind, SourceKind::Stdin { .. }))
        .count();
    if stdin_sources > 1 {
        problems.push(Diagnostic::new(
            "sources",
            "only one `stdin` source can exist: the process has one standard input",
        ));
    }

    let source_ids: Vec<&str> = file.sources.keys().map(String::as_str).collect();
    let mut consumed = BTreeSet::new();
    let sinks: Vec<SinkConfig> = file
        .sinks
        .iter()
        .map(|(id, spec)| {
            check_component_id(&mut problems, "sinks", id);
            let inputs = resolve_inputs(&mut problems, id, spec.inputs(), &source_ids);
            consumed.extend(inputs.iter().cloned());
            let kind = match spec {
                SinkSpec::Console(_) => SinkKind::Console,
            };
            SinkConfig {
                id: id.clone(),
                inputs,
                kind,
            }
        })
        .collect();

    if !file.sinks.is_empty() {
        for id in source_ids.iter().filter(|id| !consumed.contains(**id)) {
            problems.push(Diagnostic::new(
                format!("sources.{id}"),
                "this source is not an input of any sink: its events would be read and thrown away",
            ));
        }
    }

    match (admin_listen, problems.is_empty()) {
        (Some(admin_listen), true) => Ok(Config {
            data_dir: PathBuf::from(&file.data_dir),
            admin_listen,
            grace_period,
            channel_capacity: file.pipeline.channel_capacity,
            batch_max_events: file.pipeline.batch_max_events,
            sources,
            sinks,
        }),
        _ => Err(problems),
    }
}

fn resolve_inputs(
    problems: &mut Vec<Diagnostic>,
    sink_id: &str,
    inputs: &[String],
    source_ids: &[&str],
) -> Vec<String> {
    if inputs.is_empty() {
        return source_ids.iter().map(|id| (*id).to_owned()).collect();
    }
    let mut seen = BTreeSet::new();
    for (index, input) in inputs.iter().enumerate() {
        let path = format!("sinks.{sink_id}.inputs[{index}]");
        if !source_ids.contains(&input.as_str()) {
            let hint = match did_you_mean(input, source_ids.iter().copied()) {
                Some(suggestion) => format!("; did you mean `{suggestion}`?"),
                None => format!(" (sources: {})", source_ids.join(", ")),
            };
            problems.push(Diagnostic::new(
                path,
                format!("unknown source `{input}`{hint}"),
            ));
        } else if !seen.insert(input.as_str()) {
            problems.push(Diagnostic::new(path, format!("`{input}` is listed twice")));
        }
    }
    inputs.to_vec()
}

fn check_component_id(problems: &mut Vec<Diagnostic>, section: &str, id: &str) {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        problems.push(Diagnostic::new(
            format!("{section}.{id}"),
            "component ids are 1 to 64 characters of letters, digits, `_` and `-`",
        ));
    }
}

fn check_range(problems: &mut Vec<Diagnostic>, path: &str, value: usize, min: usize, max: usize) {
    if !(min..=max).contains(&value) {
        problems.push(Diagnostic::new(
            path,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
}
