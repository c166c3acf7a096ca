//! A push request being filled: records grouped into streams by their labels, entries sorted
//! by time, the acknowledgement tokens of every record batch that contributed, and the buffer
//! space they hold.

use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use crate::logs::normalize::RecordMeta;
use crate::logs::pipeline::{AckToken, Delivery, EncodedRecords, Origin, ReadPosition};
use crate::sink::loki::config::MetadataField;
use std::collections::HashMap;
use std::ops::Range;
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
    streams: HashMap<Arc<str>, Vec<Entry>>,
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
        for ((_, line), (index, entry)) in records.iter().zip(entries.into_iter().enumerate()) {
            let Some((selector, ts)) = entry else {
                continue;
            };
            self.bytes += line.len();
            self.lines += 1;
            self.streams.entry(selector).or_default().push(Entry {
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

    /// The request: one stream per label set, entries in time order (stable: lines with the
    /// same time keep the order they were read in).
    pub fn to_request(&self, metadata: &[MetadataField]) -> PushRequest {
        let mut streams: Vec<(&Arc<str>, &Vec<Entry>)> = self.streams.iter().collect();
        streams.sort_by(|a, b| a.0.cmp(b.0));
        // Lines are slices of their batch's buffer, which the request shares.
        let lines: Vec<(bytes::Bytes, Vec<LineAt>)> = self
            .parts
            .iter()
            .map(|p| {
                (
                    bytes::Bytes::from_owner(SharedLines(p.records.clone())),
                    p.records.ranges().collect(),
                )
            })
            .collect();
        PushRequest {
            streams: streams
                .into_iter()
                .map(|(selector, entries)| {
                    let mut order: Vec<&Entry> = entries.iter().collect();
                    order.sort_by_key(|e| e.ts);
                    StreamAdapter {
                        labels: selector.to_string(),
                        entries: order
                            .into_iter()
                            .map(|entry| {
                                let part = &self.parts[entry.part as usize];
                                let (buffer, ranges) = &lines[entry.part as usize];
                                let (meta, range) = ranges[entry.record as usize].clone();
                                let line = buffer.slice(range);
                                EntryAdapter {
                                    timestamp: Some(Timestamp::from_unix_nanos(entry.ts)),
                                    structured_metadata: structured_metadata(
                                        metadata,
                                        &meta,
                                        &line,
                                        &part.origin,
                                    ),
                                    line,
                                }
                            })
                            .collect(),
                        hash: 0,
                    }
                })
                .collect(),
        }
    }

    /// Every contributing record batch is finished with, the same way.
    pub fn resolve(self, delivery: Delivery) {
        for token in self.tokens {
            token.resolve(delivery);
        }
    }
}

/// A record and where its line is in its batch's buffer.
type LineAt = (RecordMeta, Range<usize>);

/// A batch's JSON lines, shared with the requests made of them.
struct SharedLines(Arc<EncodedRecords>);

impl AsRef<[u8]> for SharedLines {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn structured_metadata(
    fields: &[MetadataField],
    meta: &RecordMeta,
    line: &[u8],
    origin: &Origin,
) -> Vec<LabelPairAdapter> {
    let span = |span: Option<(u32, u32)>| {
        span.and_then(|(start, end)| line.get(start as usize..end as usize))
            .map(|value| String::from_utf8_lossy(value).into_owned())
    };
    fields
        .iter()
        .filter_map(|field| {
            let (name, value) = match field {
                MetadataField::TraceId => ("trace_id", span(meta.ids.trace_id)),
                MetadataField::SpanId => ("span_id", span(meta.ids.span_id)),
                MetadataField::PodUid => (
                    "pod_uid",
                    origin.kubernetes.as_ref().and_then(|k| k.pod_uid.clone()),
                ),
                MetadataField::File => ("file", origin.file.as_deref().map(str::to_owned)),
            };
            value
                .filter(|v| !v.is_empty())
                .map(|value| LabelPairAdapter {
                    name: name.to_owned(),
                    value,
                })
        })
        .collect()
}
