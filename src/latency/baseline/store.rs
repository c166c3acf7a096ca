//! The detectors' baselines in `data_dir/latency/baselines`, so that a node agent's restart
//! (an upgrade, an OOM kill, a node reboot) goes on comparing instead of warming up again.
//!
//! One file: a header line `vigia-latency-baseline 1 crc32=<hex> bytes=<n>` and a JSON body.
//! It is written to a temporary file, synced and renamed, so a kill at any moment leaves the
//! old file or the new one. A file that is truncated, altered, of another format version,
//! older than [`MAX_AGE_SECONDS`] or made with another window length is not used: it is put
//! aside (`.corrupt`) when damaged, and the detectors warm up as on a first start.

use crate::latency::detector::DetectorSnapshot;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &str = "vigia-latency-baseline";
const VERSION: &str = "1";
/// A baseline older than a day says little about today.
pub const MAX_AGE_SECONDS: f64 = 24.0 * 3600.0;
/// The most read back: 1,000 routes of a few KiB each, with room.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRoute {
    pub service: String,
    pub route: String,
    pub detector: DetectorSnapshot,
}

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    saved_at: f64,
    interval_seconds: f64,
    routes: Vec<StoredRoute>,
}

#[derive(Debug, Clone)]
pub struct BaselineStore {
    path: PathBuf,
    temporary: PathBuf,
}

impl BaselineStore {
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("latency");
        Self {
            path: dir.join("baselines"),
            temporary: dir.join("baselines.tmp"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn save(
        &self,
        saved_at: f64,
        interval_seconds: f64,
        routes: Vec<StoredRoute>,
    ) -> std::io::Result<()> {
        let dir = self.path.parent().expect("the store is in a directory");
        fs::create_dir_all(dir)?;
        let body = serde_json::to_vec(&Body {
            saved_at,
            interval_seconds,
            routes,
        })
        .map_err(std::io::Error::other)?;
        let header = format!(
            "{MAGIC} {VERSION} crc32={:08x} bytes={}\n",
            crc32fast::hash(&body),
            body.len()
        );
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.temporary)?;
        file.write_all(header.as_bytes())?;
        file.write_all(&body)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temporary, &self.path)?;
        File::open(dir).and_then(|d| d.sync_all())
    }

    /// The stored routes; `Ok(None)` when there is no file; `Err(why)` when there is one that
    /// cannot be used (put aside if damaged).
    pub fn load(
        &self,
        now: f64,
        interval_seconds: f64,
    ) -> Result<Option<Vec<StoredRoute>>, String> {
        let size = match fs::metadata(&self.path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{} cannot be read: {e}", self.path.display())),
        };
        if size > MAX_FILE_BYTES {
            return Err(self.put_aside(&format!("{size} bytes, more than this code writes")));
        }
        let bytes = fs::read(&self.path)
            .map_err(|e| format!("{} cannot be read: {e}", self.path.display()))?;
        let body = parse(&bytes).map_err(|why| self.put_aside(why))?;
        if body.interval_seconds != interval_seconds {
            return Err(format!(
                "{} was made with {} s windows, now {interval_seconds} s",
                self.path.display(),
                body.interval_seconds
            ));
        }
        let age = now - body.saved_at;
        // NaN ages (a corrupt clock) count as too old.
        if age.is_nan() || age >= MAX_AGE_SECONDS {
            return Err(format!(
                "{} is {:.0} h old: too old to compare with",
                self.path.display(),
                age / 3600.0
            ));
        }
        Ok(Some(body.routes))
    }

    fn put_aside(&self, why: &str) -> String {
        let mut aside = self.path.clone().into_os_string();
        aside.push(".corrupt");
        let _ = fs::rename(&self.path, &aside);
        format!("{} is corrupt ({why}); put aside", self.path.display())
    }
}

fn parse(bytes: &[u8]) -> Result<Body, &'static str> {
    let newline = memchr::memchr(b'\n', bytes).ok_or("no header line")?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "header is not text")?;
    let mut fields = header.split(' ');
    if fields.next() != Some(MAGIC) {
        return Err("not a vigia latency baseline");
    }
    if fields.next() != Some(VERSION) {
        return Err("unknown format version");
    }
    let crc = fields
        .next()
        .and_then(|f| f.strip_prefix("crc32="))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or("no checksum")?;
    let length: usize = fields
        .next()
        .and_then(|f| f.strip_prefix("bytes="))
        .and_then(|n| n.parse().ok())
        .ok_or("no length")?;
    let body = &bytes[newline + 1..];
    if body.len() != length {
        return Err("truncated");
    }
    if crc32fast::hash(body) != crc {
        return Err("checksum mismatch");
    }
    serde_json::from_slice(body).map_err(|_| "body is not a baseline")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::detector::{DetectorSettings, SignalDetector};
    use crate::latency::sketch::LatencySketch;

    fn stored() -> StoredRoute {
        let settings = DetectorSettings::default();
        let mut detector = SignalDetector::new(&settings);
        let mut end = 0.0;
        for _ in 0..40 {
            let mut window = LatencySketch::new();
            (0..50).for_each(|i| window.add(0.02 + 0.0004 * f64::from(i)));
            end += 60.0;
            detector.close_window(window, end, 1, &settings);
        }
        StoredRoute {
            service: "checkout".into(),
            route: "/orders/{id}".into(),
            detector: detector.snapshot(),
        }
    }

    #[test]
    fn a_saved_baseline_comes_back_and_a_damaged_one_is_put_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = BaselineStore::new(dir.path());
        assert_eq!(store.load(1000.0, 60.0), Ok(None));
        store.save(1000.0, 60.0, vec![stored()]).unwrap();
        let loaded = store.load(1060.0, 60.0).unwrap().unwrap();
        assert_eq!(loaded.len(), 1);
        let (back, saved) = (&loaded[0].detector, stored().detector);
        assert_eq!(
            (&loaded[0].route, &back.dispersion),
            (&"/orders/{id}".to_owned(), &saved.dispersion)
        );
        // JSON keeps a float to the last bit or one ulp off.
        assert!((back.baseline.count / saved.baseline.count - 1.0).abs() < 1e-12);
        assert_eq!(back.baseline.bins.len(), saved.baseline.bins.len());
        assert!(back.clock.as_ref().is_some_and(|c| !c.is_empty()));

        let wrong_interval = store.load(1060.0, 10.0).unwrap_err();
        assert!(wrong_interval.contains("60 s windows"), "{wrong_interval}");
        let stale = store
            .load(1000.0 + MAX_AGE_SECONDS + 1.0, 60.0)
            .unwrap_err();
        assert!(stale.contains("too old"), "{stale}");

        // One flipped byte in the body.
        let mut bytes = fs::read(store.path()).unwrap();
        let last = bytes.len() - 5;
        bytes[last] ^= 0x20;
        fs::write(store.path(), &bytes).unwrap();
        let corrupt = store.load(1060.0, 60.0).unwrap_err();
        assert!(corrupt.contains("checksum mismatch"), "{corrupt}");
        assert!(!store.path().exists());
        assert!(dir.path().join("latency/baselines.corrupt").exists());
        // Truncated by a full disk.
        store.save(1000.0, 60.0, vec![stored()]).unwrap();
        let bytes = fs::read(store.path()).unwrap();
        fs::write(store.path(), &bytes[..bytes.len() / 2]).unwrap();
        assert!(store.load(1060.0, 60.0).unwrap_err().contains("truncated"));
    }

    #[test]
    fn a_well_formed_file_with_an_impossible_sketch_restores_nothing() {
        let mut route = stored();
        route.detector.baseline.count *= 3.0;
        let settings = DetectorSettings::default();
        assert!(SignalDetector::restore(route.detector, None, &settings).is_none());
        assert!(SignalDetector::restore(stored().detector, None, &settings).is_some());
    }

    #[test]
    fn a_restored_baseline_knows_where_in_the_day_it_was_summed() {
        let settings = DetectorSettings::default();
        let saved = stored().detector;
        let restored = SignalDetector::restore(saved.clone(), None, &settings).unwrap();
        assert_eq!(restored.snapshot().clock, saved.clock);
        assert!(saved.clock.is_some());
        // A clock that does not add up is dropped, the baseline kept.
        let mut damaged = saved;
        damaged.clock = Some(
            serde_json::from_str(r#"{"slots":[1.0],"weighted_time":5.0,"weight":1.0}"#).unwrap(),
        );
        let restored = SignalDetector::restore(damaged, None, &settings).unwrap();
        assert_eq!(restored.snapshot().clock, None);
    }
}
