//! A push request being filled: records grouped into streams by their labels, entries sorted
//! by time, the acknowledgement tokens of every record batch that contributed, and the buffer
//! space they hold.

use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use crate::logs::normalize::RecordMeta;
use crate::logs::pipeline::{AckToken, Delivery, EncodedRecords, Origin, ReadPosition};
use crate::sink::loki::config::MetadataField;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// One line of a stream: where it is, and the time it is sent with.
struct Entry {
    ts: i64,
    part: u32,
    record: u32,
}

/// The record batches a request takes its lines from.
struct Part {
    records: Arc<EncodedRecords>,
    origin: Arc<Origin>,
}

#[derive(Default)]
pub struct PendingBatch {
    /// Each stream's selector and entries, and where each selector is in it.
    streams: Vec<(Arc<str>, Vec<Entry>)>,
    stream_index: HashMap<Arc<str>, usize>,
    parts: Vec<Part>,
    tokens: Vec<AckToken>,
    /// Buffer space held until the batch is finished with (shared with the other requests a
    /// record batch was split across, if any: released when the last is finished).
    permits: Vec<Arc<OwnedSemaphorePermit>>,
    /// The sources' positions after each contributing batch, in order.
    positions: Vec<Arc<ReadPosition>>,
    pub bytes: usize,
    pub lines: usize,
}

impl PendingBatch {
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.lines == 0
    }

    /// Takes a record batch: `entries` says, per record, its stream's selector and the time to
    /// send it with, or `None` to leave it out (dropped by policy).
    pub fn add(
        &mut self,
        records: Arc<EncodedRecords>,
        origin: Arc<Origin>,
        ack: AckToken,
        permit: Option<Arc<OwnedSemaphorePermit>>,
        position: Option<Arc<ReadPosition>>,
        entries: impl IntoIterator<Item = Option<(Arc<str>, i64)>>,
    ) {
        self.positions.extend(position);
        let part = self.parts.len() as u32;
        // Consecutive records mostly share a selector: it is looked up when it changes.
        let mut current: Option<(Arc<str>, usize)> = None;
        for ((_, line), (index, entry)) in records.iter().zip(entries.into_iter().enumerate()) {
            let Some((selector, ts)) = entry else {
                continue;
            };
            self.bytes += line.len();
            self.lines += 1;
            let stream = match &current {
                Some((last, stream)) if Arc::ptr_eq(last, &selector) => *stream,
                _ => {
                    let stream = *self
                        .stream_index
                        .entry(selector.clone())
                        .or_insert_with(|| {
                            self.streams.push((selector.clone(), Vec::new()));
                            self.streams.len() - 1
                        });
                    current = Some((selector, stream));
                    stream
                }
            };
            self.streams[stream].1.push(Entry {
                ts,
                part,
                record: index as u32,
            });
        }
        self.parts.push(Part { records, origin });
        self.tokens.push(ack);
        self.permits.extend(permit);
    }

    /// Where each file source will be once this request's lines are safe (JSON): the newest
    /// position of each file, or nothing if no file source contributed.
    pub fn positions_json(&self) -> Vec<u8> {
        if self.positions.is_empty() {
            return Vec::new();
        }
        let mut newest: Vec<&ReadPosition> = Vec::new();
        for position in self.positions.iter().rev() {
            let same = |p: &&ReadPosition| {
                p.source == position.source && p.entry.key == position.entry.key
            };
            if !newest.iter().any(same) {
                newest.push(position);
            }
        }
        serde_json::to_vec(&newest).unwrap_or_default()
    }

    /// Holds `permit`'s share of the memory buffer until the batch is finished with.
    pub fn hold(&mut self, permit: OwnedSemaphorePermit) {
        self.permits.push(Arc::new(permit));
    }

    /// The streams in selector order, each with its entries in time order (stable: lines
    /// with the same time keep the order they were read in).
    fn ordered(&self) -> Vec<(&Arc<str>, Vec<&Entry>)> {
        let mut streams: Vec<(&Arc<str>, Vec<&Entry>)> = self
            .streams
            .iter()
            .map(|(selector, entries)| {
                let mut order: Vec<&Entry> = entries.iter().collect();
                order.sort_by_key(|e| e.ts);
                (selector, order)
            })
            .collect();
        streams.sort_by(|a, b| a.0.cmp(b.0));
        streams
    }

    /// An entry's line, what sinks know of its record, and where it comes from.
    fn line_of(&self, entry: &Entry) -> (&[u8], RecordMeta, &Origin) {
        let part = &self.parts[entry.part as usize];
        let (meta, line) = part
            .records
            .get(entry.record as usize)
            .expect("an entry points at a record of its part");
        (line, meta, &part.origin)
    }

    /// The request as a message (the JSON encodings are written from it): what
    /// [`encode_protobuf`](Self::encode_protobuf) writes.
    pub fn to_request(&self, metadata: &[MetadataField]) -> PushRequest {
        // Lines are slices of their batch's buffer, which the request shares.
        let buffers: Vec<bytes::Bytes> = self
            .parts
            .iter()
            .map(|p| bytes::Bytes::from_owner(SharedLines(p.records.clone())))
            .collect();
        PushRequest {
            streams: self
                .ordered()
                .into_iter()
                .map(|(selector, entries)| StreamAdapter {
                    labels: selector.to_string(),
                    entries: entries
                        .into_iter()
                        .map(|entry| {
                            let (line, meta, origin) = self.line_of(entry);
                            let buffer = &buffers[entry.part as usize];
                            EntryAdapter {
                                timestamp: Some(Timestamp::from_unix_nanos(entry.ts)),
                                structured_metadata: metadata_pairs(metadata, &meta, line, origin)
                                    .map(|(name, value)| LabelPairAdapter {
                                        name: name.to_owned(),
                                        value: String::from_utf8_lossy(value).into_owned(),
                                    })
                                    .collect(),
                                line: buffer.slice_ref(line),
                            }
                        })
                        .collect(),
                    hash: 0,
                })
                .collect(),
        }
    }

    /// Writes the request's protobuf, the same bytes as `to_request().encode()`, straight
    /// from the records' buffers: no message is built, no line or id copied on the way.
    /// `lengths` is room for one stream's entry sizes, kept between calls.
    pub fn encode_protobuf(
        &self,
        metadata: &[MetadataField],
        out: &mut Vec<u8>,
        lengths: &mut Vec<usize>,
    ) {
        use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
        let field_len = |len: usize| {
            if len == 0 {
                0
            } else {
                1 + encoded_len_varint(len as u64) + len
            }
        };
        let put_field = |tag: u32, bytes: &[u8], out: &mut Vec<u8>| {
            if !bytes.is_empty() {
                encode_key(tag, WireType::LengthDelimited, out);
                encode_varint(bytes.len() as u64, out);
                out.extend_from_slice(bytes);
            }
        };
        for (selector, entries) in self.ordered() {
            lengths.clear();
            let mut stream_len = field_len(selector.len());
            for entry in &entries {
                let (line, meta, origin) = self.line_of(entry);
                let timestamp = Timestamp::from_unix_nanos(entry.ts).encoded_len();
                let mut len = 1 + encoded_len_varint(timestamp as u64) + timestamp;
                len += field_len(line.len());
                for (name, value) in metadata_pairs(metadata, &meta, line, origin) {
                    let pair = field_len(name.len()) + field_len(value.len());
                    len += 1 + encoded_len_varint(pair as u64) + pair;
                }
                lengths.push(len);
                stream_len += 1 + encoded_len_varint(len as u64) + len;
            }
            encode_key(1, WireType::LengthDelimited, out);
            encode_varint(stream_len as u64, out);
            put_field(1, selector.as_bytes(), out);
            for (entry, &len) in entries.iter().zip(lengths.iter()) {
                let (line, meta, origin) = self.line_of(entry);
                encode_key(2, WireType::LengthDelimited, out);
                encode_varint(len as u64, out);
                prost::encoding::message::encode(1, &Timestamp::from_unix_nanos(entry.ts), out);
                put_field(2, line, out);
                for (name, value) in metadata_pairs(metadata, &meta, line, origin) {
                    let pair = field_len(name.len()) + field_len(value.len());
                    encode_key(3, WireType::LengthDelimited, out);
                    encode_varint(pair as u64, out);
                    put_field(1, name.as_bytes(), out);
                    put_field(2, value, out);
                }
            }
        }
    }

    /// Every contributing record batch is finished with, the same way.
    pub fn resolve(self, delivery: Delivery) {
        for token in self.tokens {
            token.resolve(delivery);
        }
    }
}

/// A batch's JSON lines, shared with the requests made of them.
struct SharedLines(Arc<EncodedRecords>);

impl AsRef<[u8]> for SharedLines {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The structured metadata of one entry: each configured field that has a value. The ids are
/// pieces of the line, which vigia wrote as UTF-8: they are sent as they are, not checked again.
fn metadata_pairs<'a>(
    fields: &'a [MetadataField],
    meta: &RecordMeta,
    line: &'a [u8],
    origin: &'a Origin,
) -> impl Iterator<Item = (&'static str, &'a [u8])> {
    let ids = meta.ids;
    let span = move |span: Option<(u32, u32)>| {
        span.and_then(|(start, end)| line.get(start as usize..end as usize))
    };
    fields.iter().filter_map(move |field| {
        let (name, value) = match field {
            MetadataField::TraceId => ("trace_id", span(ids.trace_id)),
            MetadataField::SpanId => ("span_id", span(ids.span_id)),
            MetadataField::PodUid => (
                "pod_uid",
                origin
                    .kubernetes
                    .as_ref()
                    .and_then(|k| k.pod_uid.as_deref())
                    .map(str::as_bytes),
            ),
            MetadataField::File => ("file", origin.file.as_deref().map(str::as_bytes)),
        };
        value.filter(|v| !v.is_empty()).map(|value| (name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::kubernetes::KubernetesMeta;
    use crate::logs::level::Level;
    use crate::logs::record::IdSpans;

    /// Records whose lines carry a trace id (and some a span id) at the spans the
    /// normalizer would report.
    fn records(first: usize, count: usize) -> Arc<EncodedRecords> {
        let mut records = EncodedRecords::with_capacity(count, count * 80);
        for i in first..first + count {
            records.push_with(|out| {
                let start = out.len();
                out.extend_from_slice(r#"{"msg":"req ü","trace_id":""#.as_bytes());
                let trace = (out.len() - start) as u32;
                out.extend_from_slice(format!("{i:032x}").as_bytes());
                let trace = Some((trace, trace + 32));
                out.extend_from_slice(br#"","span_id":""#);
                let span = (out.len() - start) as u32;
                out.extend_from_slice(if i % 3 == 0 { b"" } else { b"00f067aa0ba902b7" });
                let span = Some((span, (out.len() - start) as u32));
                out.extend_from_slice(b"\"}\n");
                RecordMeta {
                    ts: 0,
                    read_ts: 0,
                    level: Level::Info,
                    invalid_utf8: false,
                    stream: None,
                    ids: IdSpans {
                        trace_id: trace,
                        span_id: span,
                    },
                }
            });
        }
        Arc::new(records)
    }

    #[test]
    fn the_protobuf_is_written_as_prost_would_write_the_request() {
        let origin = |file: Option<&str>, uid: Option<&str>| {
            Arc::new(Origin {
                source_id: Arc::from("app"),
                file: file.map(Arc::from),
                kubernetes: uid.map(|uid| {
                    Arc::new(KubernetesMeta {
                        namespace: "shop".into(),
                        pod: "cart-7d9".into(),
                        pod_uid: Some(uid.into()),
                        container: "cart".into(),
                    })
                }),
            })
        };
        let mut batch = PendingBatch::default();
        let selectors: [Arc<str>; 3] = [
            Arc::from(r#"{service_name="cart"}"#),
            Arc::from(r#"{service_name="api", namespace="shop"}"#),
            Arc::from(""),
        ];
        // Times out of order, equal, before 1970 and far ahead; a record left out by policy.
        let times = [5, -1_500_000_001, 5, 1_795_000_000_123_456_789, 0, 4, 5];
        for (part, origin) in [
            origin(Some("/var/log/pods/shop_cart/cart/0.log"), Some("c0ffee")),
            origin(None, None),
            origin(Some("/srv/app.log"), Some("")),
        ]
        .into_iter()
        .enumerate()
        {
            let entries: Vec<_> = (0..7)
                .map(|i| {
                    (i != 2).then(|| (selectors[(i + part) % 3].clone(), times[(i + part) % 7]))
                })
                .collect();
            let ack = AckToken::untracked();
            batch.add(records(part * 7, 7), origin, ack, None, None, entries);
        }
        let all = [
            MetadataField::TraceId,
            MetadataField::SpanId,
            MetadataField::PodUid,
            MetadataField::File,
        ];
        for metadata in [&all[..], &[], &[MetadataField::TraceId]] {
            let (mut written, mut lengths) = (Vec::new(), Vec::new());
            batch.encode_protobuf(metadata, &mut written, &mut lengths);
            let request = batch.to_request(metadata);
            assert_eq!(written, request.encode_to_vec());
            assert_eq!(PushRequest::decode(written.as_slice()).unwrap(), request);
            let entries: usize = request.streams.iter().map(|s| s.entries.len()).sum();
            assert_eq!(entries, 18);
        }
        let request = batch.to_request(&all);
        let first = &request.streams[0].entries[0];
        assert!(first.line.starts_with(br#"{"msg":"req"#));
        assert_eq!(
            first.structured_metadata[0].value.len(),
            32,
            "the trace id is the line's span"
        );
        batch.resolve(Delivery::Delivered);
    }
}
