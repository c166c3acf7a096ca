//! A push request being filled: records grouped into streams by their labels, entries sorted
//! by time, the acknowledgement tokens of every record batch that contributed, and the buffer
//! space they hold.

use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use crate::config::loki::MetadataField;
use crate::logs::normalize::RecordMeta;
use crate::pipeline::{AckToken, Delivery, EncodedRecords, Origin};
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
    streams: HashMap<Arc<str>, Vec<Entry>>,
    parts: Vec<Part>,
    tokens: Vec<AckToken>,
    /// Buffer space held until the batch is finished with.
    permits: Vec<OwnedSemaphorePermit>,
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
        permit: Option<OwnedSemaphorePermit>,
        entries: impl IntoIterator<Item = Option<(Arc<str>, i64)>>,
    ) {
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

    /// Holds `permit`'s share of the memory buffer until the batch is finished with.
    pub fn hold(&mut self, permit: OwnedSemaphorePermit) {
        self.permits.push(permit);
    }

    /// The request: one stream per label set, entries in time order (stable: lines with the
    /// same time keep the order they were read in).
    pub fn to_request(&self, metadata: &[MetadataField]) -> PushRequest {
        let mut streams: Vec<(&Arc<str>, &Vec<Entry>)> = self.streams.iter().collect();
        streams.sort_by(|a, b| a.0.cmp(b.0));
        let lines: Vec<Vec<(RecordMeta, &[u8])>> = self
            .parts
            .iter()
            .map(|p| p.records.iter().collect())
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
                                let (meta, line) =
                                    lines[entry.part as usize][entry.record as usize];
                                EntryAdapter {
                                    timestamp: Some(Timestamp::from_unix_nanos(entry.ts)),
                                    // Records are written as UTF-8 JSON.
                                    line: String::from_utf8_lossy(line).into_owned(),
                                    structured_metadata: structured_metadata(
                                        metadata,
                                        &meta,
                                        line,
                                        &part.origin,
                                    ),
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
