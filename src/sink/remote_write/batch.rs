//! A write request being filled, its encoding (protobuf in a snappy block) and its sending
//! (remote write's headers, and which statuses are refusals).

use super::config::{RemoteWriteSettings, SAMPLE_OVERHEAD_BYTES};
use super::proto::{self, Sample};
use super::series::{Point, Series};
use crate::logs::pipeline::Delivery;
use crate::sink::delivery::http::{Body, HttpSender, Statuses};
use crate::sink::delivery::snappy::SnappyBlock;
use crate::sink::delivery::{Answer, Batch, Client, Encoder};
use prost::Message;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// The code of a remote-write 1.0 body in the disk buffer's frames.
pub const ENCODING_CODE: u8 = 16;

/// What a point costs in the memory buffer.
pub fn point_bytes(point: &Point) -> usize {
    point.series.label_bytes() + SAMPLE_OVERHEAD_BYTES
}

/// A write request being filled: its samples in the order they came (a series' samples in
/// time order), each with its series. A series may appear in several entries of a request,
/// as in Prometheus's own requests; receivers take them in order.
#[derive(Default)]
pub struct PendingWrite {
    points: Vec<(Series, Sample)>,
    pub samples: usize,
    pub bytes: usize,
    /// Buffer space held until the request is finished with (shared with the other lanes a
    /// scrape's samples went to).
    permits: Vec<Arc<OwnedSemaphorePermit>>,
}

impl PendingWrite {
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    pub fn add(&mut self, point: Point) {
        self.bytes += point_bytes(&point);
        self.samples += 1;
        let sample = Sample {
            value: point.value,
            timestamp: point.timestamp,
        };
        self.points.push((point.series, sample));
    }

    pub fn share(&mut self, permit: Arc<OwnedSemaphorePermit>) {
        self.permits.push(permit);
    }

    /// The request, as a message (tests: the encoder writes it without building it).
    #[cfg(test)]
    pub fn to_request(&self) -> proto::WriteRequest {
        use proto::{TimeSeries, WriteRequest};
        WriteRequest {
            timeseries: self
                .points
                .iter()
                .map(|(series, sample)| TimeSeries {
                    labels: series.labels(),
                    samples: vec![*sample],
                })
                .collect(),
            metadata: Vec::new(),
        }
    }

    /// Writes the request's protobuf: the same bytes as `to_request().encode()`, without
    /// copying every label into a message first.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
        for (series, sample) in &self.points {
            let labels = series.encoded_labels();
            let sample_len = sample.encoded_len();
            let series_len = labels.len() + 1 + encoded_len_varint(sample_len as u64) + sample_len;
            encode_key(1, WireType::LengthDelimited, out);
            encode_varint(series_len as u64, out);
            out.extend_from_slice(labels);
            encode_key(2, WireType::LengthDelimited, out);
            encode_varint(sample_len as u64, out);
            prost::Message::encode_raw(sample, out);
        }
    }
}

impl Batch for PendingWrite {
    fn items(&self) -> usize {
        self.samples
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn positions_json(&self) -> Vec<u8> {
        // Metrics are not read from files: nothing resumes from a position.
        Vec::new()
    }

    fn hold(&mut self, permit: OwnedSemaphorePermit) {
        self.permits.push(Arc::new(permit));
    }

    fn resolve(self, _: Delivery) {
        // No source waits on samples: the buffer space is what is given back (on drop).
    }
}

#[derive(Default)]
pub struct WriteEncoder {
    body: SnappyBlock,
    encoded: Vec<u8>,
}

impl Encoder for WriteEncoder {
    type Batch = PendingWrite;

    fn encode(&mut self, batch: &PendingWrite) -> (bytes::Bytes, u8) {
        self.encoded.clear();
        batch.encode_to(&mut self.encoded);
        let body = self.body.compress(&self.encoded);
        if self.encoded.capacity() > 4 * self.encoded.len().max(64 * 1024) {
            self.encoded = Vec::new();
        }
        (body, ENCODING_CODE)
    }
}

pub const STATUSES: Statuses = Statuses {
    peer: "remote write",
    // The specification: a 4xx other than 429 will fail again; 5xx and 429 are retried.
    refused: |status| (400..500).contains(&status) && status != 429,
    unexpected_success: |status| !matches!(status, 200 | 204),
};

pub struct WriteClient {
    sender: HttpSender,
}

impl WriteClient {
    pub fn new(settings: &RemoteWriteSettings) -> anyhow::Result<Self> {
        Ok(Self {
            sender: HttpSender::new(&settings.delivery, &settings.url, &[], STATUSES)?,
        })
    }
}

impl Client for WriteClient {
    async fn send(&mut self, body: bytes::Bytes, encoding: u8) -> Answer {
        if encoding != ENCODING_CODE {
            return Answer::Refused {
                status: 0,
                body: format!("encoding {encoding} is not remote write's"),
            };
        }
        self.sender
            .post(Body {
                bytes: body,
                content_type: "application/x-protobuf",
                content_encoding: Some("snappy"),
                protocol_headers: &[("X-Prometheus-Remote-Write-Version", proto::VERSION)],
            })
            .await
    }

    fn peer(&self) -> &'static str {
        STATUSES.peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_written_as_prost_would_write_it() {
        let shaper = super::super::series::Shaper {
            write_relabel: Vec::new(),
            external_labels: Vec::new(),
        };
        let series = |name: &str, route: &str| {
            let sample = crate::metrics::exposition::family::OwnedSample {
                name: Arc::from(name),
                labels: vec![(Arc::from("route"), route.to_owned())],
                value: 0.0,
                timestamp_ms: None,
                exemplar: None,
            };
            shaper.series(&sample).unwrap()
        };
        let mut pending = PendingWrite::default();
        for (i, (name, route)) in [("a_total", "/x"), ("b", "/ünïcode"), ("a_total", "/x")]
            .into_iter()
            .enumerate()
        {
            pending.add(Point {
                series: series(name, route),
                value: if i == 1 { proto::stale_nan() } else { i as f64 },
                timestamp: 1_795_000_000_000 + i as i64,
            });
        }
        let mut written = Vec::new();
        pending.encode_to(&mut written);
        assert_eq!(written, pending.to_request().encode_to_vec());
        let decoded = proto::WriteRequest::decode(written.as_slice()).unwrap();
        assert!(proto::is_stale_nan(decoded.timeseries[1].samples[0].value));
    }
}
