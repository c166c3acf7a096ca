//! The JWKS file, followed: checked for a change at most every `reload_interval` (on the
//! request path: one `stat`), read again when it changed, and read at once, at most every
//! [`UNKNOWN_KID_RELOAD_EVERY`], when a token names a key the set does not have (a rotation
//! that reached the Secret before the interval ran out). An invalid file keeps the last good
//! set and is counted; the set in force is never empty.

use super::keyset::{KeySet, VerificationKey};
use crate::telemetry::admin::AdminMetrics;
use crate::tls::watch::{Fingerprint, fingerprint};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Tokens with unknown `kid`s (a stale client, or someone guessing) make the file be read
/// at most this often.
pub const UNKNOWN_KID_RELOAD_EVERY: Duration = Duration::from_secs(5);

struct Watch {
    checked: Instant,
    fingerprint: Option<Fingerprint>,
    forced: Option<Instant>,
}

pub struct JwksFile {
    path: PathBuf,
    reload_interval: Duration,
    keys: RwLock<Arc<KeySet>>,
    watch: Mutex<Watch>,
    metrics: Option<AdminMetrics>,
}

impl JwksFile {
    /// Reads the file once; at start an unreadable or invalid file is an error the user sees.
    pub fn open(
        path: &Path,
        reload_interval: Duration,
        metrics: Option<AdminMetrics>,
    ) -> Result<Self, String> {
        let fingerprint = fingerprint(path);
        let keys = read(path)?;
        if let Some(metrics) = &metrics {
            metrics.keys_loaded.set(keys.len() as i64);
        }
        Ok(Self {
            path: path.to_owned(),
            reload_interval,
            keys: RwLock::new(Arc::new(keys)),
            watch: Mutex::new(Watch {
                checked: Instant::now(),
                fingerprint,
                forced: None,
            }),
            metrics,
        })
    }

    /// The key named `kid`, after a reload if one is due.
    pub fn key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.reload_if_due(false);
        if let Some(key) = self.current().get(kid) {
            return Some(key);
        }
        if self.reload_if_due(true) {
            return self.current().get(kid);
        }
        None
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the file again if it changed since the last check (when a check is due), or,
    /// with `unknown_kid`, whatever its fingerprint (when the rate allows). True if it read.
    fn reload_if_due(&self, unknown_kid: bool) -> bool {
        let now = Instant::now();
        let mut watch = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if unknown_kid {
            if watch
                .forced
                .is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_RELOAD_EVERY)
            {
                return false;
            }
            watch.forced = Some(now);
        } else if now.duration_since(watch.checked) < self.reload_interval {
            return false;
        }
        watch.checked = now;
        let seen = fingerprint(&self.path);
        if !unknown_kid && seen == watch.fingerprint {
            return false;
        }
        watch.fingerprint = seen;
        match read(&self.path) {
            Ok(keys) => {
                if let Some(metrics) = &self.metrics {
                    metrics.key_reload(true);
                    metrics.keys_loaded.set(keys.len() as i64);
                }
                tracing::info!(file = %self.path.display(), keys = keys.len(), "admin API keys loaded");
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
            }
            Err(error) => {
                if let Some(metrics) = &self.metrics {
                    metrics.key_reload(false);
                }
                tracing::warn!(file = %self.path.display(), %error, "the JWKS file is invalid; the last good key set stays in force");
            }
        }
        true
    }
}

fn read(path: &Path) -> Result<KeySet, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    KeySet::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
