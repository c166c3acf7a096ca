//! The canonical record every event is normalized into (see `docs/log-schema.md`). Fields
//! serialize in declaration order, so the JSON line sent out has a stable key order.

use super::kubernetes::KubernetesMeta;
use super::level::Level;
use super::timestamp::write_rfc3339_nanos;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    #[serde(serialize_with = "serialize_ts")]
    pub ts: i64,
    pub level: Level,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// For access logs and request logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<Http>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<ErrorInfo>>,
    /// Every other structured field, flattened with dots.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub attrs: Map<String, Value>,
    pub source: SourceInfo,
}

/// `http.*`: what an access log (or a request log line) says about one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Http {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The route template, when the service logs it (`/orders/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Response body bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referer: Option<String>,
}

impl Http {
    pub fn is_empty(&self) -> bool {
        self.method.is_none() && self.path.is_none() && self.status.is_none()
    }
}

/// `error.*`: an exception or error the event carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErrorInfo {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The stack trace, one frame per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl ErrorInfo {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.message.is_none() && self.stack.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// The detected (or forced) format: `json`, `logfmt`, `access`, `syslog`, `klog`,
    /// `python`, `java`, `go`, `plain`.
    pub format: &'static str,
    /// Where `ts` came from: `event` (the line itself), `container` (the runtime's time) or
    /// `read` (the agent's clock).
    pub ts_origin: TsOrigin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<Arc<KubernetesMeta>>,
    /// The line was longer than the limit and was cut.
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// The line was not valid UTF-8; invalid bytes were replaced with U+FFFD.
    #[serde(skip_serializing_if = "is_false")]
    pub invalid_utf8: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TsOrigin {
    Event,
    Container,
    Read,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn serialize_ts<S: Serializer>(ts: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; 30];
    let len = write_rfc3339_nanos(*ts, &mut buffer);
    // Digits and separators only: always UTF-8.
    serializer.serialize_str(std::str::from_utf8(&buffer[..len]).unwrap_or_default())
}

impl Record {
    /// Appends the record as one line of compact JSON, with its `\n`.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        // Serializing plain data into a Vec cannot fail.
        serde_json::to_writer(&mut *out, self).expect("a record serializes to JSON");
        out.push(b'\n');
    }
}
