//! The write-ahead buffer of `when_full: disk`: a sink's requests stored as CRC-checked frames in
//! segment files under `data_dir/buffers/<sink>/`, read back in order for delivery.
//!
//! ```text
//!  batcher ──► DiskWriter ──► segment-…0001.wal  segment-…0002.wal ──► DiskReader ──► deliverer
//!              (fsync, then the                     (a size cap:                (in memory only
//!               sources' lines count                 the writer waits           what the memory
//!               as delivered)                        for room)                  buffer allows)
//! ```
//!
//! A frame is acknowledged once the receiver took (or refused for good) its request; the position just
//! past the last acknowledged frame is kept in `ack`, and a segment whose frames are all
//! acknowledged is deleted. On start every frame past that position is checked (length, CRC)
//! and sent again; a segment's tail cut short by a crash is skipped, counted.

pub mod frame;
pub mod positions;
pub mod reader;
pub mod writer;

use crate::sink::delivery::config::DiskSync;
use crate::telemetry::delivery::DeliveryMetrics;
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

pub use positions::Positions;
pub use reader::{DiskReader, StoredFrame};
pub use writer::DiskWriter;

/// Every segment starts with this: a file that does not is not ours.
const MAGIC: &[u8; 12] = b"vigia-wal-1\n";
const MAGIC_LEN: u64 = MAGIC.len() as u64;
/// Segments roll at this size (or a quarter of the cap, when that is smaller): acknowledged
/// data leaves the disk one segment at a time.
const SEGMENT_BYTES: u64 = 16 << 20;

/// A place in the buffer: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    /// Bytes of whole frames written (magic included): the reader stops there.
    committed: u64,
    lines: u64,
    /// No more frames will be added.
    sealed: bool,
}

#[derive(Debug, Default)]
struct State {
    segments: VecDeque<Segment>,
    /// Everything before it was delivered.
    acked: Option<Position>,
    unacked_bytes: u64,
    unacked_lines: u64,
    writer_done: bool,
    /// The read positions of every frame acknowledged (and those found at start).
    positions: Positions,
}

/// What the writer and the reader share.
pub struct DiskBuffer {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    sync: DiskSync,
    state: Mutex<State>,
    /// A frame was committed, or the writer finished.
    written: Notify,
    /// Acknowledgements made room.
    freed: Notify,
    metrics: DeliveryMetrics,
    /// `ack`, kept open: the delivered position is rewritten in place, one `pwrite` per
    /// acknowledgement rather than a file created and renamed each time.
    ack_file: Mutex<Option<File>>,
}

/// What was found on disk at start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub frames: u64,
    pub lines: u64,
    pub bytes: u64,
    /// Bytes past a frame that was cut short or failed its CRC.
    pub corrupted_bytes: u64,
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `dir`, checking what an earlier run left there.
    /// `positions` is what [`Positions::read`] found in `dir` before (read once at start, by
    /// whoever hands the sources theirs).
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        sync: DiskSync,
        metrics: DeliveryMetrics,
        mut positions: Positions,
    ) -> io::Result<(DiskWriter, DiskReader, Recovered)> {
        fs::create_dir_all(dir)?;
        // Before any delivered segment is deleted below: their positions are kept.
        positions.save(dir);
        let acked = read_ack(dir);
        let mut recovered = Recovered::default();
        let mut segments = VecDeque::new();
        for (id, path) in segment_files(dir)? {
            let start = match acked {
                Some(ack) if id < ack.segment => {
                    fs::remove_file(&path)?;
                    continue;
                }
                Some(ack) if id == ack.segment => ack.offset.max(MAGIC_LEN),
                _ => MAGIC_LEN,
            };
            let scan = scan_segment(&path, start)?;
            recovered.corrupted_bytes += scan.corrupted_bytes;
            if scan.frames == 0 {
                // Nothing left to send from it (what could not be read is counted).
                fs::remove_file(&path)?;
                continue;
            }
            recovered.frames += scan.frames;
            recovered.lines += scan.lines;
            recovered.bytes += scan.end - start;
            segments.push_back(Segment {
                id,
                committed: scan.end,
                lines: scan.lines,
                sealed: true,
            });
        }
        let start = match (acked, segments.front()) {
            (Some(ack), Some(first)) if ack.segment == first.id => ack,
            (_, Some(first)) => Position {
                segment: first.id,
                offset: MAGIC_LEN,
            },
            (_, None) => Position {
                segment: acked.map_or(0, |a| a.segment),
                offset: MAGIC_LEN,
            },
        };
        let next_id = segments.back().map_or(start.segment, |s| s.id) + 1;
        metrics.corrupted_bytes.inc_by(recovered.corrupted_bytes);
        let buffer = Arc::new(DiskBuffer {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: SEGMENT_BYTES.min(max_bytes / 4).max(1 << 20),
            sync,
            state: Mutex::new(State {
                segments,
                acked: Some(start),
                unacked_bytes: recovered.bytes,
                unacked_lines: recovered.lines,
                writer_done: false,
                positions,
            }),
            written: Notify::new(),
            freed: Notify::new(),
            metrics,
            ack_file: Mutex::new(None),
        });
        buffer.publish(&buffer.lock());
        Ok((
            DiskWriter::new(buffer.clone(), next_id),
            DiskReader::new(buffer, start),
            recovered,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, state: &State) {
        self.metrics.disk_bytes.set(state.unacked_bytes as i64);
        self.metrics.disk_items.set(state.unacked_lines as i64);
    }

    fn segment_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("segment-{id:020}.wal"))
    }

    /// The frame ending at `end` (of `bytes` bytes, `lines` lines) is finished with: the receiver took
    /// it or refused it for good. Acknowledgements come in the order frames were read.
    pub fn acknowledge(&self, end: Position, bytes: u64, lines: u64, positions: &[u8]) {
        let finished: Vec<u64> = {
            let mut state = self.lock();
            state.positions.merge_json(positions);
            state.acked = Some(end);
            state.unacked_bytes = state.unacked_bytes.saturating_sub(bytes);
            state.unacked_lines = state.unacked_lines.saturating_sub(lines);
            let mut finished = Vec::new();
            while let Some(first) = state.segments.front() {
                let done = first.id < end.segment
                    || (first.id == end.segment && first.sealed && first.committed <= end.offset);
                if !done {
                    break;
                }
                finished.push(first.id);
                state.segments.pop_front();
            }
            if !finished.is_empty() {
                // The deleted segments' frames took their positions with them.
                state.positions.save(&self.dir);
            }
            self.publish(&state);
            finished
        };
        for id in finished {
            if let Err(error) = fs::remove_file(self.segment_path(id)) {
                tracing::warn!(%error, segment = id, "cannot delete a delivered disk buffer segment");
            }
        }
        self.record_ack(end);
        self.freed.notify_one();
    }

    /// Writes the delivered position to `ack`. Losing it costs duplicates (frames sent
    /// again), never lines, so there is no fsync; the record has a fixed width, so each write
    /// replaces the last whole, and one that is torn or garbled reads as no position at all
    /// (everything still on disk is sent again).
    fn record_ack(&self, end: Position) {
        use std::os::unix::fs::FileExt;
        let record = format!("{:020} {:020}\n", end.segment, end.offset);
        let mut file = self
            .ack_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = match &*file {
            Some(open) => open.write_all_at(record.as_bytes(), 0),
            None => fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(self.dir.join("ack"))
                .and_then(|open| {
                    open.write_all_at(record.as_bytes(), 0)?;
                    *file = Some(open);
                    Ok(())
                }),
        };
        if let Err(error) = written {
            // Opened again next time: the directory may have been repaired.
            *file = None;
            tracing::warn!(%error, "cannot record the disk buffer's delivered position");
        }
    }
}

/// Whether the buffer can live in `dir`: it can be created and written to.
pub fn check_writable(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let probe = dir.join(".writable");
    fs::write(&probe, b"")?;
    fs::remove_file(&probe)
}

fn read_ack(dir: &Path) -> Option<Position> {
    let text = fs::read_to_string(dir.join("ack")).ok()?;
    let (segment, offset) = text.trim().split_once(' ')?;
    Some(Position {
        segment: segment.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

/// `segment-<id>.wal` files, oldest first.
fn segment_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("segment-"))
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(id) = id {
            found.push((id, path));
        }
    }
    found.sort();
    Ok(found)
}

struct Scan {
    frames: u64,
    lines: u64,
    /// Just past the last whole, valid frame.
    end: u64,
    corrupted_bytes: u64,
}

/// Reads a segment's frames from `start`, checking each one, up to the first that is cut short
/// or corrupt.
fn scan_segment(path: &Path, start: u64) -> io::Result<Scan> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let mut magic = [0; MAGIC.len()];
    let mut scan = Scan {
        frames: 0,
        lines: 0,
        end: start,
        corrupted_bytes: 0,
    };
    if reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
        tracing::warn!(segment = %path.display(), "not a vigia disk buffer segment; skipped");
        scan.corrupted_bytes = size;
        scan.end = MAGIC_LEN;
        return Ok(scan);
    }
    io::copy(&mut (&mut reader).take(start - MAGIC_LEN), &mut io::sink())?;
    let mut payload = Vec::new();
    loop {
        let mut header = [0; frame::HEADER_BYTES];
        match reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(error) => return Err(error),
        }
        let Ok((length, crc)) = frame::parse_header(header) else {
            break;
        };
        payload.resize(length, 0);
        if reader.read_exact(&mut payload).is_err() {
            break;
        }
        let Ok(stored) = frame::parse_payload(&payload, crc) else {
            break;
        };
        scan.frames += 1;
        scan.lines += u64::from(stored.lines);
        scan.end += (frame::HEADER_BYTES + length) as u64;
    }
    scan.corrupted_bytes = size.saturating_sub(scan.end);
    if scan.corrupted_bytes > 0 {
        tracing::warn!(
            segment = %path.display(),
            offset = scan.end,
            bytes = scan.corrupted_bytes,
            "disk buffer segment ends with a cut-short or corrupt frame; the rest is skipped"
        );
    }
    Ok(scan)
}

#[cfg(test)]
mod tests;
