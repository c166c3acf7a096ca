//! Checkpoints: per file identity, the offset just past the last line whose delivery was
//! acknowledged. One file per source under `data_dir/checkpoints/`, written atomically
//! (temp file, fsync, rename, directory fsync) and checksummed; the previous generation is kept
//! as `<name>.prev` to fall back on.
//!
//! Format: a header line `vigia-checkpoint 1 crc32=<8 hex> bytes=<n>` then `n` bytes of JSON.
//!
//! Recovery (see docs/file-tailing.md): a corrupt or truncated current file → warning, the
//! previous generation is used (lines acknowledged since then are sent again); both corrupt →
//! error, both are moved aside as `*.corrupt`, and the source starts as on a first start.

use super::identity::{FileKey, Fingerprint};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &str = "vigia-checkpoint";
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    pub key: FileKey,
    pub fingerprint: Fingerprint,
    pub offset: u64,
    /// Where the file was last seen (to find it again after a rotation while stopped).
    pub path: PathBuf,
    /// The file's name for its whole life: its path when it was discovered. Its lines carry
    /// it, so a line read again after a rotation and a restart is sent exactly as the first
    /// time (Loki then drops it as a duplicate). Absent in checkpoints of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    files: Vec<CheckpointEntry>,
}

/// What loading found.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// No checkpoint at all: the source's first start.
    FirstStart,
    Current(Vec<CheckpointEntry>),
    /// The current file was unusable (the reason); the previous generation was used.
    Previous(Vec<CheckpointEntry>, String),
    /// Neither generation was usable (the reason); both were moved aside.
    Reset(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct CheckpointStore {
    current: PathBuf,
    previous: PathBuf,
    temporary: PathBuf,
}

impl CheckpointStore {
    pub fn new(data_dir: &Path, source_id: &str) -> Self {
        let dir = data_dir.join("checkpoints");
        Self {
            current: dir.join(format!("{source_id}.json")),
            previous: dir.join(format!("{source_id}.json.prev")),
            temporary: dir.join(format!("{source_id}.json.tmp")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.current
    }

    pub fn load(&self) -> Loaded {
        let current = read_checkpoint(&self.current);
        let previous = || read_checkpoint(&self.previous);
        match current {
            Ok(Some(entries)) => Loaded::Current(entries),
            Ok(None) => match previous() {
                Ok(Some(entries)) => {
                    Loaded::Previous(entries, format!("{} is missing", self.current.display()))
                }
                Ok(None) => Loaded::FirstStart,
                Err(reason) => self.reset(format!(
                    "{} is missing and {reason}",
                    self.current.display()
                )),
            },
            Err(current_reason) => match previous() {
                Ok(Some(entries)) => Loaded::Previous(entries, current_reason),
                Ok(None) => self.reset(current_reason),
                Err(previous_reason) => self.reset(format!("{current_reason}; {previous_reason}")),
            },
        }
    }

    fn reset(&self, reason: String) -> Loaded {
        for path in [&self.current, &self.previous] {
            if path.exists() {
                let mut aside = path.clone().into_os_string();
                aside.push(".corrupt");
                let _ = fs::rename(path, aside);
            }
        }
        Loaded::Reset(reason)
    }

    /// Writes `entries` atomically; the file replaced becomes the previous generation.
    pub fn save(&self, entries: &[CheckpointEntry]) -> Result<(), CheckpointError> {
        let error = |source| CheckpointError::Write {
            path: self.current.clone(),
            source,
        };
        let dir = self
            .current
            .parent()
            .expect("checkpoint paths have a directory");
        fs::create_dir_all(dir).map_err(error)?;
        let body = serde_json::to_vec(&Body {
            files: entries.to_vec(),
        })
        .expect("checkpoint entries serialize");
        let header = format!(
            "{MAGIC} {VERSION} crc32={:08x} bytes={}\n",
            crc32fast::hash(&body),
            body.len()
        );
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.temporary)
            .map_err(error)?;
        file.write_all(header.as_bytes()).map_err(error)?;
        file.write_all(&body).map_err(error)?;
        file.sync_all().map_err(error)?;
        drop(file);
        if self.current.exists() {
            fs::rename(&self.current, &self.previous).map_err(error)?;
        }
        fs::rename(&self.temporary, &self.current).map_err(error)?;
        // The renames are durable only once the directory is synced.
        File::open(dir).and_then(|d| d.sync_all()).map_err(error)?;
        Ok(())
    }
}

/// `Ok(None)` when the file does not exist; `Err(reason)` when it is unusable.
fn read_checkpoint(path: &Path) -> Result<Option<Vec<CheckpointEntry>>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("{} cannot be read: {error}", path.display())),
    };
    let bad = |why: &str| format!("{} is corrupt ({why})", path.display());
    let newline = memchr::memchr(b'\n', &bytes).ok_or_else(|| bad("no header line"))?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| bad("header is not text"))?;
    let mut fields = header.split(' ');
    if fields.next() != Some(MAGIC) {
        return Err(bad("not a vigia checkpoint"));
    }
    if fields.next() != Some("1") {
        return Err(bad("unknown version"));
    }
    let crc = fields
        .next()
        .and_then(|f| f.strip_prefix("crc32="))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| bad("no checksum"))?;
    let length: usize = fields
        .next()
        .and_then(|f| f.strip_prefix("bytes="))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad("no length"))?;
    let body = &bytes[newline + 1..];
    if body.len() != length {
        return Err(bad(&format!(
            "{} bytes of body, expected {length}: truncated",
            body.len()
        )));
    }
    if crc32fast::hash(body) != crc {
        return Err(bad("checksum mismatch"));
    }
    let parsed: Body =
        serde_json::from_slice(body).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    Ok(Some(parsed.files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ino: u64, offset: u64) -> CheckpointEntry {
        CheckpointEntry {
            key: FileKey { dev: 1, ino },
            fingerprint: Fingerprint { len: 10, crc: 7 },
            offset,
            path: PathBuf::from(format!("/var/log/app/{ino}.log")),
            name: None,
        }
    }

    #[test]
    fn first_start_then_round_trip_with_previous_generation_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "app");
        assert_eq!(store.load(), Loaded::FirstStart);
        store.save(&[entry(1, 100)]).unwrap();
        store.save(&[entry(1, 200), entry(2, 5)]).unwrap();
        assert_eq!(
            store.load(),
            Loaded::Current(vec![entry(1, 200), entry(2, 5)])
        );
        assert!(store.previous.exists());
        assert!(!store.temporary.exists());
    }

    #[test]
    fn a_corrupt_current_file_falls_back_to_the_previous_generation() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "app");
        store.save(&[entry(1, 100)]).unwrap();
        store.save(&[entry(1, 200)]).unwrap();
        let mut bytes = fs::read(store.path()).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x55; // a flipped bit in the body
        fs::write(store.path(), &bytes).unwrap();
        match store.load() {
            Loaded::Previous(entries, reason) => {
                assert_eq!(entries, vec![entry(1, 100)]);
                assert!(reason.contains("checksum mismatch"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_truncated_file_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "app");
        store.save(&[entry(1, 100)]).unwrap();
        let bytes = fs::read(store.path()).unwrap();
        fs::write(store.path(), &bytes[..bytes.len() - 10]).unwrap();
        match store.load() {
            Loaded::Previous(_, reason) | Loaded::Reset(reason) => {
                assert!(reason.contains("truncated"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_generations_corrupt_resets_loudly_and_moves_them_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "app");
        store.save(&[entry(1, 100)]).unwrap();
        store.save(&[entry(1, 200)]).unwrap();
        fs::write(store.path(), b"garbage").unwrap();
        fs::write(&store.previous, b"").unwrap();
        assert!(matches!(store.load(), Loaded::Reset(_)));
        assert!(!store.path().exists());
        assert!(dir.path().join("checkpoints/app.json.corrupt").exists());
        // After a reset the next load is a first start, and saving works again.
        assert_eq!(store.load(), Loaded::FirstStart);
        store.save(&[entry(3, 1)]).unwrap();
        assert_eq!(store.load(), Loaded::Current(vec![entry(3, 1)]));
    }

    #[test]
    fn a_missing_current_file_uses_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path(), "app");
        store.save(&[entry(1, 100)]).unwrap();
        store.save(&[entry(1, 200)]).unwrap();
        fs::remove_file(store.path()).unwrap();
        assert!(
            matches!(store.load(), Loaded::Previous(entries, _) if entries == vec![entry(1, 100)])
        );
    }
}
