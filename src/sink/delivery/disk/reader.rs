//! Reading frames back in the order they were written, waiting for the writer when caught up.

use super::frame::{self, HEADER_BYTES};
use super::{DiskBuffer, MAGIC_LEN, Position};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// A frame read back, to be sent and then acknowledged with [`DiskBuffer::acknowledge`].
#[derive(Debug)]
pub struct StoredFrame {
    pub body: bytes::Bytes,
    /// The sources' read positions once this frame is delivered (JSON), or empty.
    pub positions: bytes::Bytes,
    /// The sink's encoding code.
    pub encoding: u8,
    pub lines: u32,
    pub line_bytes: u32,
    /// Just past the frame.
    pub end: Position,
    /// The frame's size on disk.
    pub frame_bytes: u64,
}

enum Step {
    Frame(StoredFrame),
    /// Caught up with the writer, which may add more.
    Waiting,
    /// Caught up with a writer that finished.
    Finished,
}

pub struct DiskReader {
    buffer: Arc<DiskBuffer>,
    next: Position,
    file: Option<(u64, File)>,
}

impl DiskReader {
    pub(super) fn new(buffer: Arc<DiskBuffer>, next: Position) -> Self {
        Self {
            buffer,
            next,
            file: None,
        }
    }

    pub fn buffer(&self) -> &Arc<DiskBuffer> {
        &self.buffer
    }

    /// The next frame, waiting for one to be written; `None` once the writer finished and
    /// everything was read.
    pub async fn next(mut self) -> (Self, Option<StoredFrame>) {
        loop {
            let written = self.buffer.clone();
            let written = written.written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            let (reader, step) = match tokio::task::spawn_blocking(move || {
                let step = self.step();
                (self, step)
            })
            .await
            {
                Ok(done) => done,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            };
            self = reader;
            match step {
                Step::Frame(frame) => return (self, Some(frame)),
                Step::Finished => return (self, None),
                Step::Waiting => written.await,
            }
        }
    }

    fn step(&mut self) -> Step {
        loop {
            let (id, committed, sealed, writer_done) = {
                let state = self.buffer.lock();
                let Some(segment) = state.segments.iter().find(|s| s.id >= self.next.segment)
                else {
                    return if state.writer_done {
                        Step::Finished
                    } else {
                        Step::Waiting
                    };
                };
                (
                    segment.id,
                    segment.committed,
                    segment.sealed,
                    state.writer_done,
                )
            };
            if id != self.next.segment {
                self.next = Position {
                    segment: id,
                    offset: MAGIC_LEN,
                };
            }
            if self.next.offset < committed {
                match self.read_frame(id, committed) {
                    Ok(frame) => return Step::Frame(frame),
                    Err(error) => {
                        // Written whole and checked, yet unreadable now: the rest of the
                        // segment is lost, counted; the reader goes on with the next one.
                        tracing::error!(%error, segment = id, offset = self.next.offset, "cannot read the disk buffer; the rest of the segment is skipped");
                        self.buffer
                            .metrics
                            .corrupted_bytes
                            .inc_by(committed - self.next.offset);
                        self.next.offset = committed;
                        continue;
                    }
                }
            }
            if sealed {
                self.next = Position {
                    segment: id + 1,
                    offset: MAGIC_LEN,
                };
                self.file = None;
                continue;
            }
            return if writer_done {
                Step::Finished
            } else {
                Step::Waiting
            };
        }
    }

    fn read_frame(&mut self, id: u64, committed: u64) -> io::Result<StoredFrame> {
        if self.file.as_ref().is_none_or(|(open, _)| *open != id) {
            self.file = Some((id, File::open(self.buffer.segment_path(id))?));
        }
        let (_, file) = self.file.as_ref().expect("opened above");
        let mut header = [0; HEADER_BYTES];
        file.read_exact_at(&mut header, self.next.offset)?;
        let (length, crc) = frame::parse_header(header).map_err(io::Error::other)?;
        let frame_bytes = (HEADER_BYTES + length) as u64;
        if self.next.offset + frame_bytes > committed {
            return Err(io::Error::other("a frame runs past the committed length"));
        }
        let mut payload = vec![0; length];
        file.read_exact_at(&mut payload, self.next.offset + HEADER_BYTES as u64)?;
        let parsed = frame::parse_payload(&payload, crc).map_err(io::Error::other)?;
        let (lines, line_bytes, encoding) = (parsed.lines, parsed.line_bytes, parsed.encoding);
        let body_start = payload.len() - parsed.body.len();
        let positions_start = body_start - parsed.positions.len();
        let payload = bytes::Bytes::from(payload);
        let positions = payload.slice(positions_start..body_start);
        let body = payload.slice(body_start..);
        self.next.offset += frame_bytes;
        Ok(StoredFrame {
            body,
            positions,
            encoding,
            lines,
            line_bytes,
            end: self.next,
            frame_bytes,
        })
    }
}
