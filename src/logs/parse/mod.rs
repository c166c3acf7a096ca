//! Parsing: one line of text in, a [`Parsed`] event out, for each log format vigia knows.
//! Every parser is total over arbitrary text: it returns `None` for a line that is not in its
//! format and never panics (property-tested). Well-known fields under their many spellings are
//! taken out of the structured fields by [`fields`].

pub mod access;
pub mod cbs;
pub mod fields;
pub mod golog;
pub mod java;
pub mod json;
pub mod klog;
pub mod logcat;
pub mod logfmt;
pub mod plain;
pub mod python;
pub mod ras;
pub mod severity;
pub mod syslog;

use crate::logs::level::Level;
use crate::logs::record::{Http, Text};
use crate::logs::value::Field;
use serde::{Deserialize, Serialize};

/// A log format. `Auto` detects per line, trying the format that matched last first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Auto,
    Json,
    Logfmt,
    /// Common and Combined Log Format (Apache, nginx), with request-time extensions.
    Access,
    /// RFC 5424 and RFC 3164.
    Syslog,
    /// Kubernetes klog / glog.
    Klog,
    /// Python `logging` defaults.
    Python,
    /// log4j / logback / Spring Boot default patterns.
    Java,
    /// Go's standard `log` package.
    Go,
    /// Android logcat (threadtime, time, brief).
    Logcat,
    /// Windows servicing logs (CBS, CSI, DISM).
    Cbs,
    /// Supercomputer RAS logs (Blue Gene).
    Ras,
    Plain,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Json => "json",
            Format::Logfmt => "logfmt",
            Format::Access => "access",
            Format::Syslog => "syslog",
            Format::Klog => "klog",
            Format::Python => "python",
            Format::Java => "java",
            Format::Go => "go",
            Format::Logcat => "logcat",
            Format::Cbs => "cbs",
            Format::Ras => "ras",
            Format::Plain => "plain",
        }
    }

    /// The formats `Auto` tries, most distinctive first; `Plain` always matches.
    pub const DETECTION_ORDER: [Format; 12] = [
        Format::Json,
        Format::Syslog,
        Format::Access,
        Format::Klog,
        Format::Logcat,
        Format::Cbs,
        Format::Ras,
        Format::Java,
        Format::Python,
        Format::Go,
        Format::Logfmt,
        Format::Plain,
    ];

    /// Parses `text` as this format.
    pub fn parse(self, text: &str) -> Option<Parsed<'_>> {
        match self {
            Format::Json => json::parse(text),
            Format::Logfmt => logfmt::parse(text),
            Format::Access => access::parse(text),
            Format::Syslog => syslog::parse(text),
            Format::Klog => klog::parse(text),
            Format::Python => python::parse(text),
            Format::Java => java::parse(text),
            Format::Go => golog::parse(text),
            Format::Logcat => logcat::parse(text),
            Format::Cbs => cbs::parse(text),
            Format::Ras => ras::parse(text),
            Format::Plain | Format::Auto => Some(plain::parse(text)),
        }
    }
}

/// What a parser found in a line, before normalization; text is borrowed from the line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed<'a> {
    pub ts: Option<i64>,
    pub level: Option<Level>,
    /// The keyword rule that guessed `level`, when no severity was written.
    pub level_rule: Option<&'static str>,
    pub msg: Option<Text<'a>>,
    pub logger: Option<Text<'a>>,
    pub caller: Option<Text<'a>>,
    /// Structured fields, flattened with dots, in the order they appeared.
    pub fields: Vec<Field<'a>>,
    pub http: Option<Http<'a>>,
}

impl Parsed<'_> {
    /// The fields as `(name, JSON value)` pairs (for tests and tools).
    pub fn fields_json(&self) -> Vec<(String, serde_json::Value)> {
        self.fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_value()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_parser_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            for format in Format::DETECTION_ORDER {
                let _ = format.parse(&text);
            }
        }

        #[test]
        fn no_parser_panics_on_format_shaped_text(
            text in "(<[0-9]{1,3}>[0-9]? ?)?([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} )?[a-zA-Z0-9_.=\\[\\]\" :/-]{0,80}"
        ) {
            for format in Format::DETECTION_ORDER {
                let _ = format.parse(&text);
            }
        }
    }
}
