//! Normalization: a raw line in, the canonical [`Record`] out. Detects the format (trying the
//! format that matched last on this source first), takes the well-known fields out, redacts
//! secrets, escapes control characters and bounds every field. The same code serves `vigia
//! run` (the [`stage`]) and `vigia parse`.
//!
//! Speed: the record borrows its text from the line; a field is copied only when it changes
//! (an unescaped JSON string, a redaction, an escaped control character, a cut), and the
//! record is written straight to JSON.

pub mod stage;

use super::json_out;
use super::level::Level;
use super::parse::access::request_summary;
use super::parse::fields::Fields;
use super::parse::{Format, Parsed};
use super::record::{ErrorInfo, IdSpans, Record, SourceInfo, Text, TsOrigin};
use super::redact::Redactor;
use super::sanitize;
use super::value::{Field, FieldValue};
use crate::logs::pipeline::{Origin, RawLine};
use crate::metrics::red::ServiceHttpMetrics;
use std::borrow::Cow;
use std::sync::Arc;

/// Most attributes kept per record; the number of the rest is in `attrs._dropped`.
pub const MAX_ATTRS: usize = 128;
/// Largest text attribute; longer ones are cut with a marker.
pub const MAX_ATTR_BYTES: usize = 8 * 1024;

/// What the pipeline needs of a record besides its JSON line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// Unix nanoseconds.
    pub ts: i64,
    /// When the line was read (Unix nanoseconds): what a sink sends instead of an event time
    /// its destination would refuse.
    pub read_ts: i64,
    pub level: Level,
    pub invalid_utf8: bool,
    /// `stdout` / `stderr` (container logs), `stdin`.
    pub stream: Option<&'static str>,
    /// Where the ids are in the line, for sinks that send them as metadata.
    pub ids: IdSpans,
}

pub struct Normalizer {
    format: Format,
    last: Format,
    redactor: Arc<Redactor>,
    /// Room for the redactor's look at a whole line, reused from line to line.
    scratch: Vec<u8>,
    /// RED metrics from the access-log fields of each record, when on for this source.
    http_metrics: Option<ServiceHttpMetrics>,
}

impl Normalizer {
    /// `format` is `Auto` to detect per line, or the format every line is parsed as (a line
    /// that is not in it becomes plain text).
    pub fn new(format: Format, redactor: Arc<Redactor>) -> Self {
        Self {
            format,
            last: Format::Json,
            redactor,
            scratch: Vec::new(),
            http_metrics: None,
        }
    }

    /// Counts each record with HTTP fields in `metrics` (`metrics.from_logs`).
    pub fn with_http_metrics(mut self, metrics: ServiceHttpMetrics) -> Self {
        self.http_metrics = Some(metrics);
        self
    }

    fn parse<'a>(&mut self, text: &'a str) -> (Format, Parsed<'a>) {
        if self.format != Format::Auto {
            return match self.format.parse(text) {
                Some(parsed) => (self.format, parsed),
                None => (Format::Plain, Format::Plain.parse(text).unwrap_or_default()),
            };
        }
        // Fast path: a source's lines are mostly in one format.
        if self.last != Format::Plain
            && let Some(parsed) = self.last.parse(text)
        {
            return (self.last, parsed);
        }
        for format in Format::DETECTION_ORDER {
            if format == self.last {
                continue;
            }
            if let Some(parsed) = format.parse(text) {
                if format != Format::Plain {
                    self.last = format;
                }
                return (format, parsed);
            }
        }
        (Format::Plain, Format::Plain.parse(text).unwrap_or_default())
    }

    /// Normalizes `line` and appends its record to `out` as one JSON line.
    pub fn normalize_into(
        &mut self,
        line: &RawLine,
        origin: &Origin,
        out: &mut Vec<u8>,
    ) -> RecordMeta {
        let mut http_metrics = self.http_metrics.take();
        let meta = self.with_record(line, origin, |record| {
            if let Some(metrics) = &mut http_metrics
                && let Some(http) = &record.http
                && let Some(status) = http.status
            {
                metrics.observe(
                    http.method.as_deref(),
                    http.route.as_deref(),
                    http.path.as_deref(),
                    status,
                    http.duration,
                );
            }
            let ids = record.write_json_line(out);
            RecordMeta {
                ts: record.ts,
                read_ts: line.read_time_ns,
                level: record.level,
                invalid_utf8: record.source.invalid_utf8,
                stream: record.source.stream,
                ids,
            }
        });
        self.http_metrics = http_metrics;
        meta
    }

    /// Normalizes `line` and hands its record (which borrows from the line) to `use_record`.
    pub fn with_record<R>(
        &mut self,
        line: &RawLine,
        origin: &Origin,
        use_record: impl FnOnce(&Record<'_>) -> R,
    ) -> R {
        // Valid UTF-8 (nearly every line) is checked once, fast; only invalid lines pay for
        // the lossy conversion.
        let text = match std::str::from_utf8(&line.bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&line.bytes),
        };
        let record = self.record(&text, matches!(text, Cow::Owned(_)), line, origin);
        use_record(&record)
    }

    fn record<'a>(
        &mut self,
        text: &'a str,
        invalid_utf8: bool,
        line: &RawLine,
        origin: &Origin,
    ) -> Record<'a> {
        let (format, mut parsed) = self.parse(text);
        let mut known = Fields::new(std::mem::take(&mut parsed.fields));
        known.take_common(&mut parsed);
        let (trace_id, span_id) = known.take_trace();
        let http = known.take_http(parsed.http.take().unwrap_or_default());
        let mut error = known.take_error().unwrap_or_default();
        let mut rest = known.into_rest();
        sort_fields(&mut rest);
        let mut msg = parsed.msg.take().unwrap_or_default();
        split_stack_trace(&mut msg, &mut error);
        if error.kind.is_none()
            && let Some(stack) = &error.stack
            && let Some((kind, message)) = exception_header("", stack)
        {
            error.kind = Some(kind.into());
            error.message.get_or_insert(message.into());
        }
        if msg.is_empty()
            && let Some(summary) = http.as_ref().and_then(request_summary)
        {
            // A request log with no message: say what the request was.
            msg = summary.into();
        }

        let (ts, ts_origin) = match (parsed.ts, line.container_time_ns) {
            (Some(ts), _) => (ts, TsOrigin::Event),
            (None, Some(ts)) => (ts, TsOrigin::Container),
            (None, None) => (line.read_time_ns, TsOrigin::Read),
        };
        let mut level = parsed.level.unwrap_or(Level::Unknown);
        if level == Level::Unknown && error.stack.is_some() {
            level = Level::Error;
        }

        let mut record = Record {
            ts,
            level,
            msg,
            logger: parsed.logger,
            caller: parsed.caller,
            trace_id,
            span_id,
            http,
            error: (!error.is_empty()).then_some(error),
            attrs: self.attrs(rest),
            source: SourceInfo {
                format: format.name(),
                ts_origin,
                level_rule: parsed.level_rule,
                stream: line.stream,
                file: origin.file.clone(),
                kubernetes: origin.kubernetes.clone(),
                truncated: line.truncated,
                invalid_utf8,
            },
            // serde_json borrows only strings without escapes; other parsers borrow pieces of
            // the line as they are.
            borrowed_is_clean: format == Format::Json || !json_out::needs_escape(text),
        };
        self.clean(&mut record, text);
        record
    }

    /// Bounded attributes, with secret-named fields replaced whole.
    fn attrs<'a>(&self, mut fields: Vec<Field<'a>>) -> Vec<Field<'a>> {
        let total = fields.len();
        fields.truncate(MAX_ATTRS);
        for (key, value) in &mut fields {
            if self.redactor.is_secret_key(key) {
                *value = FieldValue::from(self.redactor.redact_whole());
            }
        }
        if total > MAX_ATTRS {
            fields.push((
                "_dropped".into(),
                FieldValue::from((total - MAX_ATTRS) as u64),
            ));
        }
        fields
    }

    /// Redaction, control characters and size limits on every text field. Identifiers
    /// (logger, caller, ids, method, route, protocol) cannot usefully hold a secret: they are
    /// only escaped and bounded, which keeps the per-event cost down.
    ///
    /// Text borrowed from the line is a piece of it: when the whole line has nothing to redact
    /// or escape, neither has any such field, and only the fields that were changed on the way
    /// (unescaped, joined) are looked at one by one.
    fn clean(&mut self, record: &mut Record<'_>, line: &str) {
        let line_rules = self.redactor.rules_for(line, &mut self.scratch);
        let line_may_escape = sanitize::may_need_escape(line, false);
        let (redactor, scratch) = (&self.redactor, &mut self.scratch);
        let mut text = |value: &mut Text<'_>, keep_newlines: bool| {
            let rules = match value {
                Cow::Borrowed(_) => line_rules,
                Cow::Owned(owned) => redactor.rules_for(owned, scratch),
            };
            redactor.redact_cow(value, rules);
            if line_may_escape || !matches!(value, Cow::Borrowed(_)) {
                sanitize::escape_controls_cow(value, keep_newlines);
            }
        };
        let identifier = |value: &mut Text<'_>| {
            if line_may_escape || !matches!(value, Cow::Borrowed(_)) {
                sanitize::escape_controls_cow(value, false);
            }
            sanitize::truncate_cow(value, MAX_ATTR_BYTES);
        };
        text(&mut record.msg, false);
        for value in [
            &mut record.logger,
            &mut record.caller,
            &mut record.trace_id,
            &mut record.span_id,
        ] {
            value.as_mut().map(identifier);
        }
        if let Some(http) = &mut record.http {
            for value in [&mut http.method, &mut http.route, &mut http.protocol] {
                value.as_mut().map(identifier);
            }
            for value in [
                &mut http.path,
                &mut http.client,
                &mut http.user_agent,
                &mut http.referer,
            ]
            .into_iter()
            .flatten()
            {
                text(value, false);
                sanitize::truncate_cow(value, MAX_ATTR_BYTES);
            }
        }
        if let Some(error) = &mut record.error {
            for value in [&mut error.kind, &mut error.message].into_iter().flatten() {
                text(value, false);
            }
            if let Some(stack) = &mut error.stack {
                text(stack, true);
            }
        }
        for (key, value) in &mut record.attrs {
            identifier(key);
            clean_value(value, &mut text);
        }
    }
}

/// Fields sorted by name, the last of a repeated name kept: attributes come out in a stable
/// order whatever order the service wrote them in.
fn sort_fields(fields: &mut Vec<Field<'_>>) {
    if fields.is_sorted_by(|a, b| a.0 < b.0) {
        return;
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

fn clean_value(value: &mut FieldValue<'_>, text: &mut impl FnMut(&mut Text<'_>, bool)) {
    match value {
        FieldValue::Str(s) => {
            text(s, false);
            sanitize::truncate_cow(s, MAX_ATTR_BYTES);
        }
        FieldValue::Array(items) => {
            for item in items {
                clean_value(item, text);
            }
        }
        FieldValue::Object(fields) => {
            for (_, item) in fields {
                clean_value(item, text);
            }
        }
        _ => {}
    }
}

/// `text[start..end]`, borrowed from the line if `text` is.
fn slice<'a>(text: &Text<'a>, start: usize, end: usize) -> Text<'a> {
    match text {
        Cow::Borrowed(borrowed) => Cow::Borrowed(&borrowed[start..end]),
        Cow::Owned(owned) => Cow::Owned(owned[start..end].to_owned()),
    }
}

/// A multiline event (a message followed by a stack trace): the first line stays the message,
/// the rest becomes `error.stack`, and the exception's type and message are taken from it.
/// When the event already has a stack (a structured field), the message is left whole.
fn split_stack_trace<'a>(msg: &mut Text<'a>, error: &mut ErrorInfo<'a>) {
    if error.stack.is_some() {
        return;
    }
    let Some(newline) = msg.find('\n') else {
        return;
    };
    if msg[..newline].trim_end() == "Traceback (most recent call last):" {
        // An uncaught Python exception: the message is the last line, the stack the whole.
        let last = msg
            .lines()
            .rev()
            .find(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
            .unwrap_or_default()
            .to_owned();
        error.stack = Some(std::mem::replace(msg, last.into()));
        return;
    }
    let tail = &msg[newline + 1..];
    let stack_start = msg.len() - tail.trim_start_matches('\n').len();
    if !looks_like_stack(&msg[stack_start..]) {
        return;
    }
    let stack = slice(msg, stack_start, msg.len());
    *msg = slice(msg, 0, newline);
    if let Some((kind, message)) = exception_header(msg, &stack) {
        error.kind.get_or_insert(kind.into());
        if error.message.is_none() && !message.is_empty() {
            error.message = Some(message.into());
        }
    }
    error.stack = Some(stack);
}

/// Frames of a stack trace, as opposed to a message that merely has several lines.
fn looks_like_stack(text: &str) -> bool {
    text.lines().any(|line| {
        line.starts_with([' ', '\t'])
            || line.starts_with("Traceback (most recent call last):")
            || line.starts_with("goroutine ")
            || line.starts_with("Caused by: ")
    }) || exception_header("", text).is_some()
}

/// `(type, message)` of the exception in a trace: a Java header (`java.lang.X: msg`), Python's
/// last line (`ValueError: msg`), Go's `panic: msg`, Node's `TypeError: msg`.
fn exception_header(first: &str, stack: &str) -> Option<(String, String)> {
    let candidates = std::iter::once(first).chain(stack.lines());
    let python_last = stack
        .contains("Traceback (most recent call last):")
        .then(|| {
            stack
                .lines()
                .rev()
                .find(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
        });
    let lines: Vec<&str> = match python_last.flatten() {
        Some(last) => vec![last],
        None => candidates.collect(),
    };
    for line in lines {
        let line = line.trim_start_matches("Exception in thread ").trim();
        let line = line.split_once("\" ").map_or(line, |(_, rest)| rest);
        if let Some(message) = line.strip_prefix("panic: ") {
            return Some(("panic".to_owned(), message.to_owned()));
        }
        // Ruby: "app.rb:10:in `charge': card declined (RuntimeError)"
        if let Some((head, kind)) = line.strip_suffix(')').and_then(|l| l.rsplit_once(" ("))
            && (kind.ends_with("Error") || kind.ends_with("Exception"))
            && !kind.contains(' ')
        {
            let message = head.split_once("': ").map_or(head, |(_, m)| m);
            return Some((kind.to_owned(), message.to_owned()));
        }
        let (name, message) = line.split_once(": ").unwrap_or((line, ""));
        let simple = name.rsplit('.').next().unwrap_or(name);
        let is_exception = !name.is_empty()
            && !name.contains(' ')
            && (simple.ends_with("Exception")
                || simple.ends_with("Error")
                || simple == "Throwable");
        if is_exception {
            return Some((name.to_owned(), message.to_owned()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::redact::DEFAULT_RULES;
    use prometheus::IntCounter;

    fn normalizer() -> Normalizer {
        let rules: Vec<String> = DEFAULT_RULES.iter().map(|s| s.to_string()).collect();
        let redactor = Redactor::new(&rules, &[], |n| {
            IntCounter::new(format!("n_{n}"), "n").unwrap()
        })
        .unwrap();
        Normalizer::new(Format::Auto, Arc::new(redactor))
    }

    fn raw(text: &str) -> RawLine {
        RawLine {
            bytes: text.as_bytes().to_vec(),
            read_time_ns: 7,
            container_time_ns: None,
            stream: None,
            truncated: false,
        }
    }

    fn origin() -> Origin {
        Origin {
            source_id: Arc::from("app"),
            file: None,
            kubernetes: None,
        }
    }

    /// The record `text` becomes, as the JSON written out.
    fn normalize(n: &mut Normalizer, text: &str) -> serde_json::Value {
        let mut out = Vec::new();
        n.normalize_into(&raw(text), &origin(), &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn a_java_trace_becomes_message_and_error() {
        let mut n = normalizer();
        let record = normalize(
            &mut n,
            "2024-05-01 10:00:00.123 [main] ERROR com.shop.App - Payment failed\njava.lang.IllegalStateException: card declined\n\tat com.shop.Pay.charge(Pay.java:42)",
        );
        assert_eq!(record["msg"], "Payment failed");
        let error = &record["error"];
        assert_eq!(error["type"], "java.lang.IllegalStateException");
        assert_eq!(error["message"], "card declined");
        assert!(error["stack"].as_str().unwrap().ends_with("Pay.java:42)"));
    }

    #[test]
    fn a_python_traceback_takes_its_last_line() {
        let mut n = normalizer();
        let record = normalize(
            &mut n,
            "ERROR:root:request failed\nTraceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\nZeroDivisionError: division by zero",
        );
        let error = &record["error"];
        assert_eq!(
            (&error["type"], &error["message"]),
            (&"ZeroDivisionError".into(), &"division by zero".into())
        );
    }

    #[test]
    fn the_fast_path_follows_the_source_and_falls_back() {
        let mut n = normalizer();
        assert_eq!(
            normalize(&mut n, "level=info msg=a k=1")["source"]["format"],
            "logfmt"
        );
        assert_eq!(n.last, Format::Logfmt);
        assert_eq!(
            normalize(&mut n, r#"{"msg":"b"}"#)["source"]["format"],
            "json"
        );
        assert_eq!(normalize(&mut n, "just words")["source"]["format"], "plain");
        assert_eq!(n.last, Format::Json);
    }

    #[test]
    fn secrets_in_fields_and_messages_are_redacted_and_controls_escaped() {
        let mut n = normalizer();
        let record = normalize(
            &mut n,
            r#"{"msg":"login\u001b[31m ok for token=abc123","password":"hunter2","nested":{"dsn":"mysql://u:pw@db/x"}}"#,
        );
        assert_eq!(
            record["msg"],
            "login\\u001b[31m ok for token=[REDACTED:secret_fields]"
        );
        assert_eq!(record["attrs"]["password"], "[REDACTED:secret_fields]");
        assert_eq!(
            record["attrs"]["nested.dsn"],
            "mysql://u:[REDACTED:url_password]@db/x"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_record_with_no_control_characters(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut n = normalizer();
            let line = RawLine { bytes, ..raw("") };
            let mut out = Vec::new();
            n.normalize_into(&line, &origin(), &mut out);
            let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let msg = parsed["msg"].as_str().unwrap();
            proptest::prop_assert!(!msg.chars().any(|c| c.is_control() && c != '\t'));
            proptest::prop_assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        }

        /// JSON lines and text lines full of what JSON escapes: borrowed text is copied out
        /// unescaped only when it is clean (a debug assertion checks each copy), and the
        /// record is one valid JSON line whatever the input.
        #[test]
        fn text_that_needs_escaping_is_escaped(
            fields in proptest::collection::vec(("[a-z_.]{1,8}|\\PC{0,6}", "[a-z \"\\\\\t\u{1}/:=]{0,16}|\\PC{0,12}"), 0..8),
            text in "[a-z =\"\\\\\t\u{1b}:]{0,60}",
        ) {
            let object: serde_json::Map<String, serde_json::Value> =
                fields.into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect();
            let mut n = normalizer();
            for line in [serde_json::Value::Object(object).to_string(), text] {
                let mut out = Vec::new();
                n.normalize_into(&raw(&line), &origin(), &mut out);
                proptest::prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
                proptest::prop_assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
            }
        }
    }

    #[test]
    fn attributes_are_bounded() {
        let mut n = normalizer();
        let object: serde_json::Map<String, serde_json::Value> = (0..300)
            .map(|i| (format!("k{i:03}"), serde_json::Value::from(i)))
            .collect();
        let record = normalize(&mut n, &serde_json::Value::Object(object).to_string());
        let attrs = record["attrs"].as_object().unwrap();
        assert_eq!(attrs.len(), MAX_ATTRS + 1);
        assert_eq!(attrs["_dropped"], 300 - MAX_ATTRS);
        assert_eq!(attrs["k127"], 127);
        let long = format!(r#"{{"msg":"x","blob":"{}"}}"#, "y".repeat(20_000));
        let record = normalize(&mut n, &long);
        assert!(
            record["attrs"]["blob"]
                .as_str()
                .unwrap()
                .ends_with(sanitize::TRUNCATED_MARKER)
        );
    }

    #[test]
    fn repeated_names_keep_the_last_value_and_attributes_are_sorted() {
        let mut n = normalizer();
        let record = normalize(
            &mut n,
            r#"{"msg":"a","zone":"eu","msg":"b","app":"shop","zone":"us"}"#,
        );
        assert_eq!(record["msg"], "b");
        let keys: Vec<&String> = record["attrs"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["app", "zone"]);
        assert_eq!(record["attrs"]["zone"], "us");
    }
}
