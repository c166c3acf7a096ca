//! copytruncate without loss: when a file is found truncated, the lines it held that vigia had
//! not read yet are in the copy logrotate made just before (`app.log` → `app.log.1`, or
//! `app.log-20261128`). The copy is the file in the same directory that starts with the old
//! first bytes (the fingerprint) and is at least as long as what was read; its unread tail is
//! read first, then the live file from 0. The copy's name need not be in `include`.

use super::identity::{FileKey, Fingerprint};
use std::fs::File;
use std::path::{Path, PathBuf};

/// A copy found: its path, identity, size and an open handle (which keeps it readable even if
/// it is compressed or deleted next).
pub struct FoundCopy {
    pub path: PathBuf,
    pub key: FileKey,
    pub size: u64,
    pub file: File,
}

/// Looks in the directory of `live` for the copy of a file that started with `fingerprint` and was read up to
/// `read_offset`. `skip` says which identities are not candidates (the live file itself, and
/// files already being read for their own sake).
pub fn find(
    live: &Path,
    fingerprint: Fingerprint,
    read_offset: u64,
    skip: impl Fn(FileKey) -> bool,
) -> Option<FoundCopy> {
    if fingerprint.len == 0 {
        return None;
    }
    let listing = std::fs::read_dir(live.parent()?).ok()?;
    // Newest first: with several generations kept, the copy just made is the likeliest.
    let mut candidates: Vec<(std::time::SystemTime, PathBuf, std::fs::Metadata)> = listing
        .filter_map(Result::ok)
        .filter_map(|entry| {
            // Never through a link: the copy is a regular file logrotate wrote.
            let metadata = entry.metadata().ok()?;
            (metadata.is_file() && metadata.len() >= read_offset.max(fingerprint.len)).then(|| {
                let modified = metadata.modified().unwrap_or(std::time::UNIX_EPOCH);
                (modified, entry.path(), metadata)
            })
        })
        .filter(|(_, _, metadata)| !skip(FileKey::of(metadata)))
        .collect();
    // Named like a copy of the live file first (a file that merely starts alike is a last
    // resort), then newest first.
    candidates.sort_by_key(|c| (!named_as_copy_of(&c.1, live), std::cmp::Reverse(c.0)));
    candidates.into_iter().find_map(|(_, path, metadata)| {
        let mut file = File::open(&path).ok()?;
        let key = FileKey::of(&file.metadata().ok()?);
        if key != FileKey::of(&metadata) {
            return None;
        }
        let size = file.metadata().ok()?.len();
        fingerprint
            .matches(&mut file, size)
            .unwrap_or(false)
            .then_some(FoundCopy {
                path,
                key,
                size,
                file,
            })
    })
}

/// Whether `candidate` is named as logrotate names a copy of `live`: the live file's name up
/// to its first dot starts it (`app.log.1`, `app.log-20261128`, `app-20261128.log`). Files
/// that merely start with the same bytes (replicas writing the same banner) are not copies.
pub fn named_as_copy_of(candidate: &Path, live: &Path) -> bool {
    let (Some(candidate), Some(live)) = (
        candidate.file_name().and_then(|n| n.to_str()),
        live.file_name().and_then(|n| n.to_str()),
    ) else {
        return false;
    };
    let stem = live.split('.').next().unwrap_or(live);
    candidate != live && candidate.starts_with(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_the_file_with_the_old_first_bytes_and_enough_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let first = b"2026-11-28T10:00:00Z first line of the old content\n".repeat(8);
        std::fs::write(&live, &first).unwrap();
        let mut handle = File::open(&live).unwrap();
        let fingerprint = Fingerprint::of_file(&mut handle, first.len() as u64).unwrap();
        let live_key = FileKey::of(&handle.metadata().unwrap());
        // The copy, an older generation with other bytes, and a copy cut short.
        std::fs::write(dir.path().join("app.log.1"), &first).unwrap();
        std::fs::write(dir.path().join("app.log.2"), b"older content\n".repeat(40)).unwrap();
        std::fs::write(dir.path().join("short"), &first[..300]).unwrap();
        std::fs::write(&live, b"").unwrap();

        let found = find(&live, fingerprint, first.len() as u64, |k| k == live_key).unwrap();
        assert_eq!(found.path, dir.path().join("app.log.1"));
        assert_eq!(found.size, first.len() as u64);
        assert!(
            find(&live, fingerprint, first.len() as u64 + 1, |k| k
                == live_key)
            .is_none(),
            "a copy shorter than what was read is not the copy"
        );
        let partial = find(&live, fingerprint, 10, |k| k == live_key || k == found.key);
        assert_eq!(partial.unwrap().path, dir.path().join("short"));
    }

    #[test]
    fn copies_are_named_after_the_live_file() {
        let live = Path::new("/var/log/app.log");
        for copy in [
            "app.log.1",
            "app.log-20261128",
            "app-20261128.log",
            "app.1.log",
        ] {
            assert!(
                named_as_copy_of(&Path::new("/var/log").join(copy), live),
                "{copy}"
            );
        }
        for other in ["svc.log", "app.log", "worker-app.log"] {
            assert!(
                !named_as_copy_of(&Path::new("/var/log").join(other), live),
                "{other}"
            );
        }
    }
}
