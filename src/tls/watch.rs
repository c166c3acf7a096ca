//! A value loaded from files and loaded again when one of them changes (see [`super`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// What identifies a version of a file without reading it. A Kubernetes Secret or ConfigMap
/// volume swaps a symbolic link, which changes the inode followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

pub fn fingerprint(path: &Path) -> Option<Fingerprint> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        len: metadata.len(),
        modified: metadata.modified().ok(),
        inode: metadata.ino(),
    })
}

type Loader<T> = Box<dyn Fn() -> Result<T, String> + Send + Sync>;
type Reported = Box<dyn Fn(bool) + Send + Sync>;

pub struct Watched<T> {
    what: String,
    paths: Vec<PathBuf>,
    load: Loader<T>,
    reported: Reported,
    check_every: Duration,
    seen: Mutex<(Instant, Vec<Option<Fingerprint>>)>,
    value: RwLock<Arc<T>>,
}

impl<T> Watched<T> {
    /// Loads the value now (an error is the caller's to report); `reported(ok)` is called on
    /// every later reload.
    pub fn open(
        what: impl Into<String>,
        paths: Vec<PathBuf>,
        check_every: Duration,
        load: impl Fn() -> Result<T, String> + Send + Sync + 'static,
        reported: impl Fn(bool) + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let seen = paths.iter().map(|p| fingerprint(p)).collect();
        let value = load()?;
        Ok(Self {
            what: what.into(),
            paths,
            load: Box::new(load),
            reported: Box::new(reported),
            check_every,
            seen: Mutex::new((Instant::now(), seen)),
            value: RwLock::new(Arc::new(value)),
        })
    }

    /// The value, loaded again first if a check is due and a file changed.
    pub fn get(&self) -> Arc<T> {
        self.refresh();
        self.value
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn refresh(&self) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.0.elapsed() < self.check_every {
            return;
        }
        seen.0 = Instant::now();
        let now: Vec<_> = self.paths.iter().map(|p| fingerprint(p)).collect();
        if now == seen.1 {
            return;
        }
        seen.1 = now;
        match (self.load)() {
            Ok(value) => {
                tracing::info!(what = %self.what, "reloaded after a change on disk");
                (self.reported)(true);
                *self
                    .value
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(value);
            }
            Err(error) => {
                // A half-written pair (new certificate, old key) lands here until the second
                // file is in place: that change is seen at a later check.
                tracing::warn!(what = %self.what, %error, "changed on disk but does not load; the last good version stays in force");
                (self.reported)(false);
            }
        }
    }
}
