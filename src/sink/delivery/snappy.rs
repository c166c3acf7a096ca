//! A protobuf message in a snappy block (not the framed format): the body Loki's push API and
//! Prometheus remote write both take. Buffers are kept between requests.

pub struct SnappyProtobuf {
    snappy: snap::raw::Encoder,
    encoded: Vec<u8>,
    compressed: Vec<u8>,
}

impl Default for SnappyProtobuf {
    fn default() -> Self {
        Self {
            snappy: snap::raw::Encoder::new(),
            encoded: Vec::new(),
            compressed: Vec::new(),
        }
    }
}

impl SnappyProtobuf {
    pub fn encode(&mut self, message: &impl prost::Message) -> bytes::Bytes {
        self.encoded.clear();
        message
            .encode(&mut self.encoded)
            .expect("a Vec has room for any message");
        let room = snap::raw::max_compress_len(self.encoded.len());
        if self.compressed.len() < room {
            self.compressed.resize(room, 0);
        }
        let length = self
            .snappy
            .compress(&self.encoded, &mut self.compressed)
            .expect("snappy compresses any input below 4 GiB");
        let body = bytes::Bytes::copy_from_slice(&self.compressed[..length]);
        // After a burst, give the memory back rather than hold megabytes for small requests.
        if self.encoded.capacity() > 4 * self.encoded.len().max(64 * 1024) {
            self.encoded = Vec::new();
            self.compressed = Vec::new();
        }
        body
    }
}
