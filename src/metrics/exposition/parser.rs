//! Family-level rules over the lines of one exposition: descriptors before samples, families
//! not interleaved, sample names matching their family's type, histogram buckets in order
//! with a `+Inf` bucket, no duplicate series, `# EOF` last (OpenMetrics).
//!
//! OpenMetrics adds, as its reference parser (prometheus_client) applies them: the samples
//! of one label set together (no interleaving), timestamps within one not going backwards
//! and present on all or none, a series repeated only with a later timestamp, counter-like
//! values (`_total`, `_sum`, `_count`, `_bucket`, `_gcount`, `_gsum`) never NaN or negative,
//! integer bucket counts, canonical `le`/`quantile`, a histogram's `_count` equal to its
//! `+Inf` bucket with `_sum` and `_count` together, no `_sum` with negative buckets, units
//! only on types that have them, and no two families claiming one sample name.

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

/// The most series one family may have: the duplicate-series check holds a hash and the last
/// timestamp of each (about 40 bytes with the table's overhead), so this bounds it near
/// 200 MiB whatever the input. Real families have thousands; a scrape's `sample_limit` is
/// lower still. (Lower under test, to be exercised.)
#[cfg(not(test))]
pub const MAX_FAMILY_SERIES: usize = 5_000_000;
#[cfg(test)]
pub const MAX_FAMILY_SERIES: usize = 1_000;

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
    /// Each series' last timestamp (OpenMetrics repeats a series only with a later one).
    series: FxHashMap<u64, Option<i64>>,
    buckets: FxHashMap<u64, Histogram>,
    /// OpenMetrics: the current label set (group), its last timestamp, and the groups seen.
    group: Option<u64>,
    group_timestamp: Option<i64>,
    seen_groups: FxHashSet<u64>,
}

impl Family {
    /// `expected`: how many series to make room for (the previous family's count: families
    /// of one exposition are often alike). `spare`: the emptied sets of the family before,
    /// reused rather than allocated again for each of an exposition's hundreds of families.
    fn named(name: &str, expected: usize, spare: Option<SpareSets>) -> Self {
        let (mut series, buckets, seen_groups) = spare.unwrap_or_default();
        // Small families grow as usual; large ones start at the size they will need.
        if expected > 64 {
            series.reserve(expected.min(4096));
        }
        Family {
            name: name.to_owned(),
            bare: super::is_metric_name(name),
            series,
            buckets,
            seen_groups,
            ..Family::default()
        }
    }

    pub fn kind(&self) -> MetricType {
        self.kind.unwrap_or(MetricType::Unknown)
    }
}

/// A closed family's series, histogram and group sets, emptied, for the next family.
type SpareSets = (
    FxHashMap<u64, Option<i64>>,
    FxHashMap<u64, Histogram>,
    FxHashSet<u64>,
);

/// One histogram's samples so far (one label set, one timestamp).
#[derive(Debug, Clone, Copy)]
struct Histogram {
    timestamp: Option<i64>,
    /// The last bucket's bound and count (−∞ and 0 before the first bucket).
    le: f64,
    count: f64,
    buckets: bool,
    line: usize,
    total: Option<f64>,
    sum: bool,
    gsum: bool,
    negative_bucket: bool,
    negative_gsum: bool,
}

impl Histogram {
    fn new(timestamp: Option<i64>, line: usize) -> Self {
        Histogram {
            timestamp,
            le: f64::NEG_INFINITY,
            count: 0.0,
            buckets: false,
            line,
            total: None,
            sum: false,
            gsum: false,
            negative_bucket: false,
            negative_gsum: false,
        }
    }

    /// What is wrong with it once complete. Scrapes check only the `+Inf` bucket of a
    /// histogram that has buckets, as Prometheus does; `standard` checks all of OpenMetrics.
    fn problem(&self, family: &str, standard: bool) -> Option<String> {
        if (standard || self.buckets) && self.le != f64::INFINITY {
            return Some(format!(
                "histogram `{family}` has a bucket series without a +Inf bucket (last bucket on line {})",
                self.line
            ));
        }
        if !standard {
            return None;
        }
        if self.total.is_some_and(|total| total != self.count) {
            return Some(format!(
                "histogram `{family}`'s count is not its +Inf bucket's ({} against {})",
                self.total.unwrap_or_default(),
                self.count
            ));
        }
        if (self.sum || self.gsum) && self.total.is_none() {
            return Some(format!("histogram `{family}` has a sum without a count"));
        }
        if !(self.sum || self.gsum) && self.total.is_some() {
            return Some(format!("histogram `{family}` has a count without a sum"));
        }
        if self.negative_bucket && self.sum {
            return Some(format!(
                "histogram `{family}` has negative buckets and a _sum (only a gaugehistogram's _gsum may go with them)"
            ));
        }
        if !self.negative_bucket && self.negative_gsum {
            return Some(format!(
                "gaugehistogram `{family}` has a negative _gsum but no negative bucket"
            ));
        }
        None
    }
}

/// Which rules a parser applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// What a scrape needs, as Prometheus applies it: the grammar, family order, bucket
    /// order and `+Inf`, duplicates. A target Prometheus would scrape, vigia scrapes.
    Scrape,
    /// Everything the format's standard says (`check-metrics`): for OpenMetrics also label
    /// set grouping, timestamps, counter-like values, histogram completeness, units and
    /// name clashes.
    Standard,
}

pub struct Parser {
    format: Format,
    rules: Rules,
    line: usize,
    family: Option<Family>,
    /// Families already closed (interleaving, repeated descriptors).
    closed: FxHashSet<String>,
    /// OpenMetrics: every sample name a closed family may use (two families must not claim
    /// one). Bounded by the families read: a few names each.
    claimed: FxHashSet<String>,
    eof: bool,
    /// Samples of the last family closed.
    last_samples: usize,
    /// Families begun so far: tells a caller the family changed without comparing names.
    families_opened: usize,
    spare: Option<SpareSets>,
    /// A segment's parser (see [`super::segment`]) notes the checks against earlier
    /// families it could not decide alone.
    segment: Option<super::segment::Undecided>,
}

impl Parser {
    /// A parser with the rules of a scrape.
    pub fn new(format: Format) -> Self {
        Self::with_rules(format, Rules::Scrape)
    }

    pub fn with_rules(format: Format, rules: Rules) -> Self {
        Self {
            format,
            rules,
            line: 0,
            family: None,
            closed: FxHashSet::default(),
            claimed: FxHashSet::default(),
            eof: false,
            last_samples: 0,
            families_opened: 0,
            spare: None,
            segment: None,
        }
    }

    /// A parser for one segment of an exposition, from line `first_line` (from 1) on, which
    /// begins a family: its checks against earlier families are noted for
    /// [`super::segment::Joined::join`] when they pass here.
    pub fn segment(format: Format, rules: Rules, first_line: usize) -> Self {
        Self {
            line: first_line.saturating_sub(1),
            segment: Some(super::segment::Undecided::default()),
            ..Self::with_rules(format, rules)
        }
    }

    /// The end of a segment: its last family is checked (as the next segment's first line
    /// would have, so an error is on that line); for the input's last segment, as
    /// [`Parser::finish`].
    pub fn finish_segment(&mut self, last: bool) -> Result<(), ParseError> {
        if last {
            return self.finish();
        }
        let last_family = self.family.as_ref().map(|f| f.name.clone());
        if let Some(undecided) = &mut self.segment {
            undecided.last_family = last_family;
        }
        self.line += 1;
        let closed = self.close("");
        self.line -= 1;
        closed
    }

    /// What a segment leaves for the segments after it: the families it closed, the names
    /// they claimed, whether it ended with `# EOF`, and the checks it could not decide.
    pub fn into_segment(self) -> super::segment::Segment {
        super::segment::Segment {
            closed: self.closed,
            claimed: self.claimed,
            eof: self.eof,
            undecided: self.segment.unwrap_or_default(),
        }
    }

    /// Whether `name` is in `closed` (or, with `claimed`, among the names claimed); a
    /// segment notes a name it does not have, with the `message` an earlier segment's
    /// having it would mean.
    fn earlier(&mut self, name: &str, claimed: bool, message: impl FnOnce() -> String) -> bool {
        let set = if claimed { &self.claimed } else { &self.closed };
        if set.contains(name) {
            return true;
        }
        let line = self.line;
        if let Some(undecided) = &mut self.segment {
            undecided.note(line, name, claimed, message());
        }
        false
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The OpenMetrics rules beyond a scrape's apply.
    fn standard(&self) -> bool {
        self.format == Format::OpenMetrics && self.rules == Rules::Standard
    }

    /// The family of the last line read.
    pub fn family(&self) -> Option<&Family> {
        self.family.as_ref()
    }

    /// How many families have begun: changes exactly when the family does.
    pub fn families_opened(&self) -> usize {
        self.families_opened
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
            let message =
                || format!("`{name}` was described already: a family's lines must be together");
            if self.earlier(name, false, message) {
                return Err(self.error_at(line, 0, message()));
            }
            self.family = Some(Family::named(name, self.last_samples, self.spare.take()));
            self.families_opened += 1;
        }
        Ok(self.family.as_mut().expect("set above"))
    }

    fn sample(&mut self, line: &str, sample: &Sample<'_>) -> Result<(), ParseError> {
        let name = sample.name.as_ref();
        let known = sample.family_prefix;
        let format = self.format;
        let mut suffix = self
            .family
            .as_ref()
            .and_then(|f| suffix_of(name, known, &f.name, f.kind(), format));
        if suffix.is_none() {
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
            let om = self.format == Format::OpenMetrics;
            let interleaved = || {
                format!(
                    "samples of `{name}` after another family's: families must not be interleaved"
                )
            };
            if om && self.earlier(name, false, interleaved) {
                return Err(self.error_at(line, 0, interleaved()));
            }
            if om && let Some(family) = typed_family_of(name) {
                let message =
                    || format!("`{name}` belongs to `{family}`, whose lines came earlier");
                if self.earlier(family, false, message) {
                    return Err(self.error_at(line, 0, message()));
                }
            }
            self.family = Some(Family::named(name, self.last_samples, self.spare.take()));
            self.families_opened += 1;
            // A family begun by a sample is named after it, and untyped.
            suffix = Some("");
        }
        let suffix = suffix.unwrap_or("");
        let standard = self.standard();
        let line_no = self.line;
        let family = self.family.as_mut().expect("set above");
        family.samples += 1;
        let kind = family.kind();
        let problem = sample_problem(family, kind, suffix, sample, format, standard, line_no);
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
        let kind = family.kind();
        if matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram)
            && let Some(message) = family
                .buckets
                .values()
                .find_map(|h| h.problem(&family.name, self.standard()))
        {
            return Err(self.error_at(line, 0, message));
        }
        if self.standard() {
            if family.unit.as_deref().is_some_and(|u| !u.is_empty())
                && matches!(kind, MetricType::Info | MetricType::StateSet)
            {
                return Err(self.error_at(
                    line,
                    0,
                    format!(
                        "a {} has no unit (`{}`)",
                        kind.name(self.format),
                        family.name
                    ),
                ));
            }
            let mut names: Vec<String> = kind
                .suffixes(self.format)
                .iter()
                .chain(std::iter::once(&""))
                .map(|suffix| format!("{}{suffix}", family.name))
                .collect();
            names.sort_unstable();
            names.dedup();
            for name in &names {
                let message =
                    || format!("`{name}` clashes with a sample name of an earlier family");
                if self.earlier(name, true, message) {
                    return Err(self.error_at(line, 0, message()));
                }
            }
            self.claimed.extend(names);
        }
        self.last_samples = family.samples;
        let Family {
            name,
            mut series,
            mut buckets,
            mut seen_groups,
            ..
        } = family;
        series.clear();
        buckets.clear();
        seen_groups.clear();
        self.spare = Some((series, buckets, seen_groups));
        self.closed.insert(name);
        Ok(())
    }
}

/// The suffix `name` adds to `family` for a family of type `kind`, if it belongs. `known`:
/// how many bytes of `name` the grammar already matched against `family` (it did when it
/// is `family`'s length). Runs once per sample: the common case, a name that is its family's
/// own, compares no bytes at all.
fn suffix_of<'n>(
    name: &'n str,
    known: usize,
    family: &str,
    kind: MetricType,
    format: Format,
) -> Option<&'n str> {
    let suffix = if known == family.len() && known > 0 {
        name.get(known..)?
    } else {
        name.strip_prefix(family)?
    };
    let suffixes = kind.suffixes(format);
    let allowed = if suffix.is_empty() {
        suffixes.iter().any(|s| s.is_empty())
    } else {
        suffixes
            .iter()
            .any(|s| s.len() == suffix.len() && *s == suffix)
    };
    allowed.then_some(suffix)
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
    standard: bool,
    line: usize,
) -> Option<String> {
    let om = format == Format::OpenMetrics;
    let value = sample.value;
    let timestamp = sample.timestamp_ms;
    if standard && let Some(problem) = grouping_problem(family, kind, suffix, sample) {
        return Some(problem);
    }
    let key = series_hash(&sample.name, &sample.labels, None);
    let full = family.series.len() >= MAX_FAMILY_SERIES;
    match family.series.entry(key) {
        std::collections::hash_map::Entry::Vacant(_) if full => {
            return Some(format!(
                "family `{}` has more than {MAX_FAMILY_SERIES} series: more than vigia checks \
                 in one family (its duplicate check keeps 8 bytes and a timestamp per series)",
                family.name
            ));
        }
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(timestamp);
        }
        // OpenMetrics: the same series again at a later (or, truncated, equal) time.
        std::collections::hash_map::Entry::Occupied(mut slot)
            if om
                && matches!((*slot.get(), timestamp), (Some(before), Some(now)) if now >= before) =>
        {
            slot.insert(timestamp);
        }
        std::collections::hash_map::Entry::Occupied(_) => {
            return Some(format!(
                "duplicate series `{}` with the same labels",
                sample.name
            ));
        }
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
    if standard && let Some(problem) = counter_like_problem(suffix, sample) {
        return Some(problem);
    }
    match (kind, suffix) {
        (MetricType::Counter, "_total" | "") if value.is_nan() || value < 0.0 => Some(format!(
            "counter `{}` has a negative or NaN value",
            sample.name
        )),
        (MetricType::Histogram | MetricType::GaugeHistogram, _) => {
            histogram_problem(family, suffix, sample, format, standard, line)
        }
        (MetricType::Summary, "_count") if value.is_nan() || value < 0.0 => {
            Some(format!("`{}` cannot be negative or NaN", sample.name))
        }
        (MetricType::Summary, "") => match sample.label("quantile") {
            None => Some(format!(
                "summary sample `{}` has no `quantile` label",
                sample.name
            )),
            Some(q) => match super::grammar::parse_float(q) {
                Some(_) if standard && !canonical(q) => Some(format!(
                    "quantile=\"{q}\" is not written as OpenMetrics writes it"
                )),
                Some(q) if (0.0..=1.0).contains(&q) => (standard && value < 0.0)
                    .then(|| "a quantile's value cannot be negative".into()),
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

/// OpenMetrics: a label set's samples come together (groups are label sets without `le`,
/// `quantile` or a stateset's own label; an info has one), with timestamps on all of them or
/// none, never going backwards.
fn grouping_problem(
    family: &mut Family,
    kind: MetricType,
    suffix: &str,
    sample: &Sample<'_>,
) -> Option<String> {
    let skip = match (kind, suffix) {
        (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
        (MetricType::Summary, "") => Some("quantile"),
        (MetricType::StateSet, _) => Some(family.name.as_str()),
        _ => None,
    };
    let group = if kind == MetricType::Info {
        0
    } else {
        series_hash("", &sample.labels, skip)
    };
    let timestamp = sample.timestamp_ms;
    // The specification's own counter example times `_total` and not `_created` (the
    // reference parser refuses it; vigia follows the specification).
    let created = suffix == "_created";
    if family.group == Some(group) {
        if !created && timestamp.is_some() != family.group_timestamp.is_some() {
            return Some("the samples of one label set must all have a timestamp, or none".into());
        }
        if !created
            && kind != MetricType::Info
            && let (Some(now), Some(before)) = (timestamp, family.group_timestamp)
            && now < before
        {
            return Some("a timestamp went backwards within one label set".into());
        }
    } else if !family.seen_groups.insert(group) {
        return Some(format!(
            "samples of `{}` with this label set came earlier: a label set's samples must be together",
            family.name
        ));
    }
    if family.group != Some(group) || !created {
        family.group_timestamp = timestamp;
    }
    family.group = Some(group);
    None
}

/// OpenMetrics: counter-like samples are never NaN, and never negative but for `_gsum`.
fn counter_like_problem(suffix: &str, sample: &Sample<'_>) -> Option<String> {
    let counter_like = ["_total", "_sum", "_count", "_bucket", "_gcount", "_gsum"];
    if !counter_like.contains(&suffix) {
        return None;
    }
    if sample.value.is_nan() {
        return Some(format!("`{}` cannot be NaN", sample.name));
    }
    if sample.value < 0.0 && suffix != "_gsum" {
        return Some(format!("`{}` cannot be negative", sample.name));
    }
    if matches!(suffix, "_bucket" | "_count" | "_gcount") && sample.value.fract() != 0.0 {
        return Some(format!("`{}` must be a whole number", sample.name));
    }
    None
}

/// OpenMetrics spells +Inf one way: a bound or quantile that is infinite must say `+Inf`.
fn canonical(number: &str) -> bool {
    super::grammar::parse_float(number).is_none_or(|n| !n.is_infinite() || number == "+Inf")
}

fn histogram_problem(
    family: &mut Family,
    suffix: &str,
    sample: &Sample<'_>,
    format: Format,
    standard: bool,
    line: usize,
) -> Option<String> {
    let om = format == Format::OpenMetrics;
    let value = sample.value;
    if !matches!(suffix, "_bucket" | "_count" | "_gcount" | "_sum" | "_gsum") {
        return None;
    }
    if matches!(suffix, "_count" | "_gcount") && (value.is_nan() || value < 0.0) {
        return Some(format!("`{}` cannot be negative or NaN", sample.name));
    }
    let bound = if suffix == "_bucket" {
        let Some(le) = sample.label("le") else {
            return Some(format!("bucket `{}` has no `le` label", sample.name));
        };
        let Some(bound) = super::grammar::parse_float(le).filter(|b| !b.is_nan()) else {
            return Some(format!("bucket bound le=\"{le}\" is not a number"));
        };
        if standard && !canonical(le) {
            return Some(format!(
                "bucket bound le=\"{le}\" is not written as OpenMetrics writes it (+Inf)"
            ));
        }
        if value.is_nan() || value < 0.0 {
            return Some("a bucket count cannot be negative or NaN".into());
        }
        Some(bound)
    } else {
        None
    };
    let key = series_hash("", &sample.labels, Some("le"));
    let timestamp = sample.timestamp_ms.filter(|_| om);
    let histogram = family
        .buckets
        .entry(key)
        .or_insert_with(|| Histogram::new(timestamp, line));
    // OpenMetrics: the same histogram at a later time starts over.
    if histogram.timestamp != timestamp {
        if let Some(problem) = histogram.problem(&family.name, standard) {
            return Some(problem);
        }
        *histogram = Histogram::new(timestamp, line);
    }
    match (suffix, bound) {
        ("_bucket", Some(bound)) => {
            let le = sample.label("le").unwrap_or_default();
            if bound <= histogram.le {
                return Some(format!(
                    "bucket le=\"{le}\" is not above the previous bucket's bound"
                ));
            }
            if value < histogram.count {
                return Some(format!(
                    "bucket le=\"{le}\" counts less than the bucket before it"
                ));
            }
            histogram.le = bound;
            histogram.count = value;
            histogram.buckets = true;
            histogram.line = line;
            histogram.negative_bucket |= bound < 0.0;
        }
        ("_count" | "_gcount", _) => histogram.total = Some(value),
        ("_sum", _) => histogram.sum = true,
        ("_gsum", _) => {
            histogram.gsum = true;
            histogram.negative_gsum |= value < 0.0;
        }
        _ => {}
    }
    None
}

/// Parses a whole body, calling `visit` for each line with the parser (for the current
/// family) and the sample the line filled.
pub fn parse_body<'a>(
    body: &'a str,
    format: Format,
    visit: impl FnMut(&Parser, &Line<'a>, &Sample<'a>),
) -> Result<Parser, ParseError> {
    parse_body_with(body, format, Rules::Scrape, visit)
}

/// [`parse_body`] with the given rules.
pub fn parse_body_with<'a>(
    body: &'a str,
    format: Format,
    rules: Rules,
    mut visit: impl FnMut(&Parser, &Line<'a>, &Sample<'a>),
) -> Result<Parser, ParseError> {
    let mut parser = Parser::with_rules(format, rules);
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
