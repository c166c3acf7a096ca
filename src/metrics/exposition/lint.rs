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

    /// A linter for one segment of an exposition (see [`super::segment`]), from line
    /// `first_line` on.
    pub fn segment(format: Format, first_line: usize) -> Self {
        Self {
            parser: super::parser::Parser::segment(format, Rules::Standard, first_line),
            families: BTreeMap::new(),
            current: None,
        }
    }

    /// The end of a segment, whose lines stopped at `error` if one was found; `last`: the
    /// input's last segment.
    pub fn finish_segment(mut self, error: Option<ParseError>, last: bool) -> LintSegment {
        let error = error.or_else(|| self.parser.finish_segment(last).err());
        LintSegment {
            format: self.parser.format(),
            segment: self.parser.into_segment(),
            families: self.families,
            error,
        }
    }

    /// The end of the input: the last checks, and the findings.
    pub fn finish(mut self) -> Result<Vec<Finding>, ParseError> {
        self.parser.finish()?;
        let format = self.parser.format();
        Ok(findings(&self.families, format))
    }
}

/// A segment's families and where its parser stopped, to be joined in order.
pub struct LintSegment {
    format: Format,
    segment: super::segment::Segment,
    families: BTreeMap<String, Seen>,
    error: Option<ParseError>,
}

/// The segments of one exposition linted so far, joined in order: the verdict and findings
/// of one [`Linter`] reading them all.
pub struct LintJoined {
    format: Format,
    joined: super::segment::Joined,
    families: BTreeMap<String, Seen>,
    error: Option<ParseError>,
}

impl LintJoined {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            joined: Default::default(),
            families: BTreeMap::new(),
            error: None,
        }
    }

    /// The next segment, of `lines` lines from `first_line`; once one failed, the rest are
    /// not looked at.
    pub fn join(&mut self, next: LintSegment, first_line: usize, lines: usize) {
        debug_assert_eq!(next.format, self.format);
        if self.error.is_some() {
            return;
        }
        if let Err(error) = self
            .joined
            .join(next.segment, first_line, lines, next.error)
        {
            self.error = Some(error);
            return;
        }
        for (name, seen) in next.families {
            match self.families.entry(name) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(seen);
                }
                // A text family whose samples came again later: one entry, as one linter
                // keeps, with the label names of both.
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    let earlier = slot.get_mut();
                    for label in seen.labels {
                        if earlier.label_set.insert(label.clone()) {
                            earlier.labels.push(label);
                        }
                    }
                }
            }
        }
    }

    pub fn finish(mut self) -> Result<Vec<Finding>, ParseError> {
        if self.error.is_none() {
            self.error = self.joined.finish().err();
        }
        match self.error {
            Some(error) => Err(error),
            None => Ok(findings(&self.families, self.format)),
        }
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
