//! Normalization: a raw line in, the canonical [`Record`] out. Detects the format (trying the
//! format that matched last on this source first), takes the well-known fields out, redacts
//! secrets, escapes control characters and bounds every field. The same code serves `vigia
//! run` (the [`stage`]) and `vigia parse`.

pub mod stage;

use super::level::Level;
use super::parse::fields::Fields;
use super::parse::{Format, Parsed};
use super::record::{ErrorInfo, Record, SourceInfo, TsOrigin};
use super::redact::Redactor;
use super::sanitize;
use crate::pipeline::{Origin, RawLine};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// Most attributes kept per record; the number of the rest is in `attrs._dropped`.
pub const MAX_ATTRS: usize = 128;
/// Largest text attribute; longer ones are cut with a marker.
pub const MAX_ATTR_BYTES: usize = 8 * 1024;

pub struct Normalizer {
    format: Format,
    last: Format,
    redactor: Arc<Redactor>,
}

impl Normalizer {
    /// `format` is `Auto` to detect per line, or the format every line is parsed as (a line
    /// that is not in it becomes plain text).
    pub fn new(format: Format, redactor: Arc<Redactor>) -> Self {
        Self {
            format,
            last: Format::Json,
            redactor,
        }
    }

    fn parse(&mut self, text: &str) -> (Format, Parsed) {
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

    pub fn normalize(&mut self, line: &RawLine, origin: &Origin) -> Record {
        // Valid UTF-8 (nearly every line) is checked once, fast; only invalid lines pay for
        // the lossy conversion.
        let text = match std::str::from_utf8(&line.bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&line.bytes),
        };
        let invalid_utf8 = matches!(text, Cow::Owned(_));
        let (format, mut parsed) = self.parse(&text);

        let mut known = Fields::new(std::mem::take(&mut parsed.fields));
        known.take_common(&mut parsed);
        let (trace_id, span_id) = known.take_trace();
        let http = known.take_http(parsed.http.take().unwrap_or_default());
        let mut error = known.take_error().unwrap_or_default();
        let rest = known.into_rest();
        let mut msg = parsed.msg.take().unwrap_or_default();
        split_stack_trace(&mut msg, &mut error);
        if error.kind.is_none()
            && let Some(stack) = &error.stack
            && let Some((kind, message)) = exception_header("", stack)
        {
            error.kind = Some(kind);
            error.message.get_or_insert(message);
        }
        if msg.is_empty()
            && let Some(http) = &http
        {
            // A request log with no message: say what the request was.
            msg = [http.method.as_deref(), http.path.as_deref()]
                .into_iter()
                .flatten()
                .chain(http.status.map(|s| s.to_string()).as_deref())
                .collect::<Vec<_>>()
                .join(" ");
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
            http: http.map(Box::new),
            error: (!error.is_empty()).then(|| Box::new(error)),
            attrs: Map::new(),
            source: SourceInfo {
                format: format.name(),
                ts_origin,
                stream: line.stream,
                file: origin.file.clone(),
                kubernetes: origin.kubernetes.clone(),
                truncated: line.truncated,
                invalid_utf8,
            },
        };
        self.attrs(rest, &mut record.attrs);
        self.clean(&mut record);
        record
    }

    /// Bounded attributes, with secret-named fields replaced whole.
    fn attrs(&self, fields: Vec<(String, Value)>, attrs: &mut Map<String, Value>) {
        let total = fields.len();
        for (key, value) in fields.into_iter().take(MAX_ATTRS) {
            let value = if self.redactor.is_secret_key(&key) {
                Value::String(self.redactor.redact_whole())
            } else {
                value
            };
            attrs.insert(key, value);
        }
        if total > MAX_ATTRS {
            attrs.insert("_dropped".to_owned(), Value::from(total - MAX_ATTRS));
        }
    }

    /// Redaction, control characters and size limits on every text field. Identifiers
    /// (logger, caller, ids, method, route, protocol) cannot usefully hold a secret: they are
    /// only escaped and bounded, which keeps the per-event cost down.
    fn clean(&self, record: &mut Record) {
        let text = |value: &mut String, keep_newlines: bool| {
            self.redactor.redact(value);
            sanitize::escape_controls(value, keep_newlines);
        };
        let identifier = |value: &mut String| {
            sanitize::escape_controls(value, false);
            sanitize::truncate(value, MAX_ATTR_BYTES);
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
        if let Some(http) = record.http.as_deref_mut() {
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
                sanitize::truncate(value, MAX_ATTR_BYTES);
            }
        }
        if let Some(error) = record.error.as_deref_mut() {
            for value in [&mut error.kind, &mut error.message].into_iter().flatten() {
                text(value, false);
            }
            if let Some(stack) = &mut error.stack {
                text(stack, true);
            }
        }
        for value in record.attrs.values_mut() {
            clean_value(value, &text);
        }
    }
}

fn clean_value(value: &mut Value, text: &impl Fn(&mut String, bool)) {
    match value {
        Value::String(s) => {
            text(s, false);
            sanitize::truncate(s, MAX_ATTR_BYTES);
        }
        Value::Array(items) => {
            for item in items {
                clean_value(item, text);
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                clean_value(item, text);
            }
        }
        _ => {}
    }
}

/// A multiline event (a message followed by a stack trace): the first line stays the message,
/// the rest becomes `error.stack`, and the exception's type and message are taken from it.
fn split_stack_trace(msg: &mut String, error: &mut ErrorInfo) {
    let Some(newline) = msg.find('\n') else {
        return;
    };
    if msg[..newline].trim_end() == "Traceback (most recent call last):" {
        // An uncaught Python exception: the message is the last line, the stack the whole.
        let last = msg
            .lines()
            .rev()
            .find(|l| !l.is_empty() && !l.starts_with([' ', '\t']));
        let last = last.unwrap_or_default().to_owned();
        if error.stack.is_none() {
            error.stack = Some(std::mem::replace(msg, last));
        }
        return;
    }
    let stack = msg[newline + 1..].trim_start_matches('\n').to_owned();
    if !looks_like_stack(&stack) {
        return;
    }
    msg.truncate(newline);
    let header = exception_header(msg, &stack);
    if error.stack.is_none() {
        error.stack = Some(stack);
    } else {
        msg.push('\n');
        msg.push_str(error.stack.as_deref().unwrap_or_default());
    }
    if let Some((kind, message)) = header {
        error.kind.get_or_insert(kind);
        if error.message.is_none() && !message.is_empty() {
            error.message = Some(message);
        }
    }
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

    #[test]
    fn a_java_trace_becomes_message_and_error() {
        let mut n = normalizer();
        let record = n.normalize(&raw("2024-05-01 10:00:00.123 [main] ERROR com.shop.App - Payment failed\njava.lang.IllegalStateException: card declined\n\tat com.shop.Pay.charge(Pay.java:42)"), &origin());
        assert_eq!(record.msg, "Payment failed");
        let error = record.error.unwrap();
        assert_eq!(
            error.kind.as_deref(),
            Some("java.lang.IllegalStateException")
        );
        assert_eq!(error.message.as_deref(), Some("card declined"));
        assert!(error.stack.unwrap().ends_with("Pay.java:42)"));
    }

    #[test]
    fn a_python_traceback_takes_its_last_line() {
        let mut n = normalizer();
        let record = n.normalize(&raw("ERROR:root:request failed\nTraceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\nZeroDivisionError: division by zero"), &origin());
        let error = record.error.unwrap();
        assert_eq!(
            (error.kind.as_deref(), error.message.as_deref()),
            (Some("ZeroDivisionError"), Some("division by zero"))
        );
    }

    #[test]
    fn the_fast_path_follows_the_source_and_falls_back() {
        let mut n = normalizer();
        assert_eq!(
            n.normalize(&raw("level=info msg=a k=1"), &origin())
                .source
                .format,
            "logfmt"
        );
        assert_eq!(n.last, Format::Logfmt);
        assert_eq!(
            n.normalize(&raw(r#"{"msg":"b"}"#), &origin()).source.format,
            "json"
        );
        assert_eq!(
            n.normalize(&raw("just words"), &origin()).source.format,
            "plain"
        );
        assert_eq!(n.last, Format::Json);
    }

    #[test]
    fn secrets_in_fields_and_messages_are_redacted_and_controls_escaped() {
        let mut n = normalizer();
        let record = n.normalize(&raw(r#"{"msg":"login\u001b[31m ok for token=abc123","password":"hunter2","nested":{"dsn":"mysql://u:pw@db/x"}}"#), &origin());
        assert_eq!(
            record.msg,
            "login\\u001b[31m ok for token=[REDACTED:secret_fields]"
        );
        assert_eq!(record.attrs["password"], "[REDACTED:secret_fields]");
        assert_eq!(
            record.attrs["nested.dsn"],
            "mysql://u:[REDACTED:url_password]@db/x"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_record_with_no_control_characters(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut n = normalizer();
            let line = RawLine { bytes, ..raw("") };
            let record = n.normalize(&line, &origin());
            let mut out = Vec::new();
            record.write_json_line(&mut out);
            let parsed: Value = serde_json::from_slice(&out).unwrap();
            let msg = parsed["msg"].as_str().unwrap();
            proptest::prop_assert!(!msg.chars().any(|c| c.is_control() && c != '\t'));
            proptest::prop_assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        }
    }

    #[test]
    fn attributes_are_bounded() {
        let mut n = normalizer();
        let object: Map<String, Value> = (0..300)
            .map(|i| (format!("k{i:03}"), Value::from(i)))
            .collect();
        let record = n.normalize(&raw(&Value::Object(object).to_string()), &origin());
        assert_eq!(record.attrs.len(), MAX_ATTRS + 1);
        assert_eq!(record.attrs["_dropped"], 300 - MAX_ATTRS);
        let long = format!(r#"{{"msg":"x","blob":"{}"}}"#, "y".repeat(20_000));
        let record = n.normalize(&raw(&long), &origin());
        assert!(
            record.attrs["blob"]
                .as_str()
                .unwrap()
                .ends_with(sanitize::TRUNCATED_MARKER)
        );
    }
}
