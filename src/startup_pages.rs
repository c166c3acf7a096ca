//! Gives back, once start-up is over, the pages of code and read-only data that only start-up
//! touched: configuration parsing, YAML, regex compilation, TLS and runtime set-up.
//!
//! The kernel maps code around every page fault in whole blocks, so start-up leaves about
//! 5.5 MiB of the binary's 8 MiB of code resident, of which an idle sidecar runs about 1 MiB.
//! Those pages are clean copies of the file: `MADV_DONTNEED` unmaps them, and the few still
//! used fault back in from the page cache. Measured on the embedded default (`bench/footprint.sh`):
//! idle RSS 9.4 → 5.6–5.9 MiB with /metrics scraped every 15 s. The start-up peak
//! (9.4–9.8 MiB) comes before the release and is not lowered by it.
//!
//! Only mappings that are private, not writable, backed by a file and hold no anonymous
//! (copy-on-write) page are touched: their contents are exactly the file's, so dropping them
//! cannot change what the process reads. That excludes `.data`, `.bss`, RELRO pages the loader
//! relocated, and code a debugger patched.
// `madvise` on memory the process did not allocate through Rust needs `unsafe`; the measured
// win above is the justification the code standards ask for, and the call is confined here.
#![allow(unsafe_code)]

use std::ops::Range;
use std::time::Duration;

/// Start-up is over well before this: the admin server, sources and sinks are running.
pub const SETTLE: Duration = Duration::from_secs(10);

/// What [`release`] handed back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub mappings: usize,
    /// Resident bytes of those mappings just before they were released.
    pub bytes: u64,
}

/// After [`SETTLE`], releases the start-up pages once, off the runtime's workers.
pub fn release_after_startup() {
    tokio::spawn(async {
        tokio::time::sleep(SETTLE).await;
        match tokio::task::spawn_blocking(release).await {
            Ok(Ok(released)) => tracing::debug!(
                mappings = released.mappings,
                resident_kib = released.bytes / 1024,
                "released start-up pages"
            ),
            Ok(Err(error)) => tracing::debug!(%error, "could not release start-up pages"),
            Err(_) => {}
        }
    });
}

/// Releases every clean, read-only, file-backed private mapping of this process.
#[cfg(target_os = "linux")]
pub fn release() -> std::io::Result<Released> {
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = Released::default();
    for mapping in releasable(&smaps) {
        let length = mapping.range.end - mapping.range.start;
        // SAFETY: the range is a whole mapping of this process, read from /proc/self/smaps, that
        // is private, not writable and holds no anonymous page, so every resident page is an
        // unmodified copy of the file. MADV_DONTNEED on such a mapping only unmaps those pages;
        // the next access faults in the same bytes from the file. That is the state the kernel's
        // own reclaim may put those pages in at any time, so nothing new can go wrong (a file
        // rewritten in place under a running process already breaks it on the next reclaim).
        // No Rust object can live in it (it is not writable), so no reference is invalidated.
        let result = unsafe {
            libc::madvise(
                mapping.range.start as *mut libc::c_void,
                length,
                libc::MADV_DONTNEED,
            )
        };
        if result == 0 {
            released.mappings += 1;
            released.bytes += mapping.resident_bytes;
        }
    }
    Ok(released)
}

#[cfg(not(target_os = "linux"))]
pub fn release() -> std::io::Result<Released> {
    Ok(Released::default())
}

#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    range: Range<usize>,
    resident_bytes: u64,
}

/// The mappings of a `/proc/PID/smaps` text that are safe to release and hold resident pages.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn releasable(smaps: &str) -> Vec<Mapping> {
    let mut found = Vec::new();
    let mut current: Option<Candidate> = None;
    for line in smaps.lines() {
        if let Some(candidate) = Candidate::from_header(line) {
            found.extend(current.take().and_then(Candidate::finish));
            current = Some(candidate);
        } else if let Some(candidate) = current.as_mut() {
            candidate.read_field(line);
        }
    }
    found.extend(current.and_then(Candidate::finish));
    found
}

struct Candidate {
    range: Range<usize>,
    eligible: bool,
    resident_kib: Option<u64>,
    anonymous_kib: Option<u64>,
}

impl Candidate {
    /// `start-end perms offset dev inode [path]`; any other line is a field of the mapping.
    fn from_header(line: &str) -> Option<Self> {
        let mut fields = line.split_ascii_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?.as_bytes();
        if perms.len() != 4 || range.start >= range.end {
            return None;
        }
        let path = fields.nth(3).unwrap_or("");
        let eligible =
            perms[0] == b'r' && perms[1] == b'-' && perms[3] == b'p' && path.starts_with('/');
        Some(Self {
            range,
            eligible,
            resident_kib: None,
            anonymous_kib: None,
        })
    }

    fn read_field(&mut self, line: &str) {
        let Some((key, value)) = line.split_once(':') else {
            return;
        };
        let kib = || value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok();
        match key {
            "Rss" => self.resident_kib = kib(),
            "Anonymous" => self.anonymous_kib = kib(),
            _ => {}
        }
    }

    /// Eligible only when smaps said, in so many words, that no page of it was copied on write.
    /// `Private_Dirty` is no guide: it also counts page-cache pages not yet written back (a
    /// binary just built or copied), which are still the file's bytes.
    fn finish(self) -> Option<Mapping> {
        let resident_kib = self.resident_kib?;
        (self.eligible && self.anonymous_kib == Some(0) && resident_kib > 0).then(|| Mapping {
            range: self.range,
            resident_bytes: resident_kib * 1024,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = include_str!("../tests/fixtures/smaps/idle_sidecar.txt");

    fn released_starts(smaps: &str) -> Vec<usize> {
        releasable(smaps).iter().map(|m| m.range.start).collect()
    }

    /// Captured from `vigia run` on the embedded default, three seconds after start.
    #[test]
    fn only_clean_read_only_file_mappings_are_released() {
        let released = releasable(SMAPS);
        let starts = released_starts(SMAPS);
        let text = 0x55dbbc9a7000; // vigia .text, 5,432 KiB resident
        assert!(starts.contains(&0x55dbbc7c0000) && starts.contains(&text));
        assert!(starts.contains(&0x7f3e408e7000), "libc .text");
        for kept in [
            0x55dbbd1f7000, // vigia RELRO: r--p, but the loader wrote it (anonymous pages)
            0x55dbbd23f000, // vigia .data: writable
            0x55dbd93dd000, // the heap
            0x7f3e40a90000, // libc RELRO
            0x7f3e40bb4000, // the vDSO: no file
            0x7ffca5329000, // the stack
        ] {
            assert!(!starts.contains(&kept), "{kept:#x} must stay");
        }
        // Every read-only, clean part of the binary and its four libraries, and nothing else.
        assert_eq!(released.len(), 14);
        let kib: u64 = released.iter().map(|m| m.resident_bytes / 1024).sum();
        assert_eq!(
            kib,
            896 + 5432 + 152 + 996 + 192 + 60 + 308 + 228 + 12 + 64 + 16 + 4 + 152 + 40
        );
    }

    #[test]
    fn code_a_debugger_patched_stays_and_code_not_yet_written_back_goes() {
        let libm_text = 0x7f3e40ab3000;
        assert!(released_starts(SMAPS).contains(&libm_text));
        let header = "7f3e40ab3000-7f3e40b27000 r-xp";
        let at = SMAPS.find(header).expect("libm .text in the fixture");
        let with_field = |field: &str, value: &str| {
            let field_at = at + SMAPS[at..].find(field).expect("field");
            let line_end = field_at + SMAPS[field_at..].find('\n').expect("newline");
            format!(
                "{}{field} {value}{}",
                &SMAPS[..field_at],
                &SMAPS[line_end..]
            )
        };
        // A breakpoint copies the page on write: it is anonymous now, no longer the file's.
        assert!(!released_starts(&with_field("Anonymous:", "4 kB")).contains(&libm_text));
        // A library just copied in is dirty in the page cache but still the file's bytes.
        assert!(released_starts(&with_field("Private_Dirty:", "308 kB")).contains(&libm_text));
    }

    #[test]
    fn a_truncated_or_garbled_smaps_releases_nothing_it_cannot_vouch_for() {
        let header_only = "563d9bc19000-563d9c469000 r-xp 001e6000 fe:00 5309462 /usr/bin/vigia\n";
        assert!(
            releasable(header_only).is_empty(),
            "no Anonymous/Rss line: not known clean"
        );
        assert!(releasable("garbage\n\0\u{1F600}\nffff-zzzz r-xp\n").is_empty());
        // Cut inside the vigia .text entry, before its Anonymous line.
        let text_entry = SMAPS.find("55dbbc9a7000-").expect("vigia .text");
        let cut = &SMAPS[..text_entry + 200];
        assert_eq!(released_starts(cut), vec![0x55dbbc7c0000]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_this_test_process_pages_leaves_it_working() {
        let before: Vec<u64> = (1..2000).map(|n| n * n).collect();
        let released = release().expect("/proc/self/smaps is readable");
        assert!(released.mappings > 0 && released.bytes > 0, "{released:?}");
        // Code, constants and formatting machinery all fault back in with the same bytes.
        let after: Vec<u64> = (1..2000).map(|n| n * n).collect();
        assert_eq!(before, after);
        assert_eq!(
            format!("{:?}", Released::default()),
            "Released { mappings: 0, bytes: 0 }"
        );
        assert!(regex::Regex::new(r"^\d+ms$").unwrap().is_match("250ms"));
    }
}
