//! The well-known fields of structured logs under the spellings loggers use (zap, logrus, pino,
//! bunyan, winston, structlog, python-json-logger, logstash/ECS, OpenTelemetry, GCP, Datadog):
//! taken out of the fields so that every event has them in one place.

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::record::{ErrorInfo, Http, Text};
use crate::logs::timestamp;
use crate::logs::value::{Field, FieldValue};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::sync::OnceLock;

const TIME: &[&str] = &[
    "ts",
    "time",
    "timestamp",
    "@timestamp",
    "datetime",
    "date",
    "t",
    "asctime",
    "eventTime",
];
const LEVEL: &[&str] = &[
    "level",
    "severity",
    "lvl",
    "loglevel",
    "log.level",
    "levelname",
    "@level",
    "level_name",
    "severity_text",
    "SeverityText",
    "status",
    "at",
];
const MESSAGE: &[&str] = &[
    "msg", "message", "@message", "event", "log", "body", "Body", "text",
];
const LOGGER: &[&str] = &[
    "logger",
    "logger_name",
    "log.logger",
    "name",
    "loggerName",
    "logger.name",
    "component",
];
const CALLER: &[&str] = &["caller", "log.origin.function", "src", "func", "funcName"];
const TRACE_ID: &[&str] = &[
    "trace_id",
    "traceId",
    "traceid",
    "trace.id",
    "dd.trace_id",
    "TraceId",
    "logging.googleapis.com/trace",
    "otelTraceID",
];
const SPAN_ID: &[&str] = &[
    "span_id",
    "spanId",
    "spanid",
    "span.id",
    "dd.span_id",
    "SpanId",
    "logging.googleapis.com/spanId",
    "otelSpanID",
];

const HTTP_METHOD: &[&str] = &[
    "method",
    "http.method",
    "http.request.method",
    "request_method",
    "req.method",
    "httpRequest.requestMethod",
    "http_method",
];
const HTTP_PATH: &[&str] = &[
    "path",
    "uri",
    "url",
    "request_uri",
    "http.path",
    "http.url",
    "url.path",
    "url.original",
    "http.target",
    "req.url",
    "httpRequest.requestUrl",
];
const HTTP_ROUTE: &[&str] = &["route", "http.route", "handler"];
const HTTP_STATUS: &[&str] = &[
    "status",
    "status_code",
    "statusCode",
    "http.status",
    "http.status_code",
    "http.response.status_code",
    "res.statusCode",
    "response_status",
    "httpRequest.status",
];
const HTTP_BYTES: &[&str] = &[
    "bytes",
    "bytes_sent",
    "body_bytes_sent",
    "response_size",
    "http.response.body.bytes",
    "res.contentLength",
    "httpRequest.responseSize",
    "size",
];
const HTTP_CLIENT: &[&str] = &[
    "client",
    "client_ip",
    "clientip",
    "remote_addr",
    "remote_ip",
    "remoteAddress",
    "ip",
    "http.client_ip",
    "client.address",
    "client.ip",
    "req.remoteAddress",
    "httpRequest.remoteIp",
];
const HTTP_AGENT: &[&str] = &[
    "user_agent",
    "userAgent",
    "http_user_agent",
    "ua",
    "http.user_agent",
    "user_agent.original",
    "req.headers.user-agent",
    "httpRequest.userAgent",
];
const HTTP_REFERER: &[&str] = &[
    "referer",
    "referrer",
    "http_referer",
    "http.referer",
    "req.headers.referer",
    "httpRequest.referer",
];
/// Duration fields and the unit a bare number in them is in.
const HTTP_DURATION: &[(&str, f64)] = &[
    ("duration", 1.0),
    ("latency", 1.0),
    ("elapsed", 1.0),
    ("request_time", 1.0),
    ("http.duration", 1.0),
    ("duration_s", 1.0),
    ("duration_seconds", 1.0),
    ("took", 1e-3),
    ("response_time", 1e-3),
    ("responseTime", 1e-3),
    ("duration_ms", 1e-3),
    ("latency_ms", 1e-3),
    ("elapsed_ms", 1e-3),
    ("took_ms", 1e-3),
    ("duration_us", 1e-6),
    ("duration_ns", 1e-9),
    ("httpRequest.latency", 1.0),
];

const ERROR_TYPE: &[&str] = &[
    "error.type",
    "error.kind",
    "err.type",
    "err.name",
    "exception.type",
    "exc_type",
    "error_type",
];
const ERROR_MESSAGE: &[&str] = &[
    "error.message",
    "err.message",
    "err.msg",
    "exception.message",
    "error",
    "err",
    "error_message",
    "exception",
];
const ERROR_STACK: &[&str] = &[
    "error.stack",
    "err.stack",
    "stack",
    "stack_trace",
    "stacktrace",
    "exception.stacktrace",
    "exc_info",
    "error.stack_trace",
];

/// What a well-known field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Time,
    Level,
    Message,
    Logger,
    Caller,
    TraceId,
    SpanId,
    TraceParent,
    Method,
    Path,
    Route,
    Status,
    Bytes,
    Client,
    Agent,
    Referer,
    /// A duration field, with the unit (in seconds) of a bare number in it.
    Duration,
    ErrorType,
    ErrorMessage,
    ErrorStack,
}

impl Slot {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The well-known spellings, and a quick test that rules most other names out before hashing.
struct Index {
    /// Every known spelling → (slot, priority: the lower, the more preferred).
    /// FxHash: keys are short and not attacker-chosen in a way that matters (a collision costs
    /// a comparison, not a denial of service on a table this small and fixed).
    known: FxHashMap<&'static str, (Slot, u8)>,
    /// By first byte, one bit per length (lengths of 31 and more share bit 31) of the known
    /// spellings that start with it.
    shapes: [u32; 256],
}

impl Index {
    fn get(&self, key: &str) -> Option<&(Slot, u8)> {
        let first = *key.as_bytes().first()?;
        let length_bit = 1u32 << key.len().min(31);
        if self.shapes[usize::from(first)] & length_bit == 0 {
            return None;
        }
        self.known.get(key)
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let known = known_spellings();
        let mut shapes = [0u32; 256];
        for key in known.keys() {
            shapes[usize::from(key.as_bytes()[0])] |= 1u32 << key.len().min(31);
        }
        Index { known, shapes }
    })
}

fn known_spellings() -> FxHashMap<&'static str, (Slot, u8)> {
    let mut index = FxHashMap::default();
    let lists: [(Slot, &[&str]); 19] = [
        (Slot::Time, TIME),
        // Before the levels: `status` is classified as an HTTP status, and read as a
        // level name only when it holds one (see `take_common`).
        (Slot::Status, HTTP_STATUS),
        (Slot::Level, LEVEL),
        (Slot::Message, MESSAGE),
        (Slot::Logger, LOGGER),
        (Slot::Caller, CALLER),
        (Slot::TraceId, TRACE_ID),
        (Slot::SpanId, SPAN_ID),
        (Slot::TraceParent, &["traceparent"]),
        (Slot::Method, HTTP_METHOD),
        (Slot::Path, HTTP_PATH),
        (Slot::Route, HTTP_ROUTE),
        (Slot::Bytes, HTTP_BYTES),
        (Slot::Client, HTTP_CLIENT),
        (Slot::Agent, HTTP_AGENT),
        (Slot::Referer, HTTP_REFERER),
        (Slot::ErrorType, ERROR_TYPE),
        (Slot::ErrorMessage, ERROR_MESSAGE),
        (Slot::ErrorStack, ERROR_STACK),
    ];
    for (slot, keys) in lists {
        for (priority, key) in keys.iter().enumerate() {
            // A key in two lists (`status`: a level for some loggers, an HTTP status for
            // others) keeps its first meaning; the other is tried by value below.
            index.entry(*key).or_insert((slot, priority as u8));
        }
    }
    for (priority, (key, _)) in HTTP_DURATION.iter().enumerate() {
        index
            .entry(*key)
            .or_insert((Slot::Duration, priority as u8));
    }
    index
}

/// What one field is to [`Fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Attribute,
    Known(Slot, u8),
    Taken,
}

/// A line's structured fields, each classified once (one hash lookup) so that taking the
/// well-known ones costs no string comparisons and no allocation.
pub struct Fields<'a> {
    items: Vec<Field<'a>>,
    states: Vec<State>,
    /// One bit per slot that some item had when classified.
    present: u32,
}

impl<'a> Fields<'a> {
    pub fn new(items: Vec<Field<'a>>) -> Self {
        let index = index();
        let mut present = 0;
        let states = items
            .iter()
            .map(|(key, value)| match index.get(key.as_ref()) {
                // A null is no value: it stays an attribute.
                Some(&(slot, priority)) if !value.is_null() => {
                    present |= slot.bit();
                    State::Known(slot, priority)
                }
                _ => State::Attribute,
            })
            .collect();
        Self {
            items,
            states,
            present,
        }
    }

    /// Takes the most preferred field of `slot` that `convert` accepts (`convert` may move the
    /// value out when it accepts it, and must leave it alone when it does not).
    fn take<T>(
        &mut self,
        slot: Slot,
        mut convert: impl FnMut(&str, &mut FieldValue<'a>) -> Option<T>,
    ) -> Option<T> {
        if self.present & slot.bit() == 0 {
            return None;
        }
        // Candidates in order of preference; one that `convert` rejects stays an attribute.
        let mut tried: Option<(u8, Reverse<usize>)> = None;
        loop {
            let candidate = self
                .states
                .iter()
                .enumerate()
                // Of a repeated name, the last value is the one kept.
                .filter_map(|(i, state)| match *state {
                    State::Known(s, priority) if s == slot => Some((priority, Reverse(i))),
                    _ => None,
                })
                .filter(|candidate| tried.is_none_or(|tried| *candidate > tried))
                .min()?;
            let candidate = (candidate.0, candidate.1.0);
            let (key, value) = &mut self.items[candidate.1];
            if let Some(converted) = convert(key, value) {
                // The same name again (a repeated key) goes with it: one value per name.
                let taken = self.states[candidate.1];
                for state in &mut self.states {
                    if *state == taken {
                        *state = State::Taken;
                    }
                }
                return Some(converted);
            }
            tried = Some((candidate.0, Reverse(candidate.1)));
        }
    }

    fn take_text(&mut self, slot: Slot) -> Option<Text<'a>> {
        self.take(slot, |_, v| {
            Some(std::mem::replace(v, FieldValue::Null).into_text())
        })
    }

    fn take_str(&mut self, slot: Slot) -> Option<Text<'a>> {
        self.take(slot, |_, v| match v {
            FieldValue::Str(text) => Some(std::mem::take(text)),
            _ => None,
        })
    }

    fn has(&self, slot: Slot, accept: impl Fn(&FieldValue<'a>) -> bool) -> bool {
        self.present & slot.bit() != 0
            && self
                .states
                .iter()
                .zip(&self.items)
                .any(|(state, (_, value))| {
                    matches!(*state, State::Known(s, _) if s == slot) && accept(value)
                })
    }

    /// The fields nobody took, in their order.
    pub fn into_rest(self) -> Vec<Field<'a>> {
        let mut states = self.states.into_iter();
        let mut items = self.items;
        items.retain(|_| states.next() != Some(State::Taken));
        items
    }

    /// Time, level, message, logger and caller, where the parser did not find them.
    pub fn take_common(&mut self, parsed: &mut Parsed<'a>) {
        if parsed.ts.is_none() {
            parsed.ts = self.take(Slot::Time, |_, v| time_of(v));
        }
        if parsed.level.is_none() {
            parsed.level = self.take(Slot::Level, |_, v| level_of(v));
            if parsed.level.is_none() {
                // `status` is a level for some loggers (Datadog), an HTTP status for others.
                parsed.level =
                    self.take(Slot::Status, |_, v| v.as_str().and_then(Level::from_name));
            }
        }
        if parsed.msg.is_none() {
            parsed.msg = self.take_text(Slot::Message);
        }
        if parsed.logger.is_none() {
            parsed.logger = self.take_str(Slot::Logger);
        }
        if parsed.caller.is_none() {
            parsed.caller = self.take_str(Slot::Caller);
        }
    }

    /// Trace and span ids: the usual fields, or a W3C `traceparent`.
    pub fn take_trace(&mut self) -> (Option<Text<'a>>, Option<Text<'a>>) {
        let mut trace = self.take_text(Slot::TraceId);
        let mut span = self.take_text(Slot::SpanId);
        if let Some((parent_trace, parent_span)) = self.take(Slot::TraceParent, |_, v| {
            v.as_str()
                .and_then(parse_traceparent)
                .map(|(t, s)| (t.to_owned(), s.to_owned()))
        }) {
            trace.get_or_insert(parent_trace.into());
            span.get_or_insert(parent_span.into());
        }
        // GCP writes `projects/<p>/traces/<id>`. (The byte test first: building the
        // substring searcher for every line's id was 2 % of the agent's CPU.)
        if let Some(id) = trace.as_mut()
            && id.as_bytes().contains(&b'/')
            && let Some((_, tail)) = id.rsplit_once("/traces/")
        {
            *id = Text::Owned(tail.to_owned());
        }
        (trace, span)
    }

    /// `http.*` from request-log fields; `None` unless a method, a path or a status is present.
    pub fn take_http(&mut self, mut http: Http<'a>) -> Option<Http<'a>> {
        let looks_like_request = self.has(Slot::Method, |_| true)
            || self.has(Slot::Status, |v| {
                v.as_f64().is_some_and(|n| (100.0..600.0).contains(&n))
            });
        if !looks_like_request && http.is_empty() {
            return None;
        }
        http.method = http.method.or_else(|| self.take_text(Slot::Method));
        http.path = http.path.or_else(|| self.take_text(Slot::Path));
        http.route = http.route.or_else(|| self.take_text(Slot::Route));
        http.status = http.status.or_else(|| {
            self.take(Slot::Status, |_, v| {
                v.as_f64().and_then(|n| u16::try_from(n as u64).ok())
            })
        });
        http.bytes = http
            .bytes
            .or_else(|| self.take(Slot::Bytes, |_, v| v.as_f64().map(|n| n as u64)));
        http.client = http.client.or_else(|| self.take_text(Slot::Client));
        http.user_agent = http.user_agent.or_else(|| self.take_text(Slot::Agent));
        http.referer = http.referer.or_else(|| self.take_text(Slot::Referer));
        if http.duration.is_none() {
            http.duration = self.take(Slot::Duration, |key, v| {
                let unit = HTTP_DURATION
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(1.0, |(_, u)| *u);
                duration_seconds(v, unit)
            });
        }
        (!http.is_empty()).then_some(http)
    }

    /// `error.*` from error fields.
    pub fn take_error(&mut self) -> Option<ErrorInfo<'a>> {
        let error = ErrorInfo {
            kind: self.take_text(Slot::ErrorType),
            message: self.take(Slot::ErrorMessage, |_, v| match v {
                FieldValue::Bool(_) => None,
                other => Some(std::mem::replace(other, FieldValue::Null).into_text()),
            }),
            stack: self.take(Slot::ErrorStack, |_, v| {
                Some(match std::mem::replace(v, FieldValue::Null) {
                    FieldValue::Array(frames) => Text::Owned(
                        frames
                            .into_iter()
                            .map(FieldValue::into_text)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                    other => other.into_text(),
                })
            }),
        };
        (!error.is_empty()).then_some(error)
    }
}

/// Time, level, message, logger and caller of a structured line (for parsers and tests that
/// want them without the rest of normalization).
pub fn take_common(parsed: &mut Parsed<'_>) {
    let mut fields = Fields::new(std::mem::take(&mut parsed.fields));
    fields.take_common(parsed);
    parsed.fields = fields.into_rest();
}

fn time_of(value: &FieldValue<'_>) -> Option<i64> {
    match value {
        FieldValue::Str(text) => timestamp::parse_any(text),
        FieldValue::Int(_) | FieldValue::UInt(_) | FieldValue::Float(_) => {
            timestamp::from_epoch_decimal(&value.to_json())
        }
        _ => None,
    }
}

fn level_of(value: &FieldValue<'_>) -> Option<Level> {
    match value {
        FieldValue::Str(name) => Level::from_name(name),
        number => {
            let number = number.as_i64()?;
            Level::from_pino(number).or_else(|| Level::from_syslog_severity(number))
        }
    }
}

/// W3C `traceparent`: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
pub fn parse_traceparent(text: &str) -> Option<(&str, &str)> {
    let mut parts = text.trim().split('-');
    let (_version, trace, span) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(trace, 32) && hex(span, 16)).then_some((trace, span))
}

/// A duration in seconds: a number in `bare_unit` seconds, or text with a unit
/// (`12.5ms`, `1.2s`, `350µs`, `2m`, Go's `1m2.5s`).
pub fn duration_seconds(value: &FieldValue<'_>, bare_unit: f64) -> Option<f64> {
    let seconds = match value {
        FieldValue::Str(text) => {
            let text = text.trim();
            match text.parse::<f64>() {
                Ok(n) => n * bare_unit,
                Err(_) => parse_duration_text(text)?,
            }
        }
        number => number.as_f64()? * bare_unit,
    };
    // To the nanosecond: `123.4` ms is 0.1234 s, not the 0.12340000000000001 that the
    // product of two binary fractions prints as.
    let seconds = (seconds * 1e9).round() / 1e9;
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

fn parse_duration_text(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if number_end == 0 {
            return None;
        }
        let value: f64 = rest[..number_end].parse().ok()?;
        let unit_end = rest[number_end..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .map_or(rest.len(), |i| number_end + i);
        let scale = match &rest[number_end..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::value::parse_json_object;

    fn fields(json: &str) -> Fields<'_> {
        Fields::new(parse_json_object(json).unwrap())
    }

    #[test]
    fn the_quick_test_lets_every_known_spelling_through() {
        let index = index();
        for (key, found) in &index.known {
            assert_eq!(index.get(key), Some(found), "{key}");
        }
        for other in [
            "amount",
            "order_id",
            "",
            "a_name_longer_than_thirty_one_bytes",
        ] {
            assert_eq!(index.get(other), None, "{other}");
        }
    }

    fn value(json: &str) -> FieldValue<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn durations_in_their_units() {
        assert_eq!(duration_seconds(&value("0.25"), 1.0), Some(0.25));
        assert_eq!(duration_seconds(&value("42"), 1e-3), Some(0.042));
        assert_eq!(
            duration_seconds(&FieldValue::Float(123.4), 1e-3).map(|s| s.to_string()),
            Some("0.1234".to_owned()),
            "milliseconds print as the seconds they are"
        );
        assert_eq!(duration_seconds(&value(r#""12.5ms""#), 1.0), Some(0.0125));
        assert_eq!(duration_seconds(&value(r#""1m2.5s""#), 1.0), Some(62.5));
        assert_eq!(duration_seconds(&value(r#""350µs""#), 1.0), Some(0.00035));
        assert_eq!(duration_seconds(&value(r#""fast""#), 1.0), None);
        assert_eq!(duration_seconds(&value("-1"), 1.0), None);
    }

    #[test]
    fn request_fields_become_http() {
        let mut f = fields(
            r#"{"method":"GET","url":"/api/orders?id=4","status":200,"responseTime":42,"remoteAddress":"10.1.2.3","other":1}"#,
        );
        let http = f.take_http(Http::default()).unwrap();
        assert_eq!(http.method.as_deref(), Some("GET"));
        assert_eq!(http.path.as_deref(), Some("/api/orders?id=4"));
        assert_eq!(http.status, Some(200));
        assert_eq!(http.duration, Some(0.042));
        assert_eq!(http.client.as_deref(), Some("10.1.2.3"));
        assert_eq!(f.into_rest(), vec![("other".into(), FieldValue::Int(1))]);
    }

    #[test]
    fn a_status_word_is_not_a_request() {
        let mut f = fields(r#"{"status":"healthy","path":"/var/lib/x"}"#);
        assert!(f.take_http(Http::default()).is_none());
        assert_eq!(f.into_rest().len(), 2);
    }

    #[test]
    fn a_rejected_candidate_stays_and_the_next_is_taken() {
        // `level` holds no level; `severity` (less preferred) does.
        let mut f = fields(r#"{"level":"n/a","severity":"WARNING","msg":null}"#);
        let mut parsed = Parsed::default();
        f.take_common(&mut parsed);
        assert_eq!(parsed.level, Some(Level::Warn));
        assert_eq!(parsed.msg, None);
        let rest: Vec<String> = f
            .into_rest()
            .into_iter()
            .map(|(k, _)| k.into_owned())
            .collect();
        assert_eq!(rest, vec!["level", "msg"]);
    }

    #[test]
    fn errors_traces_and_gcp_trace_paths() {
        let mut f = fields(
            r#"{"err.type":"TimeoutError","err.message":"deadline exceeded","err.stack":"TimeoutError: deadline exceeded\n    at call (client.js:10:5)","logging.googleapis.com/trace":"projects/shop/traces/4bf92f3577b34da6a3ce929d0e0e4736"}"#,
        );
        let error = f.take_error().unwrap();
        assert_eq!(error.kind.as_deref(), Some("TimeoutError"));
        assert_eq!(error.message.as_deref(), Some("deadline exceeded"));
        assert!(error.stack.unwrap().contains("client.js:10:5"));
        let (trace, _) = f.take_trace();
        assert_eq!(trace.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn a_traceparent_gives_both_ids() {
        let mut f =
            fields(r#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#);
        let (trace, span) = f.take_trace();
        assert_eq!(trace.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(span.as_deref(), Some("00f067aa0ba902b7"));
    }
}
