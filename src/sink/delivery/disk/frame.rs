//! The on-disk form of one request: a length, a CRC32 of what follows, then the request's
//! item count (lines, samples), their size, the body's encoding and the body exactly as it
//! will be sent.
//!
//! ```text
//! u32 LE  payload length
//! u32 LE  CRC32 (IEEE) of the payload
//! payload: u32 LE items · u32 LE item bytes · u8 encoding (the sink's code, below 0x80)
//!          [· u32 LE positions length · positions]   (when the encoding byte has bit 0x80)
//!          · body
//! ```
//!
//! The positions (JSON) say where each file source will resume once the frame's lines are
//! safe: a restart resumes from the newest frame's, not from a checkpoint written a second
//! earlier, so lines already in the buffer are not read twice. Frames without them (written by
//! earlier versions) read as before.
//!
//! A frame cut short (the process died while writing it) or whose CRC does not match is
//! corrupt: the reader never hands it on.

/// What precedes the payload.
pub const HEADER_BYTES: usize = 8;
/// The payload's own fields before the body.
const FIELDS_BYTES: usize = 9;
/// Larger lengths are garbage, not frames (a batch is at most 64 MiB of lines).
pub const MAX_PAYLOAD_BYTES: usize = 256 << 20;

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<B, P = B> {
    pub lines: u32,
    pub line_bytes: u32,
    /// How the body is encoded, in the sink's own code (see [`super::super::Encoding`]).
    pub encoding: u8,
    /// The sources' read positions once these lines are safe (JSON), or empty.
    pub positions: P,
    pub body: B,
}

/// Set in the encoding byte when a positions section follows.
const WITH_POSITIONS: u8 = 0x80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {0} is not plausible")]
    Length(usize),
    #[error("frame checksum mismatch")]
    Checksum,
    #[error("body encoding {0} is not a sink's code")]
    Encoding(u8),
}

impl<B: AsRef<[u8]>, P: AsRef<[u8]>> Frame<B, P> {
    /// The frame's bytes, header included.
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body.as_ref();
        let positions = self.positions.as_ref();
        let mut payload =
            Vec::with_capacity(HEADER_BYTES + FIELDS_BYTES + 4 + positions.len() + body.len());
        payload.extend_from_slice(&[0; HEADER_BYTES]);
        payload.extend_from_slice(&self.lines.to_le_bytes());
        payload.extend_from_slice(&self.line_bytes.to_le_bytes());
        if positions.is_empty() {
            payload.push(self.encoding & !WITH_POSITIONS);
        } else {
            payload.push((self.encoding & !WITH_POSITIONS) | WITH_POSITIONS);
            payload.extend_from_slice(&(positions.len() as u32).to_le_bytes());
            payload.extend_from_slice(positions);
        }
        payload.extend_from_slice(body);
        let length = (payload.len() - HEADER_BYTES) as u32;
        let crc = crc32fast::hash(&payload[HEADER_BYTES..]);
        payload[..4].copy_from_slice(&length.to_le_bytes());
        payload[4..8].copy_from_slice(&crc.to_le_bytes());
        payload
    }
}

/// The payload length and CRC a header announces.
pub fn parse_header(header: [u8; HEADER_BYTES]) -> Result<(usize, u32), FrameError> {
    let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if !(FIELDS_BYTES..=MAX_PAYLOAD_BYTES).contains(&length) {
        return Err(FrameError::Length(length));
    }
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    Ok((length, crc))
}

/// Checks a payload against its header's CRC and takes it apart.
pub fn parse_payload(payload: &[u8], crc: u32) -> Result<Frame<&[u8]>, FrameError> {
    if payload.len() < FIELDS_BYTES {
        return Err(FrameError::Length(payload.len()));
    }
    if crc32fast::hash(payload) != crc {
        return Err(FrameError::Checksum);
    }
    let word = |at: usize| {
        u32::from_le_bytes([
            payload[at],
            payload[at + 1],
            payload[at + 2],
            payload[at + 3],
        ])
    };
    let flags = payload[8];
    let (positions, body) = if flags & WITH_POSITIONS == 0 {
        (&payload[..0], &payload[FIELDS_BYTES..])
    } else {
        let rest = &payload[FIELDS_BYTES..];
        let length = rest
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(FrameError::Length(payload.len()))?;
        let positions = rest
            .get(4..4 + length)
            .ok_or(FrameError::Length(payload.len()))?;
        (positions, &rest[4 + length..])
    };
    Ok(Frame {
        lines: word(0),
        line_bytes: word(4),
        encoding: encoding_from(flags & !WITH_POSITIONS)?,
        positions,
        body,
    })
}

/// A frame borrowed from the bytes it was read from, and how many bytes it took.
pub type ParsedFrame<'a> = (Frame<&'a [u8]>, usize);

/// One frame from the start of `bytes`: `Ok(None)` when `bytes` ends before the frame does.
pub fn parse(bytes: &[u8]) -> Result<Option<ParsedFrame<'_>>, FrameError> {
    let Some(header) = bytes.get(..HEADER_BYTES) else {
        return Ok(None);
    };
    let (length, crc) = parse_header(header.try_into().expect("eight bytes"))?;
    let Some(payload) = bytes.get(HEADER_BYTES..HEADER_BYTES + length) else {
        return Ok(None);
    };
    Ok(Some((parse_payload(payload, crc)?, HEADER_BYTES + length)))
}

/// Code 0 is never written: a zeroed payload is not a frame.
fn encoding_from(byte: u8) -> Result<u8, FrameError> {
    match byte {
        0 => Err(FrameError::Encoding(0)),
        code => Ok(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(body: &[u8]) -> Frame<Vec<u8>> {
        Frame {
            lines: 3,
            line_bytes: 612,
            encoding: 1,
            positions: Vec::new(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_frame_reads_back_as_written() {
        let bytes = frame(b"\x00snappy body").encode();
        let (read, used) = parse(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(read.lines, 3);
        assert_eq!(read.line_bytes, 612);
        assert_eq!(read.encoding, 1);
        assert_eq!(read.body, b"\x00snappy body");
    }

    #[test]
    fn a_frame_cut_short_is_incomplete_and_a_flipped_bit_is_corrupt() {
        let bytes = frame(b"{\"streams\":[]}").encode();
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        for at in HEADER_BYTES..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert_eq!(
                parse(&flipped),
                Err(FrameError::Checksum),
                "bit flipped at {at}"
            );
        }
        let mut zeroed = bytes.clone();
        zeroed[..4].copy_from_slice(&[0; 4]);
        assert_eq!(parse(&zeroed), Err(FrameError::Length(0)));
    }

    proptest! {
        #[test]
        fn parsing_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_frame_round_trips(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            lines in any::<u32>(),
            line_bytes in any::<u32>(),
            positions in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let written = Frame { lines, line_bytes, encoding: 3, positions, body };
            let bytes = written.encode();
            let (read, used) = parse(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(read.body, &written.body[..]);
            prop_assert_eq!(read.positions, &written.positions[..]);
            prop_assert_eq!((read.lines, read.line_bytes), (lines, line_bytes));
        }
    }
}
