//! From the file as written ([`ConfigFile`]) to a [`Config`] the agent can run, or every
//! problem found, each with its field path.

use super::diagnostics::{Diagnostic, did_you_mean};
use super::raw::ConfigFile;
use crate::logs::redact::{CustomRule, DEFAULT_RULES, OPTIONAL_RULES};
use crate::logs::source::component::Source;
use crate::settings::ValidationContext;
use crate::sink::component::{Sink, SinkInput};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A configuration that passed validation: every value here is usable as it is.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub admin: crate::admin::config::AdminSettings,
    pub grace_period: Duration,
    pub channel_capacity: usize,
    pub batch_max_events: usize,
    pub sources: Vec<SourceConfig>,
    pub sinks: Vec<SinkConfig>,
    pub redaction: RedactionConfig,
    pub scrape: Vec<crate::metrics::config::ScrapeSettings>,
    pub from_logs: Option<crate::metrics::config::FromLogsSettings>,
    pub latency: crate::latency::config::LatencySettings,
    pub slo: super::slo::SloSection,
}

/// The redaction rules in force.
#[derive(Debug, Clone, Default)]
pub struct RedactionConfig {
    /// Built-in rule names.
    pub rules: Vec<String>,
    pub custom: Vec<CustomRule>,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub id: String,
    pub source: Arc<dyn Source>,
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub id: String,
    /// Resolved: the source ids feeding this sink (never empty for a sink of logs; empty for
    /// a sink of metrics).
    pub inputs: Vec<String>,
    pub sink: Arc<dyn Sink>,
}

const MAX_GRACE: Duration = Duration::from_secs(3600);

pub fn validate(file: &ConfigFile) -> Result<Config, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let role = file.role;

    let admin = file.admin.validate(&mut problems);

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

    if file.sinks.is_empty() {
        problems.push(Diagnostic::new("sinks", "at least one sink is required"));
    }

    let sources: Vec<SourceConfig> = file
        .sources
        .iter()
        .map(|(id, spec)| {
            check_component_id(&mut problems, "sources", id);
            let at = format!("sources.{id}");
            let cx = ValidationContext { at: &at, role };
            SourceConfig {
                id: id.clone(),
                source: spec.spec().validate(&cx, &mut problems),
            }
        })
        .collect();
    let stdin_sources = sources.iter().filter(|s| s.source.reads_stdin()).count();
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
            let at = format!("sinks.{id}");
            let cx = ValidationContext { at: &at, role };
            let sink = spec.spec().validate(&cx, &mut problems);
            let inputs = match sink.input() {
                SinkInput::Logs => {
                    let inputs =
                        resolve_inputs(&mut problems, id, spec.spec().inputs(), &source_ids);
                    consumed.extend(inputs.iter().cloned());
                    inputs
                }
                SinkInput::Metrics => Vec::new(),
            };
            SinkConfig {
                id: id.clone(),
                inputs,
                sink,
            }
        })
        .collect();

    let metrics_only = !sinks.is_empty()
        && sinks
            .iter()
            .all(|sink| sink.sink.input() == SinkInput::Metrics);
    if file.sources.is_empty() && !metrics_only {
        problems.push(Diagnostic::new(
            "sources",
            "at least one source is required (only a sink of metrics, such as \
             prometheus_remote_write, runs without one)",
        ));
    }
    if sinks
        .iter()
        .any(|sink| sink.sink.input() == SinkInput::Logs)
    {
        for id in source_ids.iter().filter(|id| !consumed.contains(**id)) {
            problems.push(Diagnostic::new(
                format!("sources.{id}"),
                "this source is not an input of any sink: its events would be read and thrown away",
            ));
        }
    }

    let redaction = redaction(&mut problems, &file.redaction);
    let scrape: Vec<_> = file
        .metrics
        .scrape
        .iter()
        .filter_map(|(id, spec)| {
            crate::metrics::config::validate_scrape(
                id,
                spec,
                |name| std::env::var(name).ok(),
                &mut problems,
            )
        })
        .collect();
    let source_names: Vec<&str> = file.sources.keys().map(String::as_str).collect();
    let from_logs =
        file.metrics.from_logs.as_ref().map(|spec| {
            crate::metrics::config::validate_from_logs(spec, &source_names, &mut problems)
        });

    let slo = file.slo.clone().unwrap_or_default();
    super::slo::validate(&slo, &mut problems);
    let latency =
        crate::latency::config::validate(&file.latency.clone().unwrap_or_default(), &mut problems);

    match (admin, problems.is_empty()) {
        (Some(admin), true) => Ok(Config {
            data_dir: PathBuf::from(&file.data_dir),
            admin,
            grace_period,
            channel_capacity: file.pipeline.channel_capacity,
            batch_max_events: file.pipeline.batch_max_events,
            sources,
            sinks,
            redaction,
            scrape,
            from_logs,
            latency,
            slo,
        }),
        _ => Err(problems),
    }
}

fn redaction(
    problems: &mut Vec<Diagnostic>,
    section: &super::raw::RedactionSection,
) -> RedactionConfig {
    let mut check_names = |field: &str, names: &[String], known: &[&str]| {
        for (index, name) in names.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                let hint = did_you_mean(name, known.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_else(|| format!(" (known: {})", known.join(", ")));
                problems.push(Diagnostic::new(
                    format!("redaction.{field}[{index}]"),
                    format!("unknown rule `{name}`{hint}"),
                ));
            }
        }
    };
    check_names("disable", &section.disable, &DEFAULT_RULES);
    check_names("enable", &section.enable, &OPTIONAL_RULES);
    let mut custom = Vec::new();
    for (index, rule) in section.custom.iter().enumerate() {
        let path = format!("redaction.custom[{index}]");
        let valid_name = !rule.name.is_empty()
            && rule
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            problems.push(Diagnostic::new(
                format!("{path}.name"),
                "rule names are letters, digits, `_` and `-`",
            ));
        }
        match regex::Regex::new(&rule.pattern) {
            Ok(pattern) => custom.push(CustomRule {
                name: rule.name.clone(),
                pattern,
            }),
            Err(error) => problems.push(Diagnostic::new(
                format!("{path}.pattern"),
                format!(
                    "invalid regular expression: {}",
                    error.to_string().lines().last().unwrap_or_default().trim()
                ),
            )),
        }
    }
    if !section.enabled {
        return RedactionConfig::default();
    }
    let rules = DEFAULT_RULES
        .iter()
        .filter(|r| !section.disable.iter().any(|d| d == *r))
        .map(|r| (*r).to_owned())
        .chain(
            section
                .enable
                .iter()
                .filter(|e| OPTIONAL_RULES.contains(&e.as_str()))
                .cloned(),
        )
        .collect();
    RedactionConfig { rules, custom }
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
