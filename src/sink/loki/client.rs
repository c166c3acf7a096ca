//! Sending one push request to Loki: its content types, its tenant header, and which of its
//! statuses are refusals. Everything else is the shared [`HttpSender`]'s.

use crate::sink::delivery::http::{Body, HttpSender, Statuses};
use crate::sink::delivery::{Answer, Client};
use crate::sink::loki::config::{LokiEncoding, LokiSettings};

pub const STATUSES: Statuses = Statuses {
    peer: "loki",
    // Bad request (invalid labels, out of order, too old), too large, unprocessable: the same
    // request would fail again. 429 and 5xx are retried.
    refused: |status| matches!(status, 400 | 413 | 422),
    // Loki answers 204; another 2xx (260: ingestion blocked by policy) means lines were not
    // stored even though Loki said yes.
    unexpected_success: |status| status != 204,
};

pub struct LokiClient {
    sender: HttpSender,
}

impl LokiClient {
    pub fn new(settings: &LokiSettings) -> anyhow::Result<Self> {
        let tenant: Vec<(&str, &str)> = settings
            .tenant
            .as_deref()
            .map(|tenant| ("X-Scope-OrgID", tenant))
            .into_iter()
            .collect();
        Ok(Self {
            sender: HttpSender::new(&settings.delivery, &settings.push_url, &tenant, STATUSES)?,
        })
    }
}

impl Client for LokiClient {
    /// Sends a body encoded as `encoding` (a request read back from the disk buffer keeps the
    /// encoding it was written with).
    async fn send(&mut self, body: bytes::Bytes, encoding: u8) -> Answer {
        let Some(encoding) = LokiEncoding::from_code(encoding) else {
            return Answer::Refused {
                status: 0,
                body: format!("encoding {encoding} is not one of the loki sink's"),
            };
        };
        let (content_type, content_encoding) = match encoding {
            LokiEncoding::Protobuf => ("application/x-protobuf", None),
            LokiEncoding::Json => ("application/json", None),
            LokiEncoding::JsonGzip => ("application/json", Some("gzip")),
        };
        self.sender
            .post(Body {
                bytes: body,
                content_type,
                content_encoding,
                protocol_headers: &[],
            })
            .await
    }

    fn peer(&self) -> &'static str {
        STATUSES.peer
    }
}
