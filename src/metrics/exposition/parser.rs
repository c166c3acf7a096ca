//! Family-level rules over the lines of one exposition: descriptors before samples, families
//! not interleaved, sample names matching their family's type, histogram buckets in order
//! with a `+Inf` bucket, no duplicate series, `# EOF` last (OpenMetrics).

use super::grammar::{LineError, parse_line_in};
use super::{Format, Label, Line, MetricType, Sample};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use std::hash::{Hash, Hasher};

/// A problem, with the line (from 1) and column (in characters, from 1) where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The family the lines are in.
#[derive(Debug, Clone, Default)]
pub struct Family {
    pub name: String,
    pub kind: Option<MetricType>,
    /// A HELP line was read (its text goes to whoever reads the [`Line::Help`]).
    pub has_help: bool,
    pub unit: Option<String>,
    samples: usize,
    /// The name is a bare (unquoted) metric name.
    bare: bool,
    series: FxHashSet<u64>,
    buckets: FxHashMap<u64, Buckets>,
}

impl Family {
    /// `expected`: how many series to make room for (the previous family's count: families
    /// of one exposition are often alike). `spare`: the emptied sets of the family before,
    /// reused rather than allocated again for each of an exposition's hundreds of families.
    fn named(name: &str, expected: usize, spare: Option<SpareSets>) -> Self {
        let (mut series, buckets) = spare.unwrap_or_default();
        // Small families grow as usual; large ones start at the size they will need.
        if expected > 64 {
            series.reserve(expected.min(4096));
        }
        Family {
            name: name.to_owned(),
            bare: super::is_metric_name(name),
            series,
            buckets,
            ..Family::default()
        }
    }

    pub fn kind(&self) -> MetricType {
        self.kind.unwrap_or(MetricType::Unknown)
    }
}

/// A closed family's series and bucket sets, emptied, for the next family.
type SpareSets = (FxHashSet<u64>, FxHashMap<u64, Buckets>);

#[derive(Debug, Clone, Copy)]
struct Buckets {
    le: f64,
    count: f64,
    line: usize,
}

pub struct Parser {
    format: Format,
    line: usize,
    family: Option<Family>,
    /// Families already closed (interleaving, repeated descriptors).
    closed: FxHashSet<String>,
    eof: bool,
    /// Samples of the last family closed.
    last_samples: usize,
    spare: Option<SpareSets>,
}

impl Parser {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            line: 0,
            family: None,
            closed: FxHashSet::default(),
            eof: false,
            last_samples: 0,
            spare: None,
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The family of the last line read.
    pub fn family(&self) -> Option<&Family> {
        self.family.as_ref()
    }

    /// Lines read so far.
    pub fn lines(&self) -> usize {
        self.line
    }

    fn error_at(&self, line: &str, offset: usize, message: impl Into<String>) -> ParseError {
        let offset = offset.min(line.len());
        let column = line
            .get(..offset)
            .map_or(offset, |head| head.chars().count())
            + 1;
        ParseError {
            line: self.line,
            column,
            message: message.into(),
        }
    }

    /// Reads the next line (without its `\n`); a sample fills `sample`.
    pub fn line<'a>(
        &mut self,
        line: &'a str,
        sample: &mut Sample<'a>,
    ) -> Result<Line<'a>, ParseError> {
        self.line += 1;
        if self.eof {
            return Err(self.error_at(line, 0, "nothing may follow # EOF"));
        }
        if self.format == Format::OpenMetrics && line.is_empty() {
            return Err(self.error_at(line, 0, "OpenMetrics does not allow empty lines"));
        }
        // A family named from a quoted name may not be a bare name: no hint then.
        let family = self.family.as_ref().map_or("", |f| f.name.as_str());
        let hint = if self.family.as_ref().is_some_and(|f| f.bare) {
            family
        } else {
            ""
        };
        let parsed = parse_line_in(line, self.format, sample, hint)
            .map_err(|LineError { offset, message }| self.error_at(line, offset, message))?;
        match &parsed {
            Line::Help { name, .. } => {
                let family = self.descriptor_family(line, name)?;
                if family.has_help {
                    return Err(self.error_at(line, 0, format!("a second HELP for `{name}`")));
                }
                family.has_help = true;
            }
            Line::Type { name, kind } => {
                let family = self.descriptor_family(line, name)?;
                if family.kind.is_some() {
                    return Err(self.error_at(line, 0, format!("a second TYPE for `{name}`")));
                }
                family.kind = Some(*kind);
            }
            Line::Unit { name, unit } => {
                let family = self.descriptor_family(line, name)?;
                if family.unit.is_some() {
                    return Err(self.error_at(line, 0, format!("a second UNIT for `{name}`")));
                }
                if !unit.is_empty() && !name.ends_with(&format!("_{unit}")) {
                    return Err(self.error_at(
                        line,
                        0,
                        format!("the name `{name}` must end with its unit `_{unit}`"),
                    ));
                }
                family.unit = Some(unit.to_string());
            }
            Line::Sample => self.sample(line, sample)?,
            Line::Eof => {
                self.close(line)?;
                self.eof = true;
            }
            Line::Comment | Line::Blank => {}
        }
        Ok(parsed)
    }

    /// The end of the input: the last family is checked; OpenMetrics must have ended with
    /// `# EOF`.
    pub fn finish(&mut self) -> Result<(), ParseError> {
        self.close("")?;
        if self.format == Format::OpenMetrics && !self.eof {
            self.line += 1;
            return Err(self.error_at("", 0, "an OpenMetrics exposition must end with # EOF"));
        }
        Ok(())
    }

    /// The family a descriptor line is about: the current one if it has no samples yet, or
    /// a new one.
    fn descriptor_family(&mut self, line: &str, name: &str) -> Result<&mut Family, ParseError> {
        let current = self.family.as_ref().is_some_and(|f| f.name == name);
        if current {
            if self.family.as_ref().is_some_and(|f| f.samples > 0) {
                return Err(self.error_at(
                    line,
                    0,
                    format!("a descriptor for `{name}` after its samples"),
                ));
            }
        } else {
            self.close(line)?;
            if self.closed.contains(name) {
                return Err(self.error_at(
                    line,
                    0,
                    format!("`{name}` was described already: a family's lines must be together"),
                ));
            }
            self.family = Some(Family::named(name, self.last_samples, self.spare.take()));
        }
        Ok(self.family.as_mut().expect("set above"))
    }

    fn sample(&mut self, line: &str, sample: &Sample<'_>) -> Result<(), ParseError> {
        let name = sample.name.as_ref();
        let belongs = self
            .family
            .as_ref()
            .is_some_and(|f| suffix_of(name, &f.name, f.kind(), self.format).is_some());
        if !belongs {
            if self.format == Format::OpenMetrics
                && let Some(family) = &self.family
                && family.kind.is_some_and(|k| k != MetricType::Unknown)
                && name.starts_with(family.name.as_str())
            {
                let expected: Vec<String> = family
                    .kind()
                    .suffixes(self.format)
                    .iter()
                    .map(|s| format!("`{}{s}`", family.name))
                    .collect();
                return Err(self.error_at(
                    line,
                    0,
                    format!(
                        "a {}'s samples are named {}",
                        family.kind().name(self.format),
                        expected.join(" or ")
                    ),
                ));
            }
            self.close(line)?;
            let repeated = self.closed.contains(name);
            if repeated && self.format == Format::OpenMetrics {
                return Err(self.error_at(
                    line,
                    0,
                    format!("samples of `{name}` after another family's: families must not be interleaved"),
                ));
            }
            if self.format == Format::OpenMetrics
                && let Some(family) = typed_family_of(name)
                && self.closed.contains(family)
            {
                return Err(self.error_at(
                    line,
                    0,
                    format!("`{name}` belongs to `{family}`, whose lines came earlier"),
                ));
            }
            self.family = Some(Family::named(name, self.last_samples, self.spare.take()));
        }
        let format = self.format;
        let line_no = self.line;
        let family = self.family.as_mut().expect("set above");
        family.samples += 1;
        let kind = family.kind();
        let suffix = suffix_of(name, &family.name, kind, format).unwrap_or("");
        let problem = sample_problem(family, kind, suffix, sample, format, line_no);
        if let Some(message) = problem {
            return Err(self.error_at(line, 0, message));
        }
        Ok(())
    }

    /// Checks what can only be checked once a family's lines are all read.
    fn close(&mut self, line: &str) -> Result<(), ParseError> {
        let Some(family) = self.family.take() else {
            return Ok(());
        };
        if matches!(
            family.kind(),
            MetricType::Histogram | MetricType::GaugeHistogram
        ) && let Some(open) = family.buckets.values().find(|b| b.le != f64::INFINITY)
        {
            let message = format!(
                "histogram `{}` has a bucket series without a +Inf bucket (last bucket on line {})",
                family.name, open.line
            );
            return Err(self.error_at(line, 0, message));
        }
        self.last_samples = family.samples;
        let Family {
            name,
            mut series,
            mut buckets,
            ..
        } = family;
        series.clear();
        buckets.clear();
        self.spare = Some((series, buckets));
        self.closed.insert(name);
        Ok(())
    }
}

/// The suffix `name` adds to `family` for a family of type `kind`, if it belongs.
fn suffix_of<'n>(name: &'n str, family: &str, kind: MetricType, format: Format) -> Option<&'n str> {
    let suffix = name.strip_prefix(family)?;
    kind.suffixes(format).contains(&suffix).then_some(suffix)
}

/// For an OpenMetrics sample name with a typed suffix, the family it would belong to.
fn typed_family_of(name: &str) -> Option<&str> {
    [
        "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
    ]
    .iter()
    .find_map(|suffix| name.strip_suffix(suffix))
}

fn series_hash(name: &str, labels: &[Label<'_>], skip: Option<&str>) -> u64 {
    // Labels in any order are the same series: combine their hashes commutatively.
    let mut combined: u64 = 0;
    for label in labels {
        if Some(label.name.as_ref()) == skip {
            continue;
        }
        let mut hasher = FxHasher::default();
        label.name.hash(&mut hasher);
        label.value.hash(&mut hasher);
        combined = combined.wrapping_add(hasher.finish());
    }
    let mut hasher = FxHasher::default();
    name.hash(&mut hasher);
    combined.hash(&mut hasher);
    hasher.finish()
}

fn sample_problem(
    family: &mut Family,
    kind: MetricType,
    suffix: &str,
    sample: &Sample<'_>,
    format: Format,
    line: usize,
) -> Option<String> {
    let om = format == Format::OpenMetrics;
    let value = sample.value;
    if !family
        .series
        .insert(series_hash(&sample.name, &sample.labels, None))
    {
        return Some(format!(
            "duplicate series `{}` with the same labels",
            sample.name
        ));
    }
    if let Some(exemplar) = &sample.exemplar {
        let allowed = matches!(
            (kind, suffix),
            (MetricType::Counter, "_total")
                | (
                    MetricType::Histogram | MetricType::GaugeHistogram,
                    "_bucket"
                )
        );
        if !allowed {
            return Some(
                "exemplars are allowed only on counters' _total and histograms' _bucket samples"
                    .into(),
            );
        }
        if exemplar.value.is_nan() {
            return Some("an exemplar's value cannot be NaN".into());
        }
    }
    match (kind, suffix) {
        (MetricType::Counter, "_total" | "") if value.is_nan() || value < 0.0 => Some(format!(
            "counter `{}` has a negative or NaN value",
            sample.name
        )),
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
            let Some(le) = sample.label("le") else {
                return Some(format!("bucket `{}` has no `le` label", sample.name));
            };
            let Some(bound) = super::grammar::parse_float(le).filter(|b| !b.is_nan()) else {
                return Some(format!("bucket bound le=\"{le}\" is not a number"));
            };
            if value.is_nan() || value < 0.0 {
                return Some("a bucket count cannot be negative or NaN".into());
            }
            let key = series_hash("", &sample.labels, Some("le"));
            match family.buckets.get_mut(&key) {
                Some(previous) if bound <= previous.le => Some(format!(
                    "bucket le=\"{le}\" is not above the previous bucket's bound"
                )),
                Some(previous) if value < previous.count => Some(format!(
                    "bucket le=\"{le}\" counts less than the bucket before it"
                )),
                Some(previous) => {
                    *previous = Buckets {
                        le: bound,
                        count: value,
                        line,
                    };
                    None
                }
                None => {
                    family.buckets.insert(
                        key,
                        Buckets {
                            le: bound,
                            count: value,
                            line,
                        },
                    );
                    None
                }
            }
        }
        (
            MetricType::Histogram | MetricType::GaugeHistogram | MetricType::Summary,
            "_count" | "_gcount",
        ) if value.is_nan() || value < 0.0 => {
            Some(format!("`{}` cannot be negative or NaN", sample.name))
        }
        (MetricType::Summary, "") => match sample.label("quantile") {
            None => Some(format!(
                "summary sample `{}` has no `quantile` label",
                sample.name
            )),
            Some(q) => match super::grammar::parse_float(q) {
                Some(q) if (0.0..=1.0).contains(&q) => None,
                _ => Some(format!("quantile=\"{q}\" is not between 0 and 1")),
            },
        },
        (MetricType::Info, _) if om && value != 1.0 => {
            Some("an info sample's value must be 1".into())
        }
        (MetricType::StateSet, _) => {
            if value != 0.0 && value != 1.0 {
                Some("a stateset sample's value must be 0 or 1".into())
            } else if sample.label(&family.name).is_none() {
                Some(format!("a stateset sample needs a `{}` label", family.name))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Parses a whole body, calling `visit` for each line with the parser (for the current
/// family) and the sample the line filled.
pub fn parse_body<'a>(
    body: &'a str,
    format: Format,
    mut visit: impl FnMut(&Parser, &Line<'a>, &Sample<'a>),
) -> Result<Parser, ParseError> {
    let mut parser = Parser::new(format);
    let mut sample = Sample::default();
    for line in lines(body) {
        let parsed = parser.line(line, &mut sample)?;
        visit(&parser, &parsed, &sample);
    }
    parser.finish()?;
    Ok(parser)
}

/// The lines of `text`, without their `\n` (the last one's is optional; no text, no line).
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut rest = (!text.is_empty()).then_some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr(b'\n', current.as_bytes()) {
            Some(end) => {
                rest = Some(&current[end + 1..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}
