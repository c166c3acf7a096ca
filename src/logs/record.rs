//! The canonical record every event is normalized into (see `docs/log-schema.md`). A record
//! borrows its text from the line it came from; it is written out as one line of compact JSON
//! with the keys always in the schema's order.

use super::json_out::{write_key, write_str, write_text};
use super::kubernetes::KubernetesMeta;
use super::level::Level;
use super::timestamp::write_rfc3339_nanos;
use super::value::{Field, FieldValue, write_object};
use std::borrow::Cow;
use std::sync::Arc;

pub type Text<'a> = Cow<'a, str>;

#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Unix nanoseconds.
    pub ts: i64,
    pub level: Level,
    pub msg: Text<'a>,
    pub logger: Option<Text<'a>>,
    pub caller: Option<Text<'a>>,
    pub trace_id: Option<Text<'a>>,
    pub span_id: Option<Text<'a>>,
    /// For access logs and request logs.
    pub http: Option<Http<'a>>,
    pub error: Option<ErrorInfo<'a>>,
    /// Every other structured field, flattened with dots, sorted by name.
    pub attrs: Vec<Field<'a>>,
    pub source: SourceInfo,
    /// Every piece of text still borrowed from the line needs no JSON escaping: it came from a
    /// JSON string without escapes (serde_json borrows only those), or the line has no quote,
    /// backslash or control character. Such text is copied out whole.
    pub borrowed_is_clean: bool,
}

/// `http.*`: what an access log (or a request log line) says about one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Http<'a> {
    pub method: Option<Text<'a>>,
    pub path: Option<Text<'a>>,
    /// The route template, when the service logs it (`/orders/{id}`).
    pub route: Option<Text<'a>>,
    pub protocol: Option<Text<'a>>,
    pub status: Option<u16>,
    /// Seconds.
    pub duration: Option<f64>,
    /// Response body bytes.
    pub bytes: Option<u64>,
    /// The client's address.
    pub client: Option<Text<'a>>,
    pub user_agent: Option<Text<'a>>,
    pub referer: Option<Text<'a>>,
}

impl Http<'_> {
    pub fn is_empty(&self) -> bool {
        self.method.is_none() && self.path.is_none() && self.status.is_none()
    }
}

/// `error.*`: an exception or error the event carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorInfo<'a> {
    /// Written as `type`.
    pub kind: Option<Text<'a>>,
    pub message: Option<Text<'a>>,
    /// The stack trace, one frame per line.
    pub stack: Option<Text<'a>>,
}

impl ErrorInfo<'_> {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.message.is_none() && self.stack.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The detected (or forced) format: `json`, `logfmt`, `access`, `syslog`, `klog`,
    /// `python`, `java`, `go`, `plain`.
    pub format: &'static str,
    /// Where `ts` came from.
    pub ts_origin: TsOrigin,
    /// The keyword rule that guessed `level` from the text, when the line wrote no severity.
    pub level_rule: Option<&'static str>,
    pub stream: Option<&'static str>,
    pub file: Option<Arc<str>>,
    pub kubernetes: Option<Arc<KubernetesMeta>>,
    /// The line was longer than the limit and was cut.
    pub truncated: bool,
    /// The line was not valid UTF-8; invalid bytes were replaced with U+FFFD.
    pub invalid_utf8: bool,
}

/// `event` (the line itself), `container` (the runtime's time) or `read` (the agent's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsOrigin {
    Event,
    Container,
    Read,
}

impl TsOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            TsOrigin::Event => "event",
            TsOrigin::Container => "container",
            TsOrigin::Read => "read",
        }
    }
}

/// Where a record's trace and span ids are in its JSON line: byte ranges of the JSON-escaped
/// values, from the start of the line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdSpans {
    pub trace_id: Option<(u32, u32)>,
    pub span_id: Option<(u32, u32)>,
}

/// Writes `"key":value` members of one object, the commas between them included.
struct Members<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
    borrowed_is_clean: bool,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut Vec<u8>, borrowed_is_clean: bool) -> Self {
        out.push(b'{');
        Self {
            out,
            first: true,
            borrowed_is_clean,
        }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_key(self.out, key);
        self.out
    }

    fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            write_str(self.key(key), value);
        }
    }

    /// One of the schema's own words (a level, a format name): nothing to escape.
    fn word(&mut self, key: &str, value: Option<&'static str>) {
        if let Some(value) = value {
            let out = self.key(key);
            out.push(b'"');
            out.extend_from_slice(value.as_bytes());
            out.push(b'"');
        }
    }

    /// A piece of the record's text.
    fn cow(&mut self, key: &str, value: Option<&Text<'_>>) {
        if let Some(value) = value {
            let clean = self.borrowed_is_clean;
            write_text(self.key(key), value, clean);
        }
    }

    /// Like `cow`, and says where the value (inside its quotes) is in the output.
    fn located_text(&mut self, key: &str, value: Option<&Text<'_>>) -> Option<(usize, usize)> {
        let value = value?;
        let clean = self.borrowed_is_clean;
        let out = self.key(key);
        let start = out.len() + 1;
        write_text(out, value, clean);
        Some((start, out.len() - 1))
    }

    fn number(&mut self, key: &str, value: Option<u64>) {
        if let Some(value) = value {
            let out = self.key(key);
            out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }

    fn flag(&mut self, key: &str, value: bool) {
        if value {
            self.key(key).extend_from_slice(b"true");
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

impl Record<'_> {
    /// A top-level attribute by name.
    pub fn attr(&self, key: &str) -> Option<&FieldValue<'_>> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Appends the record as one line of compact JSON, with its `\n`; says where in the
    /// line its trace and span ids are (for structured metadata).
    pub fn write_json_line(&self, out: &mut Vec<u8>) -> IdSpans {
        let line_start = out.len();
        let relative = |span: Option<(usize, usize)>| {
            span.map(|(start, end)| ((start - line_start) as u32, (end - line_start) as u32))
        };
        let clean = self.borrowed_is_clean;
        let mut record = Members::open(out, clean);
        let mut ts = [0u8; 30];
        let len = write_rfc3339_nanos(self.ts, &mut ts);
        let field = record.key("ts");
        field.push(b'"');
        field.extend_from_slice(&ts[..len]);
        field.push(b'"');
        record.word("level", Some(self.level.as_str()));
        record.cow("msg", Some(&self.msg));
        record.cow("logger", self.logger.as_ref());
        record.cow("caller", self.caller.as_ref());
        let trace_id = record.located_text("trace_id", self.trace_id.as_ref());
        let span_id = record.located_text("span_id", self.span_id.as_ref());
        if let Some(http) = &self.http {
            http.write(record.key("http"), clean);
        }
        if let Some(error) = &self.error {
            let mut members = Members::open(record.key("error"), clean);
            members.cow("type", error.kind.as_ref());
            members.cow("message", error.message.as_ref());
            members.cow("stack", error.stack.as_ref());
            members.close();
        }
        if !self.attrs.is_empty() {
            write_object(record.key("attrs"), &self.attrs, clean);
        }
        self.source.write(record.key("source"));
        record.close();
        out.push(b'\n');
        IdSpans {
            trace_id: relative(trace_id),
            span_id: relative(span_id),
        }
    }
}

impl Http<'_> {
    fn write(&self, out: &mut Vec<u8>, borrowed_is_clean: bool) {
        let mut http = Members::open(out, borrowed_is_clean);
        http.cow("method", self.method.as_ref());
        http.cow("path", self.path.as_ref());
        http.cow("route", self.route.as_ref());
        http.cow("protocol", self.protocol.as_ref());
        http.number("status", self.status.map(u64::from));
        if let Some(duration) = self.duration {
            FieldValue::Float(duration).write_json(http.key("duration"));
        }
        http.number("bytes", self.bytes);
        http.cow("client", self.client.as_ref());
        http.cow("user_agent", self.user_agent.as_ref());
        http.cow("referer", self.referer.as_ref());
        http.close();
    }
}

impl SourceInfo {
    fn write(&self, out: &mut Vec<u8>) {
        let mut source = Members::open(out, false);
        source.word("format", Some(self.format));
        source.word("ts_origin", Some(self.ts_origin.as_str()));
        source.word("level_rule", self.level_rule);
        source.word("stream", self.stream);
        source.text("file", self.file.as_deref());
        if let Some(kubernetes) = &self.kubernetes {
            let mut meta = Members::open(source.key("kubernetes"), false);
            meta.text("namespace", Some(&kubernetes.namespace));
            meta.text("pod", Some(&kubernetes.pod));
            meta.text("pod_uid", kubernetes.pod_uid.as_deref());
            meta.text("container", Some(&kubernetes.container));
            meta.close();
        }
        source.flag("truncated", self.truncated);
        source.flag("invalid_utf8", self.invalid_utf8);
        source.close();
    }
}
