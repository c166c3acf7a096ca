//! Loki's push request on the wire: the `logproto` protobuf messages (declared here with prost,
//! field numbers from Loki's `push.proto`), in a snappy *block* — or the JSON equivalent.

use crate::sink::loki::config::LokiEncoding;
use prost::Message;
use std::io::Write;

#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StreamAdapter {
    /// A selector string: `{service_name="cart", namespace="shop"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Left at 0: Loki computes it.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// A `string` in Loki's proto: the same bytes on the wire. Declared as bytes so a line is
    /// a slice of its batch's buffer, neither copied nor validated again (vigia writes UTF-8).
    #[prost(bytes = "bytes", tag = "2")]
    pub line: bytes::Bytes,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

#[derive(Clone, PartialEq, Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Self {
            seconds: nanos.div_euclid(1_000_000_000),
            nanos: nanos.rem_euclid(1_000_000_000) as i32,
        }
    }
}

/// The body for `request` in `encoding` (cheap to clone for a retry).
pub fn encode_body(encoding: LokiEncoding, request: &PushRequest) -> bytes::Bytes {
    bytes::Bytes::from(match encoding {
        LokiEncoding::Protobuf => encode_snappy(request),
        LokiEncoding::Json => encode_json(request),
        LokiEncoding::JsonGzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = encoder.write_all(&encode_json(request));
            encoder.finish().unwrap_or_default()
        }
    })
}

/// Encodes request bodies, keeping its buffers and snappy's tables from one request to the
/// next: fresh megabyte buffers for every request cost zeroing and page faults at tens of
/// requests a second. The buffers are as large as the largest recent request, no larger.
#[derive(Default)]
pub struct BodyEncoder {
    protobuf: crate::sink::delivery::snappy::SnappyProtobuf,
}

impl BodyEncoder {
    /// The body for `request` in `encoding`, as [`encode_body`] writes it.
    pub fn encode(&mut self, encoding: LokiEncoding, request: &PushRequest) -> bytes::Bytes {
        if encoding != LokiEncoding::Protobuf {
            return encode_body(encoding, request);
        }
        self.protobuf.encode(request)
    }

    /// A protobuf body that `write` writes, compressed.
    pub fn protobuf_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> bytes::Bytes {
        self.protobuf.encode_with(write)
    }
}

/// The request body: protobuf, compressed as one snappy block (not the framed format).
pub fn encode_snappy(request: &PushRequest) -> Vec<u8> {
    let encoded = request.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&encoded)
        .expect("snappy compresses any input below 4 GiB")
}

/// The request body as Loki's JSON push format.
pub fn encode_json(request: &PushRequest) -> Vec<u8> {
    let streams: Vec<serde_json::Value> = request
        .streams
        .iter()
        .map(|stream| {
            let values: Vec<serde_json::Value> = stream
                .entries
                .iter()
                .map(|entry| {
                    let ts = entry.timestamp.unwrap_or_default();
                    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
                    let mut value = vec![
                        serde_json::Value::from(nanos.to_string()),
                        serde_json::Value::from(String::from_utf8_lossy(&entry.line)),
                    ];
                    if !entry.structured_metadata.is_empty() {
                        let metadata: serde_json::Map<String, serde_json::Value> = entry
                            .structured_metadata
                            .iter()
                            .map(|pair| (pair.name.clone(), pair.value.clone().into()))
                            .collect();
                        value.push(metadata.into());
                    }
                    serde_json::Value::from(value)
                })
                .collect();
            serde_json::json!({
                "stream": parse_selector(&stream.labels),
                "values": values,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "streams": streams })).expect("JSON values serialize")
}

/// The labels of a selector this sink wrote (see `labels::selector`), as a JSON object.
fn parse_selector(selector: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut labels = serde_json::Map::new();
    let mut rest = selector.trim_start_matches('{').trim_end_matches('}');
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => {}
                },
                '"' => {
                    end = index + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(
            name.trim_start_matches(", ").trim().to_owned(),
            value.into(),
        );
        rest = &after[end..];
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PushRequest {
        PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{namespace="shop", service_name="cart"}"#.to_owned(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp::from_unix_nanos(1_714_557_600_123_456_789)),
                    line: bytes::Bytes::from_static(br#"{"msg":"order placed"}"#),
                    structured_metadata: vec![LabelPairAdapter {
                        name: "trace_id".to_owned(),
                        value: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
                    }],
                }],
                hash: 0,
            }],
        }
    }

    #[test]
    fn snappy_block_round_trips() {
        let body = encode_snappy(&request());
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(PushRequest::decode(&raw[..]).unwrap(), request());
        // A block, not the framed format (which starts with its stream identifier).
        assert_ne!(&body[..4], b"\xff\x06\x00\x00");
    }

    #[test]
    fn a_reused_encoder_writes_what_a_fresh_one_writes() {
        let mut encoder = BodyEncoder::default();
        let big = |count: usize| PushRequest {
            streams: vec![StreamAdapter {
                entries: (0..count)
                    .map(|i| EntryAdapter {
                        line: bytes::Bytes::from(format!(r#"{{"msg":"line {i}"}}"#)),
                        ..request().streams[0].entries[0].clone()
                    })
                    .collect(),
                ..request().streams[0].clone()
            }],
        };
        // Large, then small (the buffers are given back), then large again, then tiny.
        for request in [big(40_000), big(3), big(40_000), request()] {
            let body = encoder.encode(LokiEncoding::Protobuf, &request);
            assert_eq!(&body[..], &encode_snappy(&request)[..]);
        }
        let json = encoder.encode(LokiEncoding::Json, &request());
        assert_eq!(&json[..], &encode_json(&request())[..]);
    }

    #[test]
    fn json_matches_lokis_push_format() {
        let body: serde_json::Value = serde_json::from_slice(&encode_json(&request())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"streams":[{
                "stream":{"namespace":"shop","service_name":"cart"},
                "values":[["1714557600123456789","{\"msg\":\"order placed\"}",{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}]]
            }]})
        );
    }

    #[test]
    fn timestamps_before_1970_split_the_right_way() {
        assert_eq!(
            Timestamp::from_unix_nanos(-1),
            Timestamp {
                seconds: -1,
                nanos: 999_999_999
            }
        );
    }
}
