//! The framing settings every log source shares, as written and validated into [`Framing`]:
//! the longest line, the log format, the container-log framing and multiline joining.
//! Each source declares the four fields itself (so a misspelt one is refused with a
//! suggestion) and validates them here, once.

use super::{ContainerFormat, MultilineMode, MultilineSettings};
use crate::logs::parse::Format;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// Loki's default line limit; lines longer than this are truncated with a marker.
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 * 1024;
const MIN_LINE_BYTES: usize = 1024;
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

pub fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

/// How a source's bytes become events.
#[derive(Debug, Clone)]
pub struct Framing {
    pub max_line_bytes: usize,
    /// Log format of the lines: auto (detected per line) or one format for every line.
    pub format: Format,
    pub container: ContainerFormat,
    pub multiline: MultilineSettings,
}

impl Framing {
    /// Validates a source's four framing fields (`at` is the source's path).
    pub fn validate(
        at: &str,
        max_line_bytes: usize,
        format: Format,
        container: ContainerFormat,
        multiline_section: &MultilineSection,
        problems: &mut Vec<Diagnostic>,
    ) -> Self {
        if !(MIN_LINE_BYTES..=MAX_LINE_BYTES).contains(&max_line_bytes) {
            problems.push(Diagnostic::new(
                format!("{at}.max_line_bytes"),
                format!(
                    "must be between {MIN_LINE_BYTES} and {MAX_LINE_BYTES}, got {max_line_bytes}"
                ),
            ));
        }
        Self {
            max_line_bytes,
            format,
            container,
            multiline: multiline(problems, at, multiline_section, max_line_bytes),
        }
    }
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

fn multiline(
    problems: &mut Vec<Diagnostic>,
    source_path: &str,
    section: &MultilineSection,
    max_line_bytes: usize,
) -> MultilineSettings {
    let path = format!("{source_path}.multiline");
    let mut compile = |field: &str, pattern: &Option<String>| {
        pattern
            .as_ref()
            .and_then(|pattern| match regex::bytes::Regex::new(pattern) {
                Ok(regex) => Some(regex),
                Err(error) => {
                    let reason = error
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    problems.push(Diagnostic::new(
                        format!("{path}.{field}"),
                        format!("invalid regular expression: {reason}"),
                    ));
                    None
                }
            })
    };
    let start_pattern = compile("start_pattern", &section.start_pattern);
    let continue_pattern = compile("continue_pattern", &section.continue_pattern);
    let has_patterns = section.start_pattern.is_some() || section.continue_pattern.is_some();
    if section.mode == MultilineMode::Custom && !has_patterns {
        problems.push(Diagnostic::new(
            format!("{path}.mode"),
            "`custom` needs `start_pattern` or `continue_pattern`",
        ));
    }
    if section.mode != MultilineMode::Custom && has_patterns {
        problems.push(Diagnostic::new(
            format!("{path}.mode"),
            "patterns are used only with `mode: custom`",
        ));
    }
    if !(1..=100_000).contains(&section.max_lines) {
        problems.push(Diagnostic::new(
            format!("{path}.max_lines"),
            format!("must be between 1 and 100000, got {}", section.max_lines),
        ));
    }
    if section.timeout.0.is_zero() {
        problems.push(Diagnostic::new(
            format!("{path}.timeout"),
            "must be more than 0s",
        ));
    }
    MultilineSettings {
        mode: section.mode,
        start_pattern,
        continue_pattern,
        timeout: section.timeout.0,
        max_lines: section.max_lines,
        max_bytes: max_line_bytes,
    }
}
