//! The file sources' read positions recorded with the frames: where each file source will
//! resume after a restart. A frame carries the newest position of every file whose lines it
//! holds; a segment deleted once delivered takes its frames' positions with it, so the
//! positions of delivered frames are also kept in a `positions` file, rewritten (atomically, no
//! fsync: losing it costs lines sent twice, never lost) each time a segment is deleted.
//!
//! On start, the newest position of each file is the last one found in: the `positions` file,
//! then every frame still on disk, oldest first.

use super::frame::{self, HEADER_BYTES};
use super::{MAGIC, segment_files};
use crate::logs::pipeline::ReadPosition;
use crate::logs::source::file::identity::FileKey;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::Path;

const FILE: &str = "positions";

/// The newest position of each (source, file).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Positions(BTreeMap<(String, FileKey), ReadPosition>);

impl Positions {
    /// Reads what the buffer in `dir` knows; empty if there is no buffer there.
    pub fn read(dir: &Path) -> Positions {
        let mut positions = Positions::default();
        if let Ok(text) = fs::read(dir.join(FILE))
            && !positions.merge_json(&text)
        {
            // Costs lines read again (sent twice), never lines lost.
            tracing::warn!(file = %dir.join(FILE).display(), "unreadable read positions; the checkpoints are used instead");
        }
        for (_, path) in segment_files(dir).unwrap_or_default() {
            if let Err(error) = positions.merge_segment(&path) {
                tracing::warn!(segment = %path.display(), %error, "cannot read the read positions of a disk buffer segment");
            }
        }
        positions
    }

    /// Takes the positions of a frame (or of the file), the newer winning; false if `json`
    /// is not a list of positions.
    pub fn merge_json(&mut self, json: &[u8]) -> bool {
        if json.is_empty() {
            return true;
        }
        let Ok(found) = serde_json::from_slice::<Vec<ReadPosition>>(json) else {
            return false;
        };
        for position in found {
            self.0
                .insert((position.source.clone(), position.entry.key), position);
        }
        true
    }

    fn merge_segment(&mut self, path: &Path) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(256 << 10, File::open(path)?);
        let mut magic = [0; MAGIC.len()];
        if reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Ok(());
        }
        let mut payload = Vec::new();
        loop {
            let mut header = [0; HEADER_BYTES];
            if reader.read_exact(&mut header).is_err() {
                return Ok(());
            }
            let Ok((length, crc)) = frame::parse_header(header) else {
                return Ok(());
            };
            payload.resize(length, 0);
            if reader.read_exact(&mut payload).is_err() {
                return Ok(());
            }
            let Ok(stored) = frame::parse_payload(&payload, crc) else {
                return Ok(());
            };
            self.merge_json(stored.positions);
        }
    }

    /// Writes the positions of files that still exist to `dir` (a gone file cannot be resumed).
    pub fn save(&mut self, dir: &Path) {
        self.0.retain(|_, p| p.entry.path.exists());
        let values: Vec<&ReadPosition> = self.0.values().collect();
        let temporary = dir.join("positions.tmp");
        let written = serde_json::to_vec(&values)
            .map_err(io::Error::other)
            .and_then(|json| fs::write(&temporary, json))
            .and_then(|()| fs::rename(&temporary, dir.join(FILE)));
        if let Err(error) = written {
            tracing::warn!(%error, "cannot record the read positions of delivered frames");
        }
    }

    /// The positions of one source's files.
    pub fn of_source(&self, source: &str) -> Vec<ReadPosition> {
        self.0
            .iter()
            .filter(|((s, _), _)| s == source)
            .map(|(_, p)| p.clone())
            .collect()
    }
}
