//! JSON log lines: the well-known fields under their common spellings become canonical
//! fields; everything else goes to `attrs`, flattened with dots and bounded.

use crate::logs::level::Level;
use crate::logs::record::{Record, SourceInfo, TsOrigin};
use crate::logs::timestamp;
use serde_json::{Map, Value};

pub const FORMAT: &str = "json";

/// Most attributes kept per record; the rest are counted in `attrs._dropped`.
pub const MAX_ATTRS: usize = 128;
/// Nesting deeper than this is kept as a JSON string instead of being flattened further.
const MAX_FLATTEN_DEPTH: usize = 8;

const TIME_KEYS: &[&str] = &["ts", "time", "timestamp", "@timestamp", "datetime", "date"];
const LEVEL_KEYS: &[&str] = &[
    "level",
    "severity",
    "lvl",
    "loglevel",
    "levelname",
    "log.level",
];
const MESSAGE_KEYS: &[&str] = &["msg", "message", "@message", "log"];
const LOGGER_KEYS: &[&str] = &["logger", "logger_name", "log.logger"];
const CALLER_KEYS: &[&str] = &["caller", "log.origin.function"];
const TRACE_KEYS: &[&str] = &["trace_id", "traceId", "traceid", "trace.id", "dd.trace_id"];
const SPAN_KEYS: &[&str] = &["span_id", "spanId", "spanid", "span.id", "dd.span_id"];

/// The record for a JSON object line, or `None` if the line is not a JSON object.
pub fn parse(text: &str, read_time_ns: i64, mut source: SourceInfo) -> Option<Record> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed) else {
        return None;
    };
    let mut fields = Map::new();
    flatten("", object, 0, &mut fields);

    let ts = take_first(&mut fields, TIME_KEYS).and_then(|v| parse_time(&v));
    source.format = FORMAT;
    source.ts_origin = if ts.is_some() {
        TsOrigin::Event
    } else {
        TsOrigin::Read
    };
    let level = take_first(&mut fields, LEVEL_KEYS)
        .and_then(|v| parse_level(&v))
        .unwrap_or(Level::Unknown);
    let msg = take_first(&mut fields, MESSAGE_KEYS)
        .map(value_to_text)
        .unwrap_or_default();
    let logger = take_first(&mut fields, LOGGER_KEYS).map(value_to_text);
    let caller = take_first(&mut fields, CALLER_KEYS).map(value_to_text);
    let mut trace_id = take_first(&mut fields, TRACE_KEYS).map(value_to_text);
    let mut span_id = take_first(&mut fields, SPAN_KEYS).map(value_to_text);
    if let Some(Value::String(traceparent)) = fields.remove("traceparent")
        && let Some((trace, span)) = parse_traceparent(&traceparent)
    {
        trace_id.get_or_insert(trace);
        span_id.get_or_insert(span);
    }

    if fields.len() > MAX_ATTRS {
        let dropped = fields.len() - MAX_ATTRS;
        let kept: Map<String, Value> = fields.into_iter().take(MAX_ATTRS).collect();
        fields = kept;
        fields.insert("_dropped".to_owned(), Value::from(dropped));
    }

    Some(Record {
        ts: ts.unwrap_or(read_time_ns),
        level,
        msg,
        logger,
        caller,
        trace_id,
        span_id,
        attrs: fields,
        source,
    })
}

fn flatten(prefix: &str, object: Map<String, Value>, depth: usize, out: &mut Map<String, Value>) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if depth < MAX_FLATTEN_DEPTH && !inner.is_empty() => {
                flatten(&name, inner, depth + 1, out)
            }
            Value::Object(inner) => {
                out.insert(name, Value::String(Value::Object(inner).to_string()));
            }
            other => {
                out.insert(name, other);
            }
        }
    }
}

fn take_first(fields: &mut Map<String, Value>, keys: &[&str]) -> Option<Value> {
    keys.iter().find_map(|key| match fields.get(*key) {
        Some(Value::Null) | None => None,
        Some(_) => fields.remove(*key),
    })
}

fn parse_time(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => {
            timestamp::parse_rfc3339(text).or_else(|| timestamp::from_epoch_decimal(text))
        }
        Value::Number(number) => timestamp::from_epoch_decimal(&number.to_string()),
        _ => None,
    }
}

fn parse_level(value: &Value) -> Option<Level> {
    match value {
        Value::String(name) => Level::from_name(name),
        Value::Number(number) => Level::from_pino(number.as_i64()?),
        _ => None,
    }
}

fn value_to_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// W3C `traceparent`: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
fn parse_traceparent(text: &str) -> Option<(String, String)> {
    let mut parts = text.trim().split('-');
    let (_version, trace, span) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(trace, 32) && hex(span, 16)).then(|| (trace.to_owned(), span.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceInfo {
        SourceInfo {
            format: "plain",
            ts_origin: TsOrigin::Read,
            stream: None,
            file: None,
            kubernetes: None,
            truncated: false,
            invalid_utf8: false,
        }
    }

    #[test]
    fn zap_style_line() {
        let line = r#"{"level":"warn","ts":1704207845.5,"caller":"api/server.go:88","msg":"slow request","route":"/checkout","latency_ms":912,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#;
        let record = parse(line, 0, source()).unwrap();
        assert_eq!(record.level, Level::Warn);
        assert_eq!(record.ts, 1_704_207_845_500_000_000);
        assert_eq!(record.msg, "slow request");
        assert_eq!(record.caller.as_deref(), Some("api/server.go:88"));
        assert_eq!(
            record.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(record.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(record.attrs["route"], "/checkout");
        assert_eq!(record.attrs["latency_ms"], 912);
        assert_eq!(record.source.ts_origin, TsOrigin::Event);
    }

    #[test]
    fn pino_numeric_level_and_nested_fields_flattened() {
        let line = r#"{"level":50,"time":1704207845123,"msg":"payment failed","req":{"method":"POST","headers":{"host":"shop"}}}"#;
        let record = parse(line, 0, source()).unwrap();
        assert_eq!(record.level, Level::Error);
        assert_eq!(record.ts, 1_704_207_845_123_000_000);
        assert_eq!(record.attrs["req.method"], "POST");
        assert_eq!(record.attrs["req.headers.host"], "shop");
    }

    #[test]
    fn ecs_style_nested_level_and_missing_time_falls_back_to_read_time() {
        let line = r#"{"log":{"level":"ERROR","logger":"orders"},"message":"boom"}"#;
        let record = parse(line, 42, source()).unwrap();
        assert_eq!(record.level, Level::Error);
        assert_eq!(record.logger.as_deref(), Some("orders"));
        assert_eq!(record.ts, 42);
        assert_eq!(record.source.ts_origin, TsOrigin::Read);
    }

    #[test]
    fn attributes_are_bounded() {
        let object: Map<String, Value> = (0..300)
            .map(|i| (format!("k{i:03}"), Value::from(i)))
            .collect();
        let record = parse(&Value::Object(object).to_string(), 0, source()).unwrap();
        assert_eq!(record.attrs.len(), MAX_ATTRS + 1);
        assert_eq!(record.attrs["_dropped"], 300 - MAX_ATTRS);
    }

    #[test]
    fn non_objects_are_not_json_records() {
        assert!(parse("[1,2]", 0, source()).is_none());
        assert!(parse("{not json", 0, source()).is_none());
        assert!(parse("plain words", 0, source()).is_none());
    }
}
