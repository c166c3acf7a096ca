//! The tailer's side of copytruncate (see [`super::super::copies`]): noticing a truncation,
//! handing the live file's unread tail over to its copy, and the same after a restart.

use super::{FileState, Tailer};
use crate::logs::frame::CompleteLine;
use crate::logs::source::file::checkpoint::CheckpointEntry;
use crate::logs::source::file::copies::{self, FoundCopy, named_as_copy_of};
use crate::logs::source::file::identity::{FINGERPRINT_MAX_BYTES, FileKey, Fingerprint};
use crate::logs::source::file::progress::Progress;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

impl Tailer {
    /// Whether the open file `key` was truncated since the last look (shorter than what was
    /// read, or grown back with other first bytes); if so, its size at the last look.
    pub(super) fn truncated(&mut self, key: FileKey) -> Option<u64> {
        let tailed = self.files.get_mut(&key)?;
        let file = tailed.file.as_mut()?;
        let metadata = file.metadata().ok()?;
        let size = metadata.len();
        let previous_size = tailed.size;
        let modified = metadata.modified().ok();
        let changed = size != previous_size || modified != tailed.modified;
        tailed.size = size;
        tailed.modified = modified;
        let replaced = changed
            && tailed.fingerprint.len > 0
            && !tailed.fingerprint.matches(file, size).unwrap_or(true);
        // Files only grow: any shrink is a truncation, read or not.
        if size < tailed.read_offset || size < previous_size || replaced {
            return Some(previous_size);
        }
        if changed
            && tailed.fingerprint.len < FINGERPRINT_MAX_BYTES
            && size > tailed.fingerprint.len
        {
            // Grown, unread maybe: its first bytes are taken now, so that its copy can be told
            // by them if it is truncated before it is read.
            let position = tailed.read_offset;
            let grown = Fingerprint::of_file(file, size).unwrap_or(tailed.fingerprint);
            self.checkpoint_dirty |= grown != tailed.fingerprint;
            tailed.fingerprint = grown;
            let _ = file.seek(SeekFrom::Start(position));
        }
        None
    }

    /// Discovery looks at every open live file for a truncation, also while nothing is read
    /// (the pipeline full): each copytruncate's copy is found while it is still there, and read
    /// in turn once reading resumes.
    pub(super) fn notice_truncations(&mut self, now: Instant) {
        let live: Vec<FileKey> = self
            .files
            .iter()
            .filter(|(_, f)| f.file.is_some() && f.state == FileState::Active)
            .map(|(k, _)| *k)
            .collect();
        for key in live {
            if let Some(previous_size) = self.truncated(key) {
                let mut events = Vec::new();
                self.on_truncation(key, previous_size, now, &mut events);
                if !events.is_empty() {
                    self.stashed.push((key, events));
                }
            }
        }
    }

    /// The live file `key` was truncated: its unread tail is read from its copy (if there is
    /// one) before the live file is read again from 0.
    pub(super) fn on_truncation(
        &mut self,
        key: FileKey,
        previous_size: u64,
        now: Instant,
        events: &mut Vec<CompleteLine>,
    ) {
        self.metrics.truncations.inc();
        let Some(live) = self.files.get(&key) else {
            return;
        };
        let (fingerprint, read_offset, path) =
            (live.fingerprint, live.read_offset, live.path.clone());
        let waiting = self
            .files
            .iter()
            .find(|(_, f)| f.copy_of == Some(key))
            .map(|(k, _)| *k);
        let copy = match waiting {
            Some(copy) => Some(copy),
            None => self.find_copy(&path, fingerprint, read_offset, key),
        };
        let framer = self.framer_at(0);
        let live = self.files.get_mut(&key).expect("looked up above");
        let old_framer = std::mem::replace(&mut live.framer, framer);
        let old_progress = std::mem::replace(&mut live.progress, Progress::starting_at(0));
        live.read_offset = 0;
        // The new content's first bytes: a second truncation before any of it is read still
        // finds its copy by them.
        live.fingerprint = match live.file.as_mut() {
            Some(file) => {
                let size = file.metadata().map_or(0, |m| m.len());
                let fingerprint = Fingerprint::of_file(file, size).unwrap_or(Fingerprint::EMPTY);
                let _ = file.seek(SeekFrom::Start(0));
                fingerprint
            }
            None => Fingerprint::EMPTY,
        };
        self.checkpoint_dirty = true;
        let Some(copy_key) = copy else {
            // No copy: what was not read is gone. The events the framer held were read, and
            // are emitted.
            let mut old_framer = old_framer;
            old_framer.finish(now, events);
            let unread = previous_size.saturating_sub(read_offset);
            if unread > 0 {
                self.metrics.unread_released("truncated", unread);
                tracing::warn!(
                    source = %self.settings.source_id,
                    file = %path.display(),
                    unread_bytes = unread,
                    "file truncated (copytruncate) before it was read to its end, and no copy was found in its directory; its unread bytes are lost"
                );
            }
            return;
        };
        // The copy goes on exactly where the live file was: same offset, the framer's held
        // lines, the batches in flight, and the same name on its lines.
        let (name, origin) = (live.name.clone(), live.origin.clone());
        // Copies are read in the order they were made, then the live file.
        let before_copy = live.after.replace(copy_key);
        for (owner, _) in self.batch_owner.values_mut() {
            if *owner == key {
                *owner = copy_key;
            }
        }
        let copy = self.files.get_mut(&copy_key).expect("tracked above");
        if let Some(file) = copy.file.as_mut() {
            let _ = file.seek(SeekFrom::Start(read_offset));
        }
        copy.copy_of = None;
        copy.after = before_copy.filter(|k| *k != copy_key);
        copy.read_offset = read_offset;
        copy.fingerprint = fingerprint;
        copy.framer = old_framer;
        copy.progress = old_progress;
        copy.name = name;
        copy.origin = origin;
        copy.at_end = false;
        copy.initial = false;
        copy.state = FileState::Rotated { since: now };
        self.metrics.copies_read.inc();
        tracing::info!(
            source = %self.settings.source_id,
            file = %path.display(),
            copy = %self.files[&copy_key].path.display(),
            "file truncated (copytruncate): reading the rest of its copy first"
        );
    }

    /// Finds the copy in `path`'s directory and tracks it, open, if it is not tracked yet.
    fn find_copy(
        &mut self,
        path: &Path,
        fingerprint: Fingerprint,
        read_offset: u64,
        live: FileKey,
    ) -> Option<FileKey> {
        // A tracked file is not a candidate while its handle pins its inode; once released,
        // its inode number may belong to a new file (the copy, say).
        let found = copies::find(path, fingerprint, read_offset, |k| {
            k == live || self.files.get(&k).is_some_and(|f| f.file.is_some())
        })?;
        Some(self.track_copy(found))
    }

    fn track_copy(&mut self, found: FoundCopy) -> FileKey {
        let FoundCopy {
            path,
            key,
            size,
            file,
        } = found;
        self.add_file(path, key, None, false, size);
        self.open_queue.retain(|k| *k != key);
        let tailed = self.files.get_mut(&key).expect("just added");
        tailed.wants_open = false;
        tailed.file = Some(file);
        key
    }

    /// After a restart, `entry`'s file (now `key`) was found truncated: the copy of what it was
    /// then is looked for, and its rest read from the checkpoint offset before `key`.
    pub(super) fn adopt_copy_after_restart(&mut self, key: FileKey, entry: &CheckpointEntry) {
        let found = copies::find(&entry.path, entry.fingerprint, entry.offset, |k| {
            k == key || self.files.get(&k).is_some_and(|f| f.file.is_some())
        });
        let Some(found) = found else {
            tracing::warn!(
                source = %self.settings.source_id,
                file = %entry.path.display(),
                "file truncated while vigia was stopped, and no copy was found in its directory; lines written after the last checkpoint and before the truncation are lost"
            );
            return;
        };
        let copy_key = found.key;
        let mut resumed = entry.clone();
        resumed.key = copy_key;
        // Its lines keep the name the live file gave them.
        resumed.name = Some(entry.name.clone().unwrap_or_else(|| entry.path.clone()));
        self.resume.insert(copy_key, resumed);
        if let Some(known) = self.files.remove(&copy_key) {
            // Discovered in the same scan as a new file: taken back, to be opened as the copy.
            self.open_queue.retain(|k| *k != copy_key);
            if self.by_path.get(&known.path) == Some(&copy_key) {
                self.by_path.remove(&known.path);
            }
        }
        let path = found.path.clone();
        drop(found);
        self.add_file(path, copy_key, None, false, entry.offset);
        if let Some(live) = self.files.get_mut(&key) {
            live.after = Some(copy_key);
        }
        self.metrics.copies_read.inc();
        self.open_waiting();
    }

    /// A new file that starts with the same bytes as a live file in its directory is a copy
    /// being made: it waits, unread, for the live file's truncation.
    pub(super) fn mark_if_copy(&mut self, key: FileKey, fingerprint: Fingerprint) {
        if fingerprint.len < 64 {
            return; // Too little to tell a copy from a file that happens to start alike.
        }
        let Some(path) = self.files.get(&key).map(|f| f.path.clone()) else {
            return;
        };
        let original = self.files.iter_mut().find_map(|(other, f)| {
            if *other == key
                || f.file.is_none()
                || f.state != FileState::Active
                || f.copy_of.is_some()
                || f.fingerprint.len < fingerprint.len
                || f.path.parent() != path.parent()
                || !named_as_copy_of(&path, &f.path)
            {
                return None;
            }
            let file = f.file.as_mut()?;
            let size = file.metadata().ok()?.len();
            fingerprint
                .matches(file, size)
                .unwrap_or(false)
                .then_some(*other)
        });
        if let (Some(original), Some(copy)) = (original, self.files.get_mut(&key)) {
            copy.copy_of = Some(original);
        }
    }

    /// A waiting copy whose live file is no longer read (rotated, deleted, closed) will never
    /// get its tail handed over: it is read from where the live file was read to (the bytes
    /// before are the live file's, already read), or whole if the live file is gone.
    pub(super) fn resolve_orphan_copies(&mut self) {
        let orphans: Vec<(FileKey, Option<u64>)> = self
            .files
            .iter()
            .filter_map(|(key, f)| {
                let live_key = f.copy_of?;
                match self.files.get(&live_key) {
                    Some(live) if live.file.is_some() && live.state == FileState::Active => None,
                    Some(live) => Some((*key, Some(live.read_offset))),
                    None => Some((*key, None)),
                }
            })
            .collect();
        for (key, read_to) in orphans {
            let Some(size) = self.files.get(&key).map(|c| c.size) else {
                continue;
            };
            let offset = read_to.unwrap_or(0).min(size);
            let framer = self.framer_at(offset);
            let copy = self.files.get_mut(&key).expect("looked up above");
            copy.copy_of = None;
            if let Some(file) = copy.file.as_mut()
                && file.seek(SeekFrom::Start(offset)).is_ok()
            {
                copy.read_offset = offset;
                copy.progress = Progress::starting_at(offset);
                copy.framer = framer;
            }
        }
    }
}
