//! The canonical record every event is normalized into (see `docs/log-schema.md`). Fields
//! serialize in declaration order, so the JSON line sent out has a stable key order.

use super::kubernetes::KubernetesMeta;
use super::level::Level;
use super::timestamp::format_rfc3339_nanos;
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
    /// Every other structured field, flattened with dots.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub attrs: Map<String, Value>,
    pub source: SourceInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    /// The detected (or forced) format: `json`, `plain`, …
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
    serializer.serialize_str(&format_rfc3339_nanos(*ts))
}

impl Record {
    /// Appends the record as one line of compact JSON, with its `\n`.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        // Serializing plain data into a Vec cannot fail.
        serde_json::to_writer(&mut *out, self).expect("a record serializes to JSON");
        out.push(b'\n');
    }
}
