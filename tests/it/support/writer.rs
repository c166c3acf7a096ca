//! A service writing numbered JSON lines that carry their own time, at a steady rate, its log
//! rotated as logrotate would between two of its writes. Shared by the fault matrix and the
//! soak (`benches/soak.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub enum Rotation {
    /// `app.log` → `app.log.1`, replacing the previous `app.log.1`.
    RenameKeepOne,
    /// `app.log.1` removed, `app.log` copied to `app.log.1`, `app.log` truncated.
    CopyTruncate,
}

/// Writes lines `{"ts":…,"seq":N,…}` at `rate` a second, rotating every `rotate_every`,
/// until `stop`; `written` follows the count. Returns how many it wrote.
pub fn spawn(
    log: PathBuf,
    rate: u64,
    rotate_every: u64,
    rotation: Rotation,
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let open = |path: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap()
        };
        let mut file = open(&log);
        let rotated = log.with_extension("log.1");
        let started = Instant::now();
        let mut seq = 0u64;
        let mut text = String::new();
        while !stop.load(Ordering::Relaxed) {
            // Where the writer should be by now: catches up after a slow moment.
            let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
            text.clear();
            while seq < due {
                if seq > 0 && seq.is_multiple_of(rotate_every) {
                    file.write_all(text.as_bytes()).unwrap();
                    text.clear();
                    match rotation {
                        Rotation::RenameKeepOne => {
                            std::fs::rename(&log, &rotated).unwrap();
                            file = open(&log);
                        }
                        Rotation::CopyTruncate => {
                            let _ = std::fs::remove_file(&rotated);
                            std::fs::copy(&log, &rotated).unwrap();
                            file.set_len(0).unwrap();
                        }
                    }
                }
                let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
                text.push_str(&format!(
                    "{{\"ts\":\"{ts}\",\"level\":\"info\",\"msg\":\"order {seq} paid\",\"seq\":{seq},\"customer\":\"c-{}\",\"amount_cents\":{}}}\n",
                    seq % 7919,
                    seq % 9973
                ));
                seq += 1;
            }
            file.write_all(text.as_bytes()).unwrap();
            written.store(seq, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
        seq
    })
}
