//! Framing: from a byte stream to events. Lines (with a hard length cap) → container-log
//! decoding (CRI / Docker, detected per stream) → reassembly of partial lines per stream →
//! multiline per stream. Every event knows the stream offsets it spans, which is what lets a
//! file checkpoint stop exactly after the last delivered event.

pub mod config;
pub mod container;
pub mod lines;
pub mod multiline;

pub use container::{CompleteLine, ContainerFormat};
pub use lines::{FramedLine, LineSplitter};
pub use multiline::{MultilineMode, MultilineSettings};

use container::Reassembler;
use multiline::Aggregator;
use std::time::Instant;

/// The whole framing chain for one byte stream (one file, or stdin).
#[derive(Debug)]
pub struct Framer {
    splitter: LineSplitter,
    format: ContainerFormat,
    reassembler: Reassembler,
    aggregator: Aggregator,
    lines: Vec<FramedLine>,
    /// Whole lines out of reassembly, on their way into multiline.
    reassembled: Vec<CompleteLine>,
    /// Finished events out of multiline.
    complete: Vec<CompleteLine>,
    /// Offset just past the last complete line taken from the stream.
    consumed: u64,
    invalid_container_lines: u64,
}

impl Framer {
    /// A framer for a stream whose next byte is at `offset`.
    pub fn new(
        format: ContainerFormat,
        multiline: MultilineSettings,
        max_line_bytes: usize,
        offset: u64,
    ) -> Self {
        Self {
            splitter: LineSplitter::starting_at(max_line_bytes, offset),
            format,
            reassembler: Reassembler::new(max_line_bytes),
            aggregator: Aggregator::new(multiline),
            lines: Vec::new(),
            reassembled: Vec::new(),
            complete: Vec::new(),
            consumed: offset,
            invalid_container_lines: 0,
        }
    }

    /// The container format in use (`Auto` until the first line has been seen).
    pub fn format(&self) -> ContainerFormat {
        self.format
    }

    /// Feeds bytes; finished events are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], now: Instant, out: &mut Vec<CompleteLine>) {
        self.splitter.push(chunk, &mut self.lines);
        self.frame_lines(now, out);
    }

    /// Emits events whose multiline timeout has passed.
    pub fn flush_expired(&mut self, now: Instant, out: &mut Vec<CompleteLine>) {
        self.aggregator.flush_expired(now, &mut self.complete);
        self.emit(out);
    }

    /// End of the stream: everything held back is emitted.
    pub fn finish(&mut self, now: Instant, out: &mut Vec<CompleteLine>) {
        self.lines.extend(self.splitter.finish());
        self.frame_lines(now, out);
        self.reassembler.finish(&mut self.reassembled);
        for line in self.reassembled.drain(..) {
            self.aggregator.push(line, now, &mut self.complete);
        }
        self.aggregator.finish(&mut self.complete);
        self.emit(out);
    }

    /// Emits the events multiline is holding, without waiting for their timeout (the stream
    /// was rotated away: nothing more is expected to join them).
    pub fn flush_held(&mut self, out: &mut Vec<CompleteLine>) {
        self.aggregator.finish(&mut self.complete);
        self.emit(out);
    }

    /// Every byte before this offset belongs to an event already emitted (or to nothing):
    /// resuming here after those events are delivered loses nothing.
    pub fn safe_offset(&self) -> u64 {
        [
            Some(self.consumed),
            self.reassembler.earliest_pending_start(),
            self.aggregator.earliest_pending_start(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.consumed)
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.aggregator.next_deadline()
    }

    /// Container lines that did not parse in the file's format (kept as raw lines).
    pub fn take_invalid_container_lines(&mut self) -> u64 {
        std::mem::take(&mut self.invalid_container_lines)
    }

    fn frame_lines(&mut self, now: Instant, out: &mut Vec<CompleteLine>) {
        for line in std::mem::take(&mut self.lines) {
            let start = self.consumed;
            self.consumed = line.end_offset;
            if self.format == ContainerFormat::Auto && !line.bytes.is_empty() {
                self.format = ContainerFormat::detect(&line.bytes);
            }
            let (decoded, valid) = self.format.decode(line.bytes);
            if !valid {
                self.invalid_container_lines += 1;
            }
            self.reassembler.push(
                decoded,
                line.truncated,
                start,
                line.end_offset,
                &mut self.reassembled,
            );
            for complete in self.reassembled.drain(..) {
                self.aggregator.push(complete, now, &mut self.complete);
            }
        }
        self.emit(out);
    }

    fn emit(&mut self, out: &mut Vec<CompleteLine>) {
        // An empty line is not an event.
        out.extend(self.complete.drain(..).filter(|l| !l.bytes.is_empty()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_partials_and_a_multiline_trace_keep_the_safe_offset_behind_what_is_held() {
        let mut framer = Framer::new(
            ContainerFormat::Auto,
            MultilineSettings::auto(1 << 20),
            1 << 20,
            0,
        );
        let mut out = Vec::new();
        let now = Instant::now();
        let first = "2024-05-01T10:00:00Z stderr F Exception in thread \"main\" java.lang.IllegalStateException\n";
        framer.push(first.as_bytes(), now, &mut out);
        assert!(out.is_empty(), "the trace may continue");
        assert_eq!(framer.safe_offset(), 0);
        let rest = "2024-05-01T10:00:00Z stderr F \tat com.shop.App.main(App.java:3)\n2024-05-01T10:00:01Z stdout F GET / 200\n2024-05-01T10:00:02Z stderr F next\n";
        framer.push(rest.as_bytes(), now, &mut out);
        assert_eq!(framer.format(), ContainerFormat::Cri);
        let texts: Vec<&[u8]> = out.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(texts, vec![&b"Exception in thread \"main\" java.lang.IllegalStateException\n\tat com.shop.App.main(App.java:3)"[..]]);
        // "GET / 200" (stdout) and "next" (stderr) are still open events.
        let stdout_start = (first.len() + rest.lines().next().unwrap().len() + 1) as u64;
        assert_eq!(framer.safe_offset(), stdout_start);
        framer.flush_expired(now + std::time::Duration::from_secs(2), &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(framer.safe_offset(), (first.len() + rest.len()) as u64);
    }

    #[test]
    fn a_file_resumed_mid_stream_keeps_absolute_offsets() {
        let mut framer = Framer::new(ContainerFormat::Raw, MultilineSettings::none(), 1024, 1000);
        let mut out = Vec::new();
        framer.push(b"a\n\nb\n", Instant::now(), &mut out);
        let ends: Vec<u64> = out.iter().map(|l| l.end_offset).collect();
        assert_eq!(ends, vec![1002, 1005], "the empty line is not an event");
        assert_eq!(framer.safe_offset(), 1005);
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;

    #[test]
    fn many_lines_in_one_chunk_keep_their_order() {
        let mut framer = Framer::new(
            ContainerFormat::Auto,
            MultilineSettings::auto(1 << 20),
            1 << 20,
            0,
        );
        let mut out = Vec::new();
        let text: String = (0..5).map(|i| format!("{{\"order\":{i}}}\n")).collect();
        framer.push(text.as_bytes(), Instant::now(), &mut out);
        framer.finish(Instant::now(), &mut out);
        let texts: Vec<String> = out
            .iter()
            .map(|l| String::from_utf8_lossy(&l.bytes).into_owned())
            .collect();
        assert_eq!(
            texts,
            (0..5)
                .map(|i| format!("{{\"order\":{i}}}"))
                .collect::<Vec<_>>()
        );
    }
}
