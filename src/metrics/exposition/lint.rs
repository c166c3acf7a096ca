//! Style findings on a valid exposition, as `promtool check metrics` reports them: they do
//! not make the exposition invalid.

use super::parser::{ParseError, Rules};
use super::{Format, Line, MetricType};
use std::collections::BTreeMap;

/// Units that are not base units, and the base unit to use.
const NON_BASE_UNITS: [(&str, &str); 14] = [
    ("milliseconds", "seconds"),
    ("microseconds", "seconds"),
    ("nanoseconds", "seconds"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kilobytes", "bytes"),
    ("megabytes", "bytes"),
    ("gigabytes", "bytes"),
    ("kibibytes", "bytes"),
    ("mebibytes", "bytes"),
    ("bits", "bytes"),
    ("percent", "ratio"),
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The line of the family's first sample.
    pub line: usize,
    pub metric: String,
    pub message: String,
}

struct Seen {
    line: usize,
    kind: MetricType,
    help: bool,
    /// The label names not in snake_case, in the order first seen (findings keep it), and
    /// as a set: a series may have 100,000 labels.
    labels: Vec<String>,
    label_set: rustc_hash::FxHashSet<String>,
}

/// The findings for `body`, or why it is not valid.
pub fn lint(body: &str, format: Format) -> Result<Vec<Finding>, ParseError> {
    let mut linter = Linter::new(format);
    for line in super::parser::lines(body) {
        linter.line(line)?;
    }
    linter.finish()
}

/// Checks an exposition a line at a time, as it arrives: memory holds the families' names
/// and label names (for the findings) and one family's series hashes, never the input.
pub struct Linter {
    parser: super::parser::Parser,
    families: BTreeMap<String, Seen>,
    /// The family of the last sample (by `Parser::families_opened`): looked up once per
    /// family, not per sample.
    current: Option<usize>,
}

impl Linter {
    pub fn new(format: Format) -> Self {
        Self {
            parser: super::parser::Parser::with_rules(format, Rules::Standard),
            families: BTreeMap::new(),
            current: None,
        }
    }

    /// The next line, without its `\n`.
    pub fn line(&mut self, line: &str) -> Result<(), ParseError> {
        let mut sample = super::Sample::default();
        let parsed = self.parser.line(line, &mut sample)?;
        if !matches!(parsed, Line::Sample) {
            return Ok(());
        }
        let Some(family) = self.parser.family() else {
            return Ok(());
        };
        let opened = self.parser.families_opened();
        if self.current != Some(opened) {
            self.current = Some(opened);
            let lines = self.parser.lines();
            self.families
                .entry(family.name.clone())
                .or_insert_with(|| Seen {
                    line: lines,
                    kind: family.kind(),
                    help: family.has_help,
                    labels: Vec::new(),
                    label_set: Default::default(),
                });
        }
        let camel = |name: &str| name.bytes().any(|b| b.is_ascii_uppercase());
        if sample.labels.iter().any(|l| camel(&l.name)) {
            let seen = self
                .families
                .get_mut(family.name.as_str())
                .expect("entered when the family began");
            for label in sample.labels.iter().filter(|l| camel(&l.name)) {
                if !seen.label_set.contains(label.name.as_ref()) {
                    seen.label_set.insert(label.name.to_string());
                    seen.labels.push(label.name.to_string());
                }
            }
        }
        Ok(())
    }

    /// The end of the input: the last checks, and the findings.
    pub fn finish(mut self) -> Result<Vec<Finding>, ParseError> {
        self.parser.finish()?;
        let format = self.parser.format();
        Ok(findings(&self.families, format))
    }
}

fn findings(families: &BTreeMap<String, Seen>, format: Format) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, seen) in families {
        let mut finding = |message: String| {
            findings.push(Finding {
                line: seen.line,
                metric: name.clone(),
                message,
            });
        };
        if !seen.help {
            finding("no help text".into());
        }
        let counter_name = match (seen.kind, format) {
            (MetricType::Counter, Format::Text) => Some(name.as_str()),
            _ => None,
        };
        if let Some(counter) = counter_name
            && !counter.ends_with("_total")
        {
            finding("counter metrics should have \"_total\" suffix".into());
        }
        if seen.kind != MetricType::Counter && name.ends_with("_total") {
            finding("non-counter metrics should not have \"_total\" suffix".into());
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            finding("metric names should be written in 'snake_case' not 'camelCase'".into());
        }
        for label in &seen.labels {
            finding(format!(
                "label names should be written in 'snake_case' not 'camelCase' (`{label}`)"
            ));
        }
        let words: Vec<&str> = name.split('_').collect();
        for (unit, base) in NON_BASE_UNITS {
            if words.contains(&unit) {
                finding(format!("use base unit \"{base}\" instead of \"{unit}\""));
            }
        }
    }
    findings.sort();
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_problems_are_found_and_good_style_is_quiet() {
        let body = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 3\n# TYPE request_latency_milliseconds gauge\nrequest_latency_milliseconds 12\n# HELP errors Errors.\n# TYPE errors counter\nerrors{errorCode=\"x\"} 1\n";
        let findings = lint(body, Format::Text).unwrap();
        let messages: Vec<String> = findings
            .iter()
            .map(|f| format!("{} {}", f.metric, f.message))
            .collect();
        assert_eq!(
            messages,
            [
                "request_latency_milliseconds no help text",
                "request_latency_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
                "errors counter metrics should have \"_total\" suffix",
                "errors label names should be written in 'snake_case' not 'camelCase' (`errorCode`)",
            ]
        );
    }

    #[test]
    fn a_family_past_the_series_bound_is_refused_with_the_reason() {
        use crate::metrics::exposition::parser::MAX_FAMILY_SERIES;
        let mut body = String::from("# TYPE jobs gauge\n");
        for index in 0..MAX_FAMILY_SERIES {
            body.push_str(&format!("jobs{{id=\"{index}\"}} 1\n"));
        }
        assert!(
            lint(&body, Format::Text).is_ok(),
            "{MAX_FAMILY_SERIES} series fit"
        );
        body.push_str("jobs{id=\"one-more\"} 1\n");
        let error = lint(&body, Format::Text).unwrap_err();
        assert_eq!(error.line, MAX_FAMILY_SERIES + 2);
        assert!(error.message.contains("more than"), "{}", error.message);
    }
}
