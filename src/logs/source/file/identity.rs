//! File identity: (device, inode) plus a fingerprint of the first bytes, so that an inode
//! reused by a new file is not mistaken for the old one, and a renamed file is still the
//! same file.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;

/// Bytes hashed into a fingerprint, at most. Enough to tell log files apart by their first
/// line(s), small enough to read on every check.
pub const FINGERPRINT_MAX_BYTES: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

impl FileKey {
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
}

/// CRC-32 of the first `len` bytes. A file shorter than `FINGERPRINT_MAX_BYTES` when first
/// seen has a shorter fingerprint, which grows (`refresh`) once the file does; a file is the
/// same as long as its first `len` bytes hash the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub crc: u32,
}

impl Fingerprint {
    pub const EMPTY: Fingerprint = Fingerprint { len: 0, crc: 0 };

    /// The fingerprint of `file` over its first bytes (up to the maximum).
    pub fn of_file(file: &mut File, size: u64) -> std::io::Result<Self> {
        Self::of_prefix(file, size.min(FINGERPRINT_MAX_BYTES))
    }

    fn of_prefix(file: &mut File, len: u64) -> std::io::Result<Self> {
        let mut prefix = vec![0u8; len as usize];
        let position = file.stream_position()?;
        file.seek(SeekFrom::Start(0))?;
        let read = file.read_exact(&mut prefix);
        file.seek(SeekFrom::Start(position))?;
        read?;
        Ok(Self {
            len,
            crc: crc32fast::hash(&prefix),
        })
    }

    /// Whether `file` (of `size` bytes) still starts with the bytes this fingerprint covers.
    pub fn matches(&self, file: &mut File, size: u64) -> std::io::Result<bool> {
        if size < self.len {
            return Ok(false);
        }
        Ok(Self::of_prefix(file, self.len)? == *self)
    }

    /// A longer fingerprint once the file has grown past this one's length, else `self`.
    pub fn refresh(&self, file: &mut File, size: u64) -> std::io::Result<Self> {
        if self.len >= FINGERPRINT_MAX_BYTES || size <= self.len {
            return Ok(*self);
        }
        Self::of_file(file, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn same_start_same_fingerprint_and_growth_keeps_matching() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"first line\n").unwrap();
        let mut file = File::open(&path).unwrap();
        let short = Fingerprint::of_file(&mut file, 11).unwrap();
        assert_eq!(short.len, 11);

        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        writer.write_all(&[b'x'; 400]).unwrap();
        let size = file.metadata().unwrap().len();
        assert!(short.matches(&mut file, size).unwrap());
        let long = short.refresh(&mut file, size).unwrap();
        assert_eq!(long.len, FINGERPRINT_MAX_BYTES);
        assert!(long.matches(&mut file, size).unwrap());
    }

    #[test]
    fn a_different_or_shorter_start_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"first line\n").unwrap();
        let mut file = File::open(&path).unwrap();
        let fingerprint = Fingerprint::of_file(&mut file, 11).unwrap();
        std::fs::write(&path, b"other line\n").unwrap();
        assert!(!fingerprint.matches(&mut file, 11).unwrap());
        std::fs::write(&path, b"fir").unwrap();
        assert!(!fingerprint.matches(&mut file, 3).unwrap());
    }
}
