//! A protobuf message in a snappy block (not the framed format): the body Loki's push API and
//! Prometheus remote write both take. Buffers are kept between requests.

#[derive(Default)]
pub struct SnappyProtobuf {
    encoded: Vec<u8>,
    block: SnappyBlock,
}

/// Snappy block compression with its tables and output buffer kept between calls.
pub struct SnappyBlock {
    snappy: snap::raw::Encoder,
    compressed: Vec<u8>,
}

impl Default for SnappyBlock {
    fn default() -> Self {
        Self {
            snappy: snap::raw::Encoder::new(),
            compressed: Vec::new(),
        }
    }
}

impl SnappyBlock {
    pub fn compress(&mut self, raw: &[u8]) -> bytes::Bytes {
        let room = snap::raw::max_compress_len(raw.len());
        if self.compressed.len() < room {
            self.compressed.resize(room, 0);
        }
        let length = self
            .snappy
            .compress(raw, &mut self.compressed)
            .expect("snappy compresses any input below 4 GiB");
        let body = bytes::Bytes::copy_from_slice(&self.compressed[..length]);
        // After a burst, give the memory back rather than hold megabytes for small requests.
        if self.compressed.len() > 4 * room.max(64 * 1024) {
            self.compressed = Vec::new();
        }
        body
    }
}

impl SnappyProtobuf {
    pub fn encode(&mut self, message: &impl prost::Message) -> bytes::Bytes {
        self.encode_with(|out| {
            message.encode(out).expect("a Vec has room for any message");
        })
    }

    /// The protobuf that `write` appends, compressed.
    pub fn encode_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> bytes::Bytes {
        self.encoded.clear();
        write(&mut self.encoded);
        let body = self.block.compress(&self.encoded);
        if self.encoded.capacity() > 4 * self.encoded.len().max(64 * 1024) {
            self.encoded = Vec::new();
        }
        body
    }
}
