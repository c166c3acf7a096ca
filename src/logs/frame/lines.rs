//! Splits a byte stream into lines with a hard cap on line length, so one endless line can
//! never make the agent's memory grow: past `max_line_bytes` the rest of the line is skipped
//! (not buffered) and the line is marked truncated.

/// A complete line, without its `\n` (and without a `\r` before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedLine {
    pub bytes: Vec<u8>,
    pub truncated: bool,
    /// Offset in the stream just past this line's terminator: where reading resumes after it.
    pub end_offset: u64,
}

#[derive(Debug)]
pub struct LineSplitter {
    max_line_bytes: usize,
    partial: Vec<u8>,
    partial_truncated: bool,
    offset: u64,
}

impl LineSplitter {
    pub fn new(max_line_bytes: usize) -> Self {
        Self::starting_at(max_line_bytes, 0)
    }

    /// A splitter for a stream whose first byte is at `offset` (a resumed file).
    pub fn starting_at(max_line_bytes: usize, offset: u64) -> Self {
        Self {
            max_line_bytes: max_line_bytes.max(1),
            partial: Vec::new(),
            partial_truncated: false,
            offset,
        }
    }

    /// Bytes of an unfinished line held back, waiting for its end.
    pub fn pending_bytes(&self) -> usize {
        self.partial.len()
    }

    /// Feeds the next chunk of the stream; complete lines are appended to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<FramedLine>) {
        while !chunk.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(newline) => {
                    self.keep(&chunk[..newline]);
                    self.offset += newline as u64 + 1;
                    out.push(self.take_line());
                    chunk = &chunk[newline + 1..];
                }
                None => {
                    self.keep(chunk);
                    self.offset += chunk.len() as u64;
                    chunk = &[];
                }
            }
        }
    }

    /// End of stream: the unfinished line, if any, as a line of its own.
    pub fn finish(&mut self) -> Option<FramedLine> {
        if self.partial.is_empty() && !self.partial_truncated {
            return None;
        }
        Some(self.take_line())
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.max_line_bytes - self.partial.len();
        if bytes.len() > room {
            self.partial.extend_from_slice(&bytes[..room]);
            self.partial_truncated = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    fn take_line(&mut self) -> FramedLine {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') && !self.partial_truncated {
            bytes.pop();
        }
        let truncated = std::mem::replace(&mut self.partial_truncated, false);
        FramedLine {
            bytes,
            truncated,
            end_offset: self.offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<FramedLine> {
        let mut splitter = LineSplitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, &mut out);
        }
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn lines_split_across_chunks_are_joined_and_offsets_point_past_them() {
        let lines = split(&[b"GET /a 200\nGET /b", b" 404\r\n", b"tail"], 1024);
        let texts: Vec<&[u8]> = lines.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(texts, vec![&b"GET /a 200"[..], b"GET /b 404", b"tail"]);
        let offsets: Vec<u64> = lines.iter().map(|l| l.end_offset).collect();
        assert_eq!(offsets, vec![11, 23, 27]);
    }

    #[test]
    fn an_overlong_line_is_cut_without_buffering_the_rest() {
        let long = vec![b'x'; 10 * 1024 * 1024];
        let mut splitter = LineSplitter::new(16);
        let mut out = Vec::new();
        for chunk in long.chunks(64 * 1024) {
            splitter.push(chunk, &mut out);
            assert!(splitter.pending_bytes() <= 16);
        }
        splitter.push(b"\nnext\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].bytes, vec![b'x'; 16]);
        assert!(out[0].truncated);
        assert_eq!(out[1].bytes, b"next");
        assert!(!out[1].truncated);
        assert_eq!(out[1].end_offset, 10 * 1024 * 1024 + 6);
    }

    #[test]
    fn empty_lines_are_kept_and_an_empty_stream_gives_nothing() {
        assert_eq!(split(&[b"\n\n"], 8).len(), 2);
        assert!(split(&[], 8).is_empty());
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(data in proptest::collection::vec(any::<u8>(), 0..2048), cut in 0usize..2048, max in 1usize..64) {
            let cut = cut.min(data.len());
            let whole = split(&[&data], max);
            let chunked = split(&[&data[..cut], &data[cut..]], max);
            prop_assert_eq!(&whole, &chunked);
            for line in &whole {
                prop_assert!(line.bytes.len() <= max);
            }
            if let Some(last) = whole.last() {
                prop_assert_eq!(last.end_offset, data.len() as u64);
            }
        }
    }
}
