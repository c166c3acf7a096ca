//! The tailer: synchronous, driven by a loop (`super::run`) or directly by tests.
//!
//! It knows every file by identity ([`FileKey`] + [`Fingerprint`]), reads them in turn with a
//! byte budget, frames what it reads into events, hands out batches with ack tokens, and
//! moves each file's checkpoint only across acknowledged batches.
//!
//! Rotation: when a watched path names a new file, the old one is kept open and read to its
//! end (and for `rotate_wait` more, in case the writer still flushes into it) before it is
//! released; the new file is read only once the old one has reached its end, so lines stay in
//! order. A renamed file is the same file. A file shorter than the read offset was truncated
//! (copytruncate): reading restarts at 0. A deleted file is read to its end and released
//! `rotate_wait` after the deletion was noticed (a writer may still hold it open briefly).

mod copytruncate;

use super::checkpoint::{CheckpointEntry, CheckpointStore, Loaded};
use super::discovery::{Discovery, FollowSymlinks};
use super::identity::{FileKey, Fingerprint};
use super::progress::Progress;
use crate::logs::frame::{CompleteLine, ContainerFormat, Framer, MultilineSettings};
use crate::logs::kubernetes;
use crate::logs::pipeline::{
    Ack, AckReceiver, Acker, BatchStatus, LineBatch, Origin, ReadPosition,
};
use crate::logs::timestamp::now_nanos;
use crate::telemetry::agent_metrics::{FileSourceMetrics, SourceCounters};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where to start a file seen for the first time on the source's first start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    Beginning,
    End,
}

#[derive(Debug, Clone)]
pub struct TailerSettings {
    pub source_id: Arc<str>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub read_from: ReadFrom,
    pub container: ContainerFormat,
    pub multiline: MultilineSettings,
    pub max_line_bytes: usize,
    pub max_open_files: usize,
    pub rotate_wait: Duration,
    pub batch_max_events: usize,
    /// Most bytes read from one file in one turn, so one busy file cannot starve the others.
    pub read_budget_bytes: usize,
    pub follow_symlinks: FollowSymlinks,
    /// Directories links may point into besides the include roots.
    pub symlink_roots: Vec<PathBuf>,
}

/// What the tailer says about itself, for the driver to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    CheckpointPrevious(String),
    CheckpointReset(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileState {
    /// The path still names this file.
    Active,
    /// Another file took its path, or it left the include set, at `since`.
    Rotated { since: Instant },
}

pub(super) struct Tailed {
    pub(super) path: PathBuf,
    /// The path at discovery: the name its lines carry for the file's whole life.
    name: PathBuf,
    pub(super) fingerprint: Fingerprint,
    pub(super) file: Option<File>,
    pub(super) read_offset: u64,
    pub(super) size: u64,
    /// Modification time at the last look: a file truncated and written back to the same
    /// size is told by it.
    pub(super) modified: Option<std::time::SystemTime>,
    pub(super) framer: Framer,
    origin: Arc<Origin>,
    progress: Progress,
    state: FileState,
    /// The file that had this path before; this one waits until that one is read to its end.
    after: Option<FileKey>,
    at_end: bool,
    /// Waiting in the open queue (the open-file cap is reached).
    wants_open: bool,
    /// Found by the first scan of a first start: `read_from` applies to it.
    initial: bool,
    /// Rotated, read to its end and flushed: its handle is released.
    release: bool,
    /// Matched by the last discovery. A released file that still matches stays known (at its
    /// end) so a restart does not read it again; one that is gone is forgotten.
    matched: bool,
    /// Starts with the same bytes as this live file: a copytruncate copy being made. It waits,
    /// unread, until the live file is truncated (then it holds the live file's unread tail)
    /// or stops being read.
    copy_of: Option<FileKey>,
    /// Had to wait for a handle, or gave its handle up, under `max_open_files`.
    starved: bool,
}

pub struct Tailer {
    settings: TailerSettings,
    discovery: Discovery,
    store: CheckpointStore,
    files: BTreeMap<FileKey, Tailed>,
    by_path: HashMap<PathBuf, FileKey>,
    /// Checkpoint entries not matched to a file yet (from the last start).
    resume: HashMap<FileKey, CheckpointEntry>,
    /// Newer positions than the checkpoint's, from the sinks' disk buffers: where lines already
    /// safe there end. A file resumes from the furthest entry that still fits it.
    durable: HashMap<FileKey, CheckpointEntry>,
    first_start: bool,
    scanned_once: bool,
    /// A whole discovery (scan and opens) has finished since start.
    startup_done: bool,
    acker: Option<Acker>,
    acks: AckReceiver,
    /// Per batch in flight: its file and how many events it holds.
    batch_owner: HashMap<u64, (FileKey, u64)>,
    checkpoint_dirty: bool,
    /// Files waiting for an open slot, in discovery order.
    open_queue: VecDeque<FileKey>,
    next_turn: usize,
    read_buffer: Vec<u8>,
    counters: SourceCounters,
    metrics: FileSourceMetrics,
    notices: Vec<Notice>,
    /// Links refused by the last discovery (each warned about and counted once).
    refused_links: HashSet<PathBuf>,
    /// Why the last checkpoint write failed, until one succeeds.
    checkpoint_error: Option<String>,
    /// Events framed outside `poll` (a truncation noticed by discovery), batched by the next.
    stashed: Vec<(FileKey, Vec<CompleteLine>)>,
}

impl Tailer {
    pub fn new(
        settings: TailerSettings,
        store: CheckpointStore,
        counters: SourceCounters,
        metrics: FileSourceMetrics,
    ) -> Result<Self, globset::Error> {
        let discovery = Discovery::with_symlinks(
            &settings.include,
            &settings.exclude,
            settings.follow_symlinks,
            &settings.symlink_roots,
        )?;
        let mut notices = Vec::new();
        let (entries, first_start) = match store.load() {
            Loaded::FirstStart => (Vec::new(), true),
            Loaded::Current(entries) => (entries, false),
            Loaded::Previous(entries, reason) => {
                metrics.checkpoint_corrupt.inc();
                notices.push(Notice::CheckpointPrevious(reason));
                (entries, false)
            }
            Loaded::Reset(reason) => {
                metrics.checkpoint_corrupt.inc();
                notices.push(Notice::CheckpointReset(reason));
                (Vec::new(), true)
            }
        };
        let (acker, acks) = Acker::new();
        Ok(Self {
            discovery,
            store,
            files: BTreeMap::new(),
            by_path: HashMap::new(),
            resume: entries.into_iter().map(|e| (e.key, e)).collect(),
            durable: HashMap::new(),
            first_start,
            scanned_once: false,
            startup_done: false,
            acker: Some(acker),
            acks,
            batch_owner: HashMap::new(),
            checkpoint_dirty: false,
            open_queue: VecDeque::new(),
            next_turn: 0,
            read_buffer: vec![0; 64 * 1024],
            counters,
            metrics,
            notices,
            refused_links: HashSet::new(),
            checkpoint_error: None,
            stashed: Vec::new(),
            settings,
        })
    }

    /// Positions the sinks made durable after the last checkpoint was written (their disk
    /// buffers record them with each frame): the source resumes from there, so lines already
    /// in a buffer are not read and sent again. Call before the first discovery.
    pub fn resume_durable(&mut self, entries: Vec<CheckpointEntry>) {
        for entry in entries {
            if self.resume.contains_key(&entry.key) {
                self.durable.insert(entry.key, entry);
            } else {
                self.first_start = false;
                self.resume.insert(entry.key, entry);
            }
        }
    }

    /// Why checkpoints cannot be written, while they cannot.
    pub fn checkpoint_error(&self) -> Option<&str> {
        self.checkpoint_error.as_deref()
    }

    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub fn base_dirs(&self) -> Vec<PathBuf> {
        self.discovery.base_dirs().map(Path::to_path_buf).collect()
    }

    /// Finds the files that match now and reconciles them with the ones known.
    pub fn discover(&mut self, now: Instant) {
        let initial = self.first_start && !self.scanned_once;
        let scan = self.discovery.scan();
        self.note_refused_links(scan.refused_links);
        let mut seen = HashSet::with_capacity(scan.files.len());
        for path in scan.files {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let key = FileKey::of(&metadata);
            seen.insert(key);
            if let Some(known) = self.files.get_mut(&key) {
                known.matched = true;
                if known.path != path {
                    // Renamed within the include set: still the same file.
                    known.path = path.clone();
                }
                if known.file.is_none() && !known.wants_open && metadata.len() != known.read_offset
                {
                    known.wants_open = true;
                    self.open_queue.push_back(key);
                }
                self.by_path.insert(path, key);
                continue;
            }
            let previous = self.by_path.get(&path).copied();
            if let Some(old) = previous.and_then(|k| self.files.get_mut(&k))
                && old.state == FileState::Active
            {
                old.state = FileState::Rotated { since: now };
                self.metrics.rotations.inc();
            }
            self.add_file(path, key, previous, initial, metadata.len());
        }
        for (key, known) in &mut self.files {
            known.matched = seen.contains(key);
            if known.state == FileState::Active && !known.matched {
                // Renamed out of the include set, or deleted.
                known.state = FileState::Rotated { since: now };
                self.metrics.rotations.inc();
            }
        }
        if !self.scanned_once {
            self.scanned_once = true;
            self.find_rotated_while_stopped(now);
        }
        self.open_waiting();
        self.notice_truncations(now);
        self.startup_done = true;
        self.metrics.files_watched.set(self.files.len() as i64);
    }

    /// Warns about and counts each link refused, once while it stays there.
    fn note_refused_links(&mut self, refused: std::collections::BTreeSet<PathBuf>) {
        let now: HashSet<PathBuf> = refused.into_iter().collect();
        for link in now.difference(&self.refused_links) {
            self.metrics.symlinks_refused.inc();
            tracing::warn!(
                source = %self.settings.source_id,
                link = %link.display(),
                target = %std::fs::canonicalize(link).map(|t| t.display().to_string()).unwrap_or_default(),
                "not following a symbolic link whose target is outside the include roots (follow_symlinks, symlink_roots)"
            );
        }
        self.refused_links = now;
    }

    /// A file in the last run's checkpoint that no longer matches (rotated while the agent was
    /// stopped) is looked for by identity in its directory, and the rest of it is read.
    fn find_rotated_while_stopped(&mut self, now: Instant) {
        let unmatched: Vec<CheckpointEntry> = self
            .resume
            .values()
            .filter(|e| !self.files.contains_key(&e.key))
            .cloned()
            .collect();
        for entry in unmatched {
            let Some(found) = find_by_identity(&entry) else {
                self.resume.remove(&entry.key);
                continue;
            };
            // The file now at its old path (if any) waits until this one is read to its end.
            if let Some(successor) = self.by_path.get(&entry.path).copied()
                && let Some(next) = self.files.get_mut(&successor)
            {
                next.after = Some(entry.key);
            }
            let size = std::fs::metadata(&found).map_or(0, |m| m.len());
            self.add_file(found, entry.key, None, false, size);
            if let Some(file) = self.files.get_mut(&entry.key) {
                file.state = FileState::Rotated { since: now };
            }
        }
    }

    pub(super) fn add_file(
        &mut self,
        path: PathBuf,
        key: FileKey,
        after: Option<FileKey>,
        initial: bool,
        size: u64,
    ) {
        // A file known from the checkpoint keeps the name it had then.
        let name = self
            .resume
            .get(&key)
            .or_else(|| self.durable.get(&key))
            .and_then(|entry| entry.name.clone())
            .unwrap_or_else(|| path.clone());
        let origin = Arc::new(Origin {
            source_id: self.settings.source_id.clone(),
            file: Some(Arc::from(name.to_string_lossy().as_ref())),
            kubernetes: kubernetes::from_path(&name).map(Arc::new),
        });
        self.by_path.insert(path.clone(), key);
        self.files.insert(
            key,
            Tailed {
                path,
                name,
                fingerprint: Fingerprint::EMPTY,
                file: None,
                read_offset: 0,
                size,
                modified: None,
                framer: self.framer_at(0),
                origin,
                progress: Progress::starting_at(0),
                state: FileState::Active,
                after,
                at_end: false,
                wants_open: true,
                initial,
                release: false,
                matched: true,
                copy_of: None,
                starved: false,
            },
        );
        self.open_queue.push_back(key);
    }

    pub(super) fn framer_at(&self, offset: u64) -> Framer {
        Framer::new(
            self.settings.container,
            self.settings.multiline.clone(),
            self.settings.max_line_bytes,
            offset,
        )
    }

    /// Opens waiting files while there is room under `max_open_files`; when there is none,
    /// idle files (read to their end) make room.
    fn open_waiting(&mut self) {
        let mut open = self.files.values().filter(|f| f.file.is_some()).count();
        // Files read to their end, whose handles may go to waiting files: found once, not
        // once per file opened (a node agent may know tens of thousands).
        let mut idle: Option<Vec<FileKey>> = None;
        while let Some(&key) = self.open_queue.front() {
            if open >= self.settings.max_open_files {
                let idle = idle.get_or_insert_with(|| {
                    self.files
                        .iter()
                        .filter(|(_, f)| {
                            f.file.is_some() && f.at_end && f.state == FileState::Active
                        })
                        .map(|(k, _)| *k)
                        .collect()
                });
                match idle.pop().and_then(|k| self.files.get_mut(&k)) {
                    Some(tailed) => {
                        tailed.file = None;
                        tailed.starved = true;
                        open -= 1;
                    }
                    None => {
                        for waiting in &self.open_queue {
                            if let Some(tailed) = self.files.get_mut(waiting) {
                                tailed.starved = true;
                            }
                        }
                        break;
                    }
                }
            }
            self.open_queue.pop_front();
            if self.open_file(key) {
                open += 1;
            }
        }
        let open = self.files.values().filter(|f| f.file.is_some()).count();
        self.metrics.files_open.set(open as i64);
    }

    /// Opens a known file and decides where to read from. Returns whether it is open.
    fn open_file(&mut self, key: FileKey) -> bool {
        let settings = &self.settings;
        let Some(tailed) = self.files.get_mut(&key) else {
            return false;
        };
        tailed.wants_open = false;
        let Ok(mut file) = File::open(&tailed.path) else {
            return false;
        };
        let Ok(metadata) = file.metadata() else {
            return false;
        };
        if FileKey::of(&metadata) != key {
            // The path names another file by now; the next discovery sorts it out.
            return false;
        }
        let size = metadata.len();
        let first_open = tailed.fingerprint == Fingerprint::EMPTY && tailed.read_offset == 0;
        let mut offset = tailed.read_offset;
        let mut truncated_while_stopped = None;
        if first_open {
            // Only now that this is the right file: a failed open keeps the entry for a retry.
            // The checkpoint's entry and a disk buffer's newer one: the furthest that still
            // fits the file (same first bytes, not past its end) wins.
            let mut fitting: Option<CheckpointEntry> = None;
            let mut stale: Option<CheckpointEntry> = None;
            for entry in [self.resume.remove(&key), self.durable.remove(&key)]
                .into_iter()
                .flatten()
            {
                let fits = entry.offset <= size
                    && entry.fingerprint.matches(&mut file, size).unwrap_or(false);
                let slot = if fits { &mut fitting } else { &mut stale };
                if slot.as_ref().is_none_or(|e| e.offset < entry.offset) {
                    *slot = Some(entry);
                }
            }
            offset = match (fitting, stale) {
                (Some(entry), _) => entry.offset,
                (None, Some(entry)) => {
                    // Shorter, or other first bytes: truncated while vigia was stopped.
                    self.metrics.truncations.inc();
                    truncated_while_stopped = Some(entry);
                    0
                }
                (None, None) if tailed.initial && settings.read_from == ReadFrom::End => size,
                (None, None) => 0,
            };
            tailed.fingerprint =
                Fingerprint::of_file(&mut file, size).unwrap_or(Fingerprint::EMPTY);
            tailed.progress = Progress::starting_at(offset);
            tailed.initial = false;
            self.checkpoint_dirty = true;
        } else if size < offset {
            // Truncated while it was closed.
            self.metrics.truncations.inc();
            offset = 0;
            tailed.progress.reset();
        }
        if file.seek(SeekFrom::Start(offset)).is_err() {
            return false;
        }
        if first_open || offset != tailed.read_offset {
            tailed.framer = Framer::new(
                settings.container,
                settings.multiline.clone(),
                settings.max_line_bytes,
                offset,
            );
        }
        tailed.read_offset = offset;
        tailed.size = size;
        tailed.modified = metadata.modified().ok();
        tailed.at_end = false;
        tailed.file = Some(file);
        let fingerprint = tailed.fingerprint;
        if let Some(entry) = truncated_while_stopped {
            self.adopt_copy_after_restart(key, &entry);
        } else if first_open && offset == 0 && self.startup_done {
            // A copy being made appears while vigia runs; at start-up every file is what it
            // is (and comparing each new file with every other would be quadratic).
            self.mark_if_copy(key, fingerprint);
        }
        true
    }

    /// Reads files in turn, up to the budget each, and returns the batches framed from what was
    /// read (and from events whose multiline timeout passed).
    pub fn poll(&mut self, now: Instant) -> Vec<LineBatch> {
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        let mut batches = Vec::new();
        for (key, events) in std::mem::take(&mut self.stashed) {
            self.batch(key, events, &mut batches);
        }
        if keys.is_empty() {
            return batches;
        }
        let start = self.next_turn % keys.len();
        self.next_turn = self.next_turn.wrapping_add(1);
        // Bounds what one turn holds in memory, whatever the number of files.
        let turn_budget = self.settings.read_budget_bytes.saturating_mul(4);
        let mut read_this_turn = 0;
        let rotate_wait = self.settings.rotate_wait;
        for key in keys[start..].iter().chain(&keys[..start]) {
            let mut events = Vec::new();
            if read_this_turn < turn_budget {
                read_this_turn += self.read_file(*key, now, &mut events);
            }
            let Some(tailed) = self.files.get_mut(key) else {
                continue;
            };
            if let (FileState::Rotated { since }, true, Some(_)) =
                (tailed.state, tailed.at_end, &tailed.file)
            {
                if now.duration_since(since) >= rotate_wait && tailed.progress.in_flight() == 0 {
                    // Nothing more can come: everything held back is emitted, then released.
                    tailed.framer.finish(now, &mut events);
                    tailed.release = true;
                } else {
                    // The file that took its path waits for these; they keep lines in order.
                    tailed.framer.flush_held(&mut events);
                }
            }
            tailed.framer.flush_expired(now, &mut events);
            self.batch(*key, events, &mut batches);
        }
        self.release_finished();
        batches
    }

    /// Whether any open file has bytes not read yet (the driver polls again at once).
    pub fn has_backlog(&self) -> bool {
        self.files
            .values()
            .any(|f| f.file.is_some() && !f.at_end && self.may_read(f))
    }

    /// A file that took another's path is read only once that one is read to its end and
    /// holds no event back, so that lines come out in the order they were written.
    fn may_read(&self, tailed: &Tailed) -> bool {
        if let Some(live) = tailed.copy_of.and_then(|k| self.files.get(&k))
            && live.file.is_some()
            && live.state == FileState::Active
        {
            return false;
        }
        match tailed.after.and_then(|k| self.files.get(&k)) {
            Some(before) if before.file.is_some() => {
                before.at_end && before.framer.next_deadline().is_none()
            }
            Some(before) => !before.wants_open,
            None => true,
        }
    }

    /// Reads one file's new bytes (up to the budget) into events; returns the bytes read.
    fn read_file(&mut self, key: FileKey, now: Instant, events: &mut Vec<CompleteLine>) -> usize {
        let may_read = match self.files.get(&key) {
            Some(tailed) => tailed.file.is_some() && self.may_read(tailed),
            None => false,
        };
        if !may_read {
            return 0;
        }
        let budget = self.settings.read_budget_bytes;
        if let Some(previous_size) = self.truncated(key) {
            self.on_truncation(key, previous_size, now, events);
        }
        let tailed = self.files.get_mut(&key).expect("checked above");
        let file = tailed.file.as_mut().expect("checked above");
        let mut read_total = 0usize;
        while read_total < budget {
            let want = (budget - read_total).min(self.read_buffer.len());
            match file.read(&mut self.read_buffer[..want]) {
                Ok(0) => break,
                Ok(read) => {
                    read_total += read;
                    tailed.read_offset += read as u64;
                    tailed.framer.push(&self.read_buffer[..read], now, events);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::warn!(file = %tailed.path.display(), %error, "cannot read file; will retry");
                    break;
                }
            }
        }
        if read_total > 0 {
            self.counters.bytes.inc_by(read_total as u64);
            if tailed.fingerprint.len < super::identity::FINGERPRINT_MAX_BYTES {
                let size = tailed.size.max(tailed.read_offset);
                let grown = if tailed.fingerprint == Fingerprint::EMPTY {
                    Fingerprint::of_file(file, size).unwrap_or(Fingerprint::EMPTY)
                } else {
                    tailed
                        .fingerprint
                        .refresh(file, size)
                        .unwrap_or(tailed.fingerprint)
                };
                // The checkpoint must know the file by its new first bytes: an empty
                // fingerprint matches any file, so a truncation while stopped would go unseen.
                self.checkpoint_dirty |= grown != tailed.fingerprint;
                tailed.fingerprint = grown;
            }
        }
        tailed.size = tailed.size.max(tailed.read_offset);
        tailed.at_end = tailed.read_offset >= tailed.size && read_total < budget;
        let invalid = tailed.framer.take_invalid_container_lines();
        if invalid > 0 {
            self.metrics.container_format_errors.inc_by(invalid);
        }
        let name = tailed.path.to_string_lossy();
        self.metrics
            .set_read_lag(&name, tailed.size.saturating_sub(tailed.read_offset));
        read_total
    }

    /// Turns a file's new events into batches. Each batch's safe offset is the lowest start of
    /// anything not in it or an earlier batch: later batches of this turn, or what the framer
    /// still holds.
    fn batch(&mut self, key: FileKey, events: Vec<CompleteLine>, out: &mut Vec<LineBatch>) {
        if events.is_empty() {
            return;
        }
        let Some(tailed) = self.files.get_mut(&key) else {
            return;
        };
        let held = tailed.framer.safe_offset();
        let chunk = self.settings.batch_max_events.max(1);
        let lowest_starts: Vec<u64> = events
            .chunks(chunk)
            .map(|c| c.iter().map(|e| e.start_offset).min().unwrap_or(held))
            .collect();
        // Each chunk's safe offset: the lowest start among the chunks after it, or `held`.
        let mut safe_offsets = vec![held; lowest_starts.len()];
        for index in (0..lowest_starts.len().saturating_sub(1)).rev() {
            safe_offsets[index] = safe_offsets[index + 1].min(lowest_starts[index + 1]);
        }
        let read_time_ns = now_nanos();
        let acker = self.acker.as_mut().expect("no batches after draining");
        let mut events = events.into_iter();
        for safe_offset in safe_offsets {
            let chunk_events = events.by_ref().take(chunk);
            let lines =
                crate::logs::source::raw_lines(chunk_events, read_time_ns, None, &self.counters);
            let (batch, ack) = acker.issue();
            tailed.progress.sent(batch, safe_offset);
            self.batch_owner.insert(batch, (key, lines.len() as u64));
            let position = ReadPosition {
                source: self.settings.source_id.to_string(),
                entry: CheckpointEntry {
                    key,
                    fingerprint: tailed.fingerprint,
                    offset: safe_offset,
                    path: tailed.path.clone(),
                    name: (tailed.name != tailed.path).then(|| tailed.name.clone()),
                },
            };
            out.push(LineBatch {
                origin: tailed.origin.clone(),
                lines,
                ack,
                position: Some(Arc::new(position)),
            });
        }
    }

    /// Releases the files `poll` finished, and forgets them once nothing of theirs is in flight.
    fn release_finished(&mut self) {
        let mut forget = Vec::new();
        for (key, tailed) in &mut self.files {
            if tailed.release && tailed.file.is_some() {
                tailed.file = None;
                self.metrics.forget_file(&tailed.path.to_string_lossy());
            }
            // Gone from `include` with no handle left on it: released when read to its end, or
            // closed to make room (or never opened) and then rotated away or deleted.
            let gone = !tailed.matched
                && tailed.file.is_none()
                && !tailed.wants_open
                && tailed.state != FileState::Active;
            if gone && tailed.progress.in_flight() == 0 {
                forget.push(*key);
            }
        }
        self.resolve_orphan_copies();
        for key in forget {
            if let Some(tailed) = self.files.remove(&key) {
                if self.by_path.get(&tailed.path) == Some(&key) {
                    self.by_path.remove(&tailed.path);
                }
                self.metrics.forget_file(&tailed.path.to_string_lossy());
                let unread = tailed.size.saturating_sub(tailed.read_offset);
                if !tailed.release && unread > 0 && tailed.copy_of.is_none() {
                    let reason = if tailed.starved {
                        "max_open_files"
                    } else {
                        "unreadable"
                    };
                    self.metrics.unread_released(reason, unread);
                    tracing::warn!(
                        source = %self.settings.source_id,
                        file = %tailed.path.display(),
                        unread_bytes = unread,
                        reason,
                        "a file left before vigia could read it to its end; its unread bytes are lost (raise max_open_files)"
                    );
                }
                self.checkpoint_dirty = true;
            }
        }
        if !self.open_queue.is_empty() {
            self.open_waiting();
        }
        let open = self.files.values().filter(|f| f.file.is_some()).count();
        self.metrics.files_open.set(open as i64);
        self.metrics.files_watched.set(self.files.len() as i64);
    }

    /// Applies the acks that have arrived; returns how many.
    pub fn handle_acks(&mut self) -> usize {
        let mut handled = 0;
        while let Ok(ack) = self.acks.try_recv() {
            self.apply_ack(ack);
            handled += 1;
        }
        handled
    }

    fn apply_ack(&mut self, ack: Ack) {
        let Some((key, events)) = self.batch_owner.remove(&ack.batch) else {
            return;
        };
        ack.status.count(&self.counters, events);
        if ack.status == BatchStatus::Failed {
            tracing::debug!(
                batch = ack.batch,
                "a batch was not delivered; its lines will be read again after a restart"
            );
        }
        if let Some(tailed) = self.files.get_mut(&key)
            && tailed.progress.acknowledged(ack.batch, ack.status)
        {
            self.checkpoint_dirty = true;
        }
    }

    pub fn checkpoint_dirty(&self) -> bool {
        self.checkpoint_dirty
    }

    /// Writes the checkpoint: per file, the offset after its last acknowledged line.
    pub fn save_checkpoint(&mut self) {
        let entries: Vec<CheckpointEntry> = self
            .files
            .iter()
            .map(|(key, tailed)| CheckpointEntry {
                key: *key,
                fingerprint: tailed.fingerprint,
                offset: tailed.progress.committed(),
                path: tailed.path.clone(),
                // Written only once it differs from the path (after a rename).
                name: (tailed.name != tailed.path).then(|| tailed.name.clone()),
            })
            .collect();
        match self.store.save(&entries) {
            Ok(()) => {
                self.checkpoint_dirty = false;
                self.checkpoint_error = None;
                self.metrics.checkpoint_writes.inc();
            }
            Err(error) => {
                self.metrics.checkpoint_write_errors.inc();
                if self.checkpoint_error.is_none() {
                    tracing::error!(%error, "cannot write checkpoint; will retry");
                }
                self.checkpoint_error = Some(error.to_string());
            }
        }
    }

    /// Whether every open file is read up to the size it had at `targets` (taken when shutdown
    /// began), or further.
    pub fn read_up_to(&self, targets: &HashMap<FileKey, u64>) -> bool {
        targets.iter().all(|(key, size)| {
            self.files
                .get(key)
                .is_none_or(|f| f.file.is_none() || f.read_offset >= *size || !self.may_read(f))
        })
    }

    /// Each open file's current size: what shutdown reads up to.
    pub fn sizes(&self) -> HashMap<FileKey, u64> {
        self.files
            .iter()
            .filter_map(|(key, f)| {
                let size = f.file.as_ref()?.metadata().ok()?.len();
                Some((*key, size))
            })
            .collect()
    }

    /// Emits every event the framers still hold (shutdown: nothing more will join them).
    pub fn finish_all(&mut self, now: Instant) -> Vec<LineBatch> {
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        let mut batches = Vec::new();
        for key in keys {
            let mut events = Vec::new();
            if let Some(tailed) = self.files.get_mut(&key) {
                tailed.framer.finish(now, &mut events);
            }
            self.batch(key, events, &mut batches);
        }
        batches
    }

    /// When the next multiline timeout falls due, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.files
            .values()
            .filter_map(|f| f.framer.next_deadline())
            .min()
    }

    /// Stops handing out batches and waits (up to `deadline`) for the acks of every batch in
    /// flight, then writes the final checkpoint.
    pub fn drain(&mut self, deadline: Option<Instant>) {
        self.acker = None;
        loop {
            let wait = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(wait) => wait,
                    None => break,
                },
                None => Duration::from_secs(3600),
            };
            match recv_timeout(&mut self.acks, wait) {
                Some(ack) => self.apply_ack(ack),
                None => break,
            }
        }
        self.save_checkpoint();
    }
}

/// Blocking receive with a timeout, from a synchronous thread.
fn recv_timeout(acks: &mut AckReceiver, wait: Duration) -> Option<Ack> {
    let deadline = Instant::now() + wait;
    loop {
        match acks.try_recv() {
            Ok(ack) => return Some(ack),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                if Instant::now() >= deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// The file with `entry`'s identity in `entry`'s directory, if it is still there with unread data.
fn find_by_identity(entry: &CheckpointEntry) -> Option<PathBuf> {
    let listing = std::fs::read_dir(entry.path.parent()?).ok()?;
    listing.filter_map(Result::ok).find_map(|candidate| {
        let metadata = candidate.metadata().ok()?;
        (metadata.is_file() && FileKey::of(&metadata) == entry.key && metadata.len() > entry.offset)
            .then(|| candidate.path())
    })
}
