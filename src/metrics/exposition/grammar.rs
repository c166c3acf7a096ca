//! One exposition line: its grammar, in the text and the OpenMetrics flavour. Names, label
//! values and help text are borrowed from the line unless they hold escapes.
//!
//! ```text
//! # HELP name text            # TYPE name type        # UNIT name unit (OpenMetrics)
//! name{label="value",…} value [timestamp] [# {label="value"} value [timestamp]]
//! {"utf8.name", "utf8.label"="value"} value                            (quoted names)
//! ```

use super::{Exemplar, Format, Label, Line, MetricType, Sample};
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take_while;
use std::borrow::Cow;

/// Where in the line (a byte offset) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub offset: usize,
    pub message: String,
}

type Result<T> = std::result::Result<T, LineError>;

/// OpenMetrics caps an exemplar's label set at 128 UTF-8 characters.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// Reads `line` (without its `\n`). For a sample, fills `sample` (its label list is reused)
/// and returns [`Line::Sample`].
pub fn parse_line<'a>(line: &'a str, format: Format, sample: &mut Sample<'a>) -> Result<Line<'a>> {
    parse_line_in(line, format, sample, "")
}

/// [`parse_line`] knowing the current family's name: a sample line starting with it (most of
/// them) has that much of its name checked with one comparison.
pub fn parse_line_in<'a>(
    line: &'a str,
    format: Format,
    sample: &mut Sample<'a>,
    family: &str,
) -> Result<Line<'a>> {
    let mut cursor = Cursor {
        line,
        at: 0,
        format,
        family,
    };
    if format == Format::Text {
        cursor.blanks();
        if cursor.rest().is_empty() {
            return Ok(Line::Blank);
        }
    }
    if cursor.rest().starts_with('#') {
        return cursor.descriptor();
    }
    cursor.sample(sample)?;
    Ok(Line::Sample)
}

struct Cursor<'a, 'f> {
    family: &'f str,
    line: &'a str,
    at: usize,
    format: Format,
}

fn blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl<'a> Cursor<'a, '_> {
    fn rest(&self) -> &'a str {
        &self.line[self.at..]
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(LineError {
            offset: self.at,
            message: message.into(),
        })
    }

    fn advance(&mut self, bytes: usize) {
        self.at += bytes;
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.advance(c.len_utf8());
            true
        } else {
            false
        }
    }

    /// The longest run of bytes from here that `accept`s (nom over bytes: no char decoding;
    /// `accept` rejects some ASCII byte that ends the run, so the run ends on a char boundary).
    fn run_of(&self, accept: impl Fn(u8) -> bool) -> usize {
        let parsed: IResult<&[u8], &[u8]> = take_while(accept).parse(self.rest().as_bytes());
        parsed.map_or(0, |(_, run)| run.len())
    }

    /// Any run of blanks (text format leniency).
    fn blanks(&mut self) -> usize {
        let taken = self.run_of(|b| b == b' ' || b == b'\t');
        self.advance(taken);
        taken
    }

    /// The separator between tokens: blanks in text, exactly one space in OpenMetrics.
    fn separator(&mut self, what: &str) -> Result<()> {
        match self.format {
            Format::Text => {
                if self.blanks() == 0 {
                    return self.error(format!("expected a space before {what}"));
                }
            }
            Format::OpenMetrics => {
                if !self.eat(' ') {
                    return self.error(format!("expected a space before {what}"));
                }
                if self.rest().starts_with(blank) {
                    return self.error("OpenMetrics separates tokens with exactly one space");
                }
            }
        }
        Ok(())
    }

    fn token(&mut self) -> &'a str {
        let rest = self.rest();
        let length = self.run_of(|b| b != b' ' && b != b'\t');
        self.advance(length);
        &rest[..length]
    }

    fn bare_name(&mut self, metric: bool) -> Option<&'a str> {
        let rest = self.rest();
        let class = if metric { METRIC_CHAR } else { LABEL_CHAR };
        let length = self.run_of(|b| NAME_CHARS[b as usize] & class != 0);
        // The run holds only name characters; a name just cannot start with a digit.
        if length == 0 || rest.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        self.advance(length);
        Some(&rest[..length])
    }

    /// A metric name, bare or quoted (UTF-8 names, Prometheus 3).
    fn metric_name(&mut self) -> Result<Cow<'a, str>> {
        if self.rest().starts_with('"') {
            let name = self.quoted()?;
            if name.is_empty() {
                return self.error("empty metric name");
            }
            return Ok(name);
        }
        match self.bare_name(true) {
            Some(name) => Ok(Cow::Borrowed(name)),
            None => self.error("expected a metric name"),
        }
    }

    /// `"…"` with `\\`, `\"` and `\n` escapes.
    fn quoted(&mut self) -> Result<Cow<'a, str>> {
        let open = self.at;
        if !self.eat('"') {
            return self.error("expected '\"'");
        }
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let Some(end) = memchr::memchr2(b'"', b'\\', bytes) else {
            self.at = open;
            return self.error("unterminated quoted string");
        };
        if bytes[end] == b'"' {
            self.advance(end + 1);
            return Ok(Cow::Borrowed(&rest[..end]));
        }
        let mut owned = String::with_capacity(rest.len());
        let mut i = 0;
        loop {
            let Some(next) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
                self.at = open;
                return self.error("unterminated quoted string");
            };
            owned.push_str(&rest[i..i + next]);
            i += next;
            if bytes[i] == b'"' {
                self.advance(i + 1);
                return Ok(Cow::Owned(owned));
            }
            match bytes.get(i + 1) {
                Some(b'\\') => owned.push('\\'),
                Some(b'"') => owned.push('"'),
                Some(b'n') => owned.push('\n'),
                // OpenMetrics' reference parser keeps any other escape as written.
                Some(_) if self.format == Format::OpenMetrics => {
                    owned.push('\\');
                    i += 1;
                    continue;
                }
                _ => {
                    self.advance(i);
                    return self.error("invalid escape sequence (only \\\\, \\\" and \\n)");
                }
            }
            i += 2;
        }
    }

    fn descriptor(&mut self) -> Result<Line<'a>> {
        self.advance(1);
        match self.format {
            Format::Text => {
                let blanks = self.blanks();
                let keyword = self.token();
                let descriptor = matches!(keyword, "HELP" | "TYPE");
                if blanks == 0 || !descriptor || self.blanks() == 0 {
                    // Any other comment; `# HELP` with nothing after is a comment too.
                    return Ok(Line::Comment);
                }
                let name = self.metric_name()?;
                if keyword == "HELP" {
                    if !self.rest().is_empty() && self.blanks() == 0 {
                        return self.error("expected a space after the metric name");
                    }
                    return Ok(Line::Help {
                        name,
                        text: unescape_help(self.rest(), Format::Text),
                    });
                }
                if self.blanks() == 0 {
                    return self.error("expected a type after the metric name");
                }
                let kind_at = self.at;
                let kind_text = self.token();
                self.blanks();
                match MetricType::parse(kind_text, Format::Text) {
                    Some(kind) if self.rest().is_empty() => Ok(Line::Type { name, kind }),
                    Some(_) => self.error("unexpected text after the type"),
                    None => Err(LineError {
                        offset: kind_at,
                        message: format!(
                            "unknown type `{kind_text}` (counter, gauge, histogram, summary, untyped)"
                        ),
                    }),
                }
            }
            Format::OpenMetrics => {
                if self.rest() == " EOF" {
                    return Ok(Line::Eof);
                }
                if !self.eat(' ') {
                    return self.error("OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF");
                }
                let keyword = self.token();
                if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
                    self.at -= keyword.len();
                    return self.error("OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF");
                }
                self.separator("the metric name")?;
                let name = self.metric_name()?;
                match keyword {
                    "HELP" => {
                        // `# HELP name ` has an empty text; `# HELP name` has none.
                        if !self.eat(' ') {
                            return self
                                .error("expected a space and the help text after the metric name");
                        }
                        let text = self.rest();
                        Ok(Line::Help {
                            name,
                            text: unescape_help(text, Format::OpenMetrics),
                        })
                    }
                    "TYPE" => {
                        self.separator("the type")?;
                        let kind_text = self.token();
                        if !self.rest().is_empty() {
                            return self.error("unexpected text after the type");
                        }
                        match MetricType::parse(kind_text, Format::OpenMetrics) {
                            Some(kind) => Ok(Line::Type { name, kind }),
                            None => {
                                self.at -= kind_text.len();
                                self.error(format!("unknown type `{kind_text}` (counter, gauge, histogram, gaugehistogram, summary, info, stateset, unknown)"))
                            }
                        }
                    }
                    _ => {
                        if !self.eat(' ') {
                            return self
                                .error("expected a space and the unit after the metric name");
                        }
                        if self.rest().is_empty() {
                            return Ok(Line::Unit {
                                name,
                                unit: Cow::Borrowed(""),
                            });
                        }
                        let unit = self.token();
                        if !self.rest().is_empty()
                            || !unit
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
                        {
                            return self
                                .error("a unit is one word of letters, digits, `_` and `:`");
                        }
                        Ok(Line::Unit {
                            name,
                            unit: Cow::Borrowed(unit),
                        })
                    }
                }
            }
        }
    }

    fn sample(&mut self, sample: &mut Sample<'a>) -> Result<()> {
        sample.labels.clear();
        sample.exemplar = None;
        sample.timestamp_ms = None;
        sample.family_prefix = 0;
        let rest = self.rest();
        let name = if rest.starts_with('{') {
            // `{"utf8.name", labels…}`: the name is the first, quoted, item.
            None
        } else if !self.family.is_empty()
            && rest.starts_with(self.family)
            && rest.as_bytes()[0] != b'"'
        {
            // The family's name is a valid bare name (or it would not be the family's):
            // only the suffix is left to scan.
            let known = self.family.len();
            sample.family_prefix = known;
            self.advance(known);
            let suffix = self.run_of(|b| NAME_CHARS[b as usize] & METRIC_CHAR != 0);
            self.advance(suffix);
            Some(Cow::Borrowed(&rest[..known + suffix]))
        } else {
            Some(self.metric_name()?)
        };
        let mut quoted_name = None;
        if self.rest().starts_with('{') {
            self.label_set(
                &mut sample.labels,
                name.is_none().then_some(&mut quoted_name),
            )?;
        }
        sample.name = match name.or(quoted_name) {
            Some(name) => name,
            None => return self.error("a sample needs a metric name"),
        };
        self.separator("the value")?;
        let start = self.at;
        sample.value = match parse_float(self.token()) {
            Some(value) => value,
            None => {
                self.at = start;
                return self.error("expected a number (a float, NaN, +Inf or -Inf)");
            }
        };
        if self.rest().is_empty() {
            return Ok(());
        }
        self.separator("a timestamp or an exemplar")?;
        if self.rest().is_empty() && self.format == Format::Text {
            return Ok(());
        }
        if !self.rest().starts_with('#') {
            let start = self.at;
            let token = self.token();
            sample.timestamp_ms = Some(match self.timestamp(token) {
                Some(ms) => ms,
                None => {
                    self.at = start;
                    return self.error("expected a timestamp");
                }
            });
            if self.rest().is_empty() {
                return Ok(());
            }
            self.separator("an exemplar")?;
            if self.rest().is_empty() && self.format == Format::Text {
                return Ok(());
            }
        }
        if self.format == Format::Text || !self.rest().starts_with("# ") {
            return self.error("unexpected text after the sample");
        }
        self.advance(2);
        sample.exemplar = Some(self.exemplar()?);
        Ok(())
    }

    fn timestamp(&self, token: &str) -> Option<i64> {
        match self.format {
            Format::Text => token.parse::<i64>().ok(),
            Format::OpenMetrics => {
                let seconds = parse_float(token)?;
                seconds
                    .is_finite()
                    .then(|| (seconds * 1000.0).round() as i64)
            }
        }
    }

    fn exemplar(&mut self) -> Result<Exemplar<'a>> {
        let start = self.at;
        if !self.rest().starts_with('{') {
            return self.error("an exemplar starts with a label set");
        }
        let mut labels = Vec::new();
        self.label_set(&mut labels, None)?;
        let chars: usize = labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if chars > MAX_EXEMPLAR_LABEL_CHARS {
            self.at = start;
            return self.error(format!(
                "an exemplar's labels are {chars} characters, more than {MAX_EXEMPLAR_LABEL_CHARS}"
            ));
        }
        self.separator("the exemplar's value")?;
        let at = self.at;
        let Some(value) = parse_float(self.token()) else {
            self.at = at;
            return self.error("expected the exemplar's value");
        };
        let mut timestamp = None;
        if !self.rest().is_empty() {
            self.separator("the exemplar's timestamp")?;
            let at = self.at;
            match parse_float(self.token()).filter(|t| t.is_finite()) {
                Some(t) => timestamp = Some(t),
                None => {
                    self.at = at;
                    return self.error("expected the exemplar's timestamp");
                }
            }
        }
        if !self.rest().is_empty() {
            return self.error("unexpected text after the exemplar");
        }
        Ok(Exemplar {
            labels,
            value,
            timestamp,
        })
    }

    /// `{name="value",…}`; `quoted_name` takes a first item that is a quoted string alone.
    fn label_set(
        &mut self,
        labels: &mut Vec<Label<'a>>,
        mut quoted_name: Option<&mut Option<Cow<'a, str>>>,
    ) -> Result<()> {
        let text = self.format == Format::Text;
        self.advance(1);
        if text {
            self.blanks();
        }
        if self.eat('}') {
            return Ok(());
        }
        let mut first = true;
        let mut sorted = labels.len();
        // Unsorted label sets past a few labels are checked for duplicates by hash, so a
        // series with 100,000 labels costs linear time, not quadratic.
        let mut name_hashes: Option<rustc_hash::FxHashSet<u64>> = None;
        loop {
            let start = self.at;
            let name = if self.rest().starts_with('"') {
                self.quoted()?
            } else {
                match self.bare_name(false) {
                    Some(name) => Cow::Borrowed(name),
                    None => return self.error("expected a label name"),
                }
            };
            if text {
                self.blanks();
            }
            if self.eat('=') {
                if text {
                    self.blanks();
                }
                let value = self.quoted()?;
                // Exporters write labels sorted: above every earlier name means no
                // duplicate, checked with one comparison while that holds.
                let sorted_so_far = labels.len() == sorted;
                if sorted_so_far && labels.last().is_none_or(|l| before(&l.name, &name)) {
                    sorted += 1;
                } else if duplicate_name(labels, &name, &mut name_hashes) {
                    self.at = start;
                    return self.error(format!("label `{name}` appears twice"));
                }
                if name.is_empty() {
                    self.at = start;
                    return self.error("empty label name");
                }
                labels.push(Label { name, value });
            } else {
                let quoted = self.line.as_bytes()[start] == b'"';
                match quoted_name.take() {
                    Some(slot) if first && quoted => *slot = Some(name),
                    _ => {
                        return self.error("expected '=' after the label name");
                    }
                }
            }
            first = false;
            if text {
                self.blanks();
            }
            if self.eat('}') {
                return Ok(());
            }
            if !self.eat(',') {
                return self.error("expected ',' or '}' in the label set");
            }
            if text {
                self.blanks();
                if self.eat('}') {
                    return Ok(());
                }
            }
        }
    }
}

/// `a < b`, deciding on the first byte when it can (label names are short: a `memcmp` call
/// costs more than the comparison).
fn before(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

/// Whether `name` is already among `labels`: a scan for a few labels, a hash set past that
/// (built once, then kept up to date with every name checked).
fn duplicate_name(
    labels: &[Label<'_>],
    name: &str,
    hashes: &mut Option<rustc_hash::FxHashSet<u64>>,
) -> bool {
    const SCAN_UP_TO: usize = 16;
    let hash = |text: &str| {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        text.hash(&mut hasher);
        hasher.finish()
    };
    if hashes.is_none() && labels.len() < SCAN_UP_TO {
        return labels.iter().any(|l| same(&l.name, name));
    }
    let set = hashes.get_or_insert_with(|| labels.iter().map(|l| hash(&l.name)).collect());
    // A hash seen before is a duplicate only if a name really matches (collisions are rare).
    !set.insert(hash(name)) && labels.iter().any(|l| same(&l.name, name))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

const LABEL_CHAR: u8 = 1;
const METRIC_CHAR: u8 = 2;

/// Per byte: may it be in a label name (`[a-zA-Z0-9_]`), in a metric name (also `:`)?
static NAME_CHARS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            table[b] = LABEL_CHAR | METRIC_CHAR;
        } else if c == b':' {
            table[b] = METRIC_CHAR;
        }
        b += 1;
    }
    table
};

/// A float as the formats write them: decimal or exponent, `NaN`, `+Inf`, `-Inf`.
pub fn parse_float(token: &str) -> Option<f64> {
    // Rust also reads "infinity" and "nan" in any case, as Go's ParseFloat does; it does not
    // read `_` separators or hex floats, which the formats do not use.
    if token.is_empty() || token.contains('_') {
        return None;
    }
    token.parse().ok()
}

/// Help text: `\\` and `\n` (and `\"` in OpenMetrics) unescaped; other backslashes kept in
/// text format, as Prometheus does.
fn unescape_help(text: &str, format: Format) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if format == Format::OpenMetrics => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod label_set_tests {
    use super::*;

    fn labels(count: usize, extra: &str) -> String {
        // Unsorted on purpose (`l10` sorts before `l2`): the hash path is taken.
        let mut text: Vec<String> = (0..count).map(|i| format!("l{i}=\"v{i}\"")).collect();
        if !extra.is_empty() {
            text.push(extra.to_owned());
        }
        format!("a{{{}}} 1", text.join(","))
    }

    #[test]
    fn a_duplicate_label_is_found_in_small_and_large_unsorted_sets() {
        for count in [3, 15, 16, 17, 100, 20_000] {
            let mut sample = Sample::default();
            let clean = labels(count, "");
            assert!(
                parse_line(&clean, Format::OpenMetrics, &mut sample).is_ok(),
                "{count}"
            );
            assert_eq!(sample.labels.len(), count);
            let twice = labels(count, "l1=\"again\"");
            let error = parse_line(&twice, Format::OpenMetrics, &mut sample).unwrap_err();
            assert!(
                error.message.contains("`l1` appears twice"),
                "{count}: {error:?}"
            );
        }
    }
}
