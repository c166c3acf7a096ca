//! Appending frames: one segment open at a time, rolled at the segment size, synced as the
//! `sync` policy says before the frame's lines count as delivered.

use super::{DiskBuffer, MAGIC, Position, Segment};
use crate::sink::delivery::config::DiskSync;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Arc;

pub struct DiskWriter {
    buffer: Arc<DiskBuffer>,
    /// The segment being written and its length.
    open: Option<(File, u64)>,
    next_id: u64,
}

impl DiskWriter {
    pub(super) fn new(buffer: Arc<DiskBuffer>, next_id: u64) -> Self {
        Self {
            buffer,
            open: None,
            next_id,
        }
    }

    /// Waits until a frame of `bytes` fits under the size cap (a frame larger than the cap is
    /// taken once the buffer is empty). This is where a full disk buffer pushes back.
    pub async fn wait_for_room(&self, bytes: u64) {
        loop {
            let freed = self.buffer.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let state = self.buffer.lock();
                if state.unacked_bytes == 0 || state.unacked_bytes + bytes <= self.buffer.max_bytes
                {
                    return;
                }
            }
            freed.await;
        }
    }

    /// Appends one encoded frame of `lines` lines; once this returns, the frame is as durable
    /// as the sync policy makes it. Blocking: call it off the async threads.
    pub fn append(&mut self, encoded: &[u8], lines: u32) -> io::Result<Position> {
        let rolls = self.open.as_ref().is_none_or(|(_, len)| {
            *len > MAGIC.len() as u64 && *len + encoded.len() as u64 > self.buffer.segment_bytes
        });
        if rolls {
            self.roll()?;
        }
        let (file, len) = self.open.as_mut().expect("a segment was just opened");
        let written = file
            .write_all(encoded)
            .and_then(|()| match self.buffer.sync {
                DiskSync::Full => file.sync_data(),
                DiskSync::Normal => Ok(()),
            });
        if let Err(error) = written {
            // What was half written stays past the committed length; the next frame goes to
            // a fresh segment.
            self.seal();
            return Err(error);
        }
        *len += encoded.len() as u64;
        let end = Position {
            segment: self.next_id - 1,
            offset: *len,
        };
        {
            let mut state = self.buffer.lock();
            if let Some(segment) = state.segments.back_mut() {
                segment.committed = end.offset;
                segment.lines += u64::from(lines);
            }
            state.unacked_bytes += encoded.len() as u64;
            state.unacked_lines += u64::from(lines);
            self.buffer.publish(&state);
        }
        self.buffer.written.notify_one();
        Ok(end)
    }

    /// No more frames: the reader may finish once it has read everything.
    pub fn finish(mut self) {
        self.seal();
        self.buffer.lock().writer_done = true;
        self.buffer.written.notify_one();
    }

    fn seal(&mut self) {
        if self.open.take().is_some()
            && let Some(segment) = self.buffer.lock().segments.back_mut()
        {
            segment.sealed = true;
        }
        self.buffer.written.notify_one();
    }

    fn roll(&mut self) -> io::Result<()> {
        self.seal();
        // An id is used once, even when creating its file fails half-way.
        let id = self.next_id;
        self.next_id += 1;
        let path = self.buffer.segment_path(id);
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(MAGIC)?;
        if self.buffer.sync == DiskSync::Full {
            file.sync_data()?;
            // The new file's name is durable only once the directory is synced.
            File::open(&self.buffer.dir)?.sync_all()?;
        }
        self.buffer.lock().segments.push_back(Segment {
            id,
            committed: MAGIC.len() as u64,
            lines: 0,
            sealed: false,
        });
        self.open = Some((file, MAGIC.len() as u64));
        Ok(())
    }
}
