//! Wakes the file source when something changes: inotify (via `notify`) where it works, plus
//! the poll interval in every case (inotify does not see everything: network filesystems,
//! watch limits, directories created later).

use notify::{EventKind, RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

pub struct Wakeup {
    _watcher: Option<notify::RecommendedWatcher>,
    events: Receiver<()>,
    rescan: Arc<AtomicBool>,
}

impl Wakeup {
    pub fn new(dirs: &[PathBuf]) -> Self {
        let (tx, events) = channel();
        let rescan = Arc::new(AtomicBool::new(false));
        let flag = rescan.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                if matches!(
                    event.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(notify::event::ModifyKind::Name(_))
                ) {
                    flag.store(true, Ordering::Release);
                }
                let _ = tx.send(());
            }
        });
        let watcher = watcher.ok().and_then(|mut watcher| {
            let mut watching = false;
            for dir in dirs {
                watching |= watcher.watch(dir, RecursiveMode::Recursive).is_ok();
            }
            watching.then_some(watcher)
        });
        Self {
            _watcher: watcher,
            events,
            rescan,
        }
    }

    pub fn watching(&self) -> bool {
        self._watcher.is_some()
    }

    /// Whether files were created, removed or renamed since the last call.
    pub fn rescan_requested(&self) -> bool {
        self.rescan.swap(false, Ordering::AcqRel)
    }

    /// Sleeps until a change or `timeout`.
    pub fn wait(&self, timeout: Duration) {
        match self.events.recv_timeout(timeout) {
            Ok(()) => while self.events.try_recv().is_ok() {},
            Err(RecvTimeoutError::Timeout) => {}
            // No watcher: polling alone.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
    }
}
