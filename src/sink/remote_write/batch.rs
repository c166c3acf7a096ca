//! A write request being filled, its encoding (protobuf in a snappy block) and its sending
//! (remote write's headers, and which statuses are refusals).

use super::config::{RemoteWriteSettings, SAMPLE_OVERHEAD_BYTES};
use super::proto::{self, Sample, TimeSeries, WriteRequest};
use super::series::{Point, Series};
use crate::pipeline::Delivery;
use crate::sink::delivery::http::{Body, HttpSender, Statuses};
use crate::sink::delivery::snappy::SnappyProtobuf;
use crate::sink::delivery::{Answer, Batch, Client, Encoder};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// The code of a remote-write 1.0 body in the disk buffer's frames.
pub const ENCODING_CODE: u8 = 16;

/// What a point costs in the memory buffer.
pub fn point_bytes(point: &Point) -> usize {
    point.series.label_bytes() + SAMPLE_OVERHEAD_BYTES
}

#[derive(Default)]
pub struct PendingWrite {
    index: HashMap<Series, usize>,
    series: Vec<(Series, Vec<Sample>)>,
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

    /// Adds a point; the samples of a series stay in the order they were added (the order of
    /// the scrapes: time order).
    pub fn add(&mut self, point: Point) {
        self.bytes += point_bytes(&point);
        self.samples += 1;
        let sample = Sample {
            value: point.value,
            timestamp: point.timestamp,
        };
        match self.index.get(&point.series) {
            Some(&at) => self.series[at].1.push(sample),
            None => {
                self.index.insert(point.series.clone(), self.series.len());
                self.series.push((point.series, vec![sample]));
            }
        }
    }

    pub fn share(&mut self, permit: Arc<OwnedSemaphorePermit>) {
        self.permits.push(permit);
    }

    pub fn to_request(&self) -> WriteRequest {
        WriteRequest {
            timeseries: self
                .series
                .iter()
                .map(|(series, samples)| {
                    let mut samples = samples.clone();
                    // Stable: equal timestamps keep their order.
                    samples.sort_by_key(|s| s.timestamp);
                    TimeSeries {
                        labels: series.0.to_vec(),
                        samples,
                    }
                })
                .collect(),
            metadata: Vec::new(),
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
    body: SnappyProtobuf,
}

impl Encoder for WriteEncoder {
    type Batch = PendingWrite;

    fn encode(&mut self, batch: &PendingWrite) -> (bytes::Bytes, u8) {
        (self.body.encode(&batch.to_request()), ENCODING_CODE)
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
