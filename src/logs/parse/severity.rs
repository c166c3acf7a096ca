//! The level of a line of text that has no level field: first the writer's own severity token
//! where writers put one (after the time, a pid or a thread: `148 INFO dfs…`, `- INFO  [`,
//! `[notice]`, `[core:error]`, `LOG:`, `<3>`, logcat's and MongoDB's single letters, sshd's
//! `error:` after the tag), then a level word set apart near the start (`… ERROR …`,
//! `warning:`), and only then keywords that say something failed (`failed`, `exception`,
//! `refused`…). A keyword level is a guess: the record says which rule made it
//! (`source.level_rule`), and the rules' precision is measured on the corpus of real-world
//! lines (tests/data/realworld, docs/benchmarks.md).

use super::plain::guess_level;
use crate::logs::level::Level;

/// A level found in text, and the keyword rule that guessed it (none for a written token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundLevel {
    pub level: Level,
    pub rule: Option<&'static str>,
}

/// How many tokens after the time may come before the severity (pid, thread, `-`…).
const MAX_LEADING_TOKENS: usize = 4;
/// How far keywords are looked for: a failure reported deep in a long line is still one.
const KEYWORD_SEARCH_BYTES: usize = 512;

/// The level of `text`, the part of a line after its time (or the whole line).
pub fn in_text(text: &str) -> Option<FoundLevel> {
    let written = leading_token(text)
        .or_else(|| after_tag(text))
        .or_else(|| Some(guess_level(text)).filter(|level| *level != Level::Unknown));
    if let Some(level) = written {
        return Some(FoundLevel { level, rule: None });
    }
    keyword(text).map(|(level, rule)| FoundLevel {
        level,
        rule: Some(rule),
    })
}

/// A severity token among the first tokens of `text`, skipping numbers, punctuation and
/// bracketed names (`[main]`, `[4242]`) before it.
pub fn leading_token(text: &str) -> Option<Level> {
    let text = text.trim_start();
    if let Some(level) = kernel_priority(text) {
        return Some(level);
    }
    for token in text.split_ascii_whitespace().take(MAX_LEADING_TOKENS) {
        if let Some(level) = token_level(token) {
            return Some(level);
        }
        if !is_skippable(token) {
            return None;
        }
    }
    None
}

/// `<3>` at the start (the kernel's and systemd's stderr priority prefix).
fn kernel_priority(text: &str) -> Option<Level> {
    let bytes = text.as_bytes();
    match bytes {
        [b'<', digit @ b'0'..=b'7', b'>', ..] => {
            Level::from_syslog_severity(i64::from(digit - b'0'))
        }
        _ => None,
    }
}

/// A token that is a severity as written: `INFO`, `Info`, `[notice]`, `[core:error]`,
/// `LOG:`, `<warn>`, `(E)`, or one upper-case letter (`D`, `I`, `W`, `E`, `F`, `V`, `A`).
fn token_level(token: &str) -> Option<Level> {
    let word = token
        .trim_start_matches(['[', '(', '<', ']'])
        .trim_end_matches([']', ')', '>', ':', ',', '|']);
    // Apache 2.4 writes `[module:level]`.
    let word = match word.rsplit_once(':') {
        Some((module, level)) if token.starts_with('[') && !module.is_empty() => level,
        _ => word,
    };
    // MongoDB's debug levels: `D1` … `D5`.
    if let [b'D', b'1'..=b'5'] = word.as_bytes() {
        return Some(Level::Debug);
    }
    if let [letter] = word.as_bytes() {
        return match letter {
            b'V' => Some(Level::Trace),
            b'D' => Some(Level::Debug),
            b'I' => Some(Level::Info),
            b'W' => Some(Level::Warn),
            b'E' => Some(Level::Error),
            b'F' | b'A' => Some(Level::Fatal),
            _ => None,
        };
    }
    if word.len() < 3 || word.len() > 13 || !word.is_ascii() {
        return None;
    }
    // Written in one case or capitalized: `Info` is a level, `iNfO` is not a writer's word.
    let tail = &word[1..];
    let one_case = tail.bytes().all(|b| b.is_ascii_uppercase())
        || tail.bytes().all(|b| b.is_ascii_lowercase());
    if !one_case {
        return None;
    }
    Level::from_name(word).or_else(|| {
        Some(match word.to_ascii_lowercase().as_str() {
            // PostgreSQL's `LOG:`, MySQL's `[Note]` and `[System]`, BlueGene's `FAILURE`.
            "log" | "note" | "system" => Level::Info,
            "verbose" => Level::Debug,
            "failure" => Level::Fatal,
            _ => return None,
        })
    })
}

/// Redis writes `pid:role` before the time and one character after it: `*` notice, `#`
/// warning, `-` verbose, `.` debug (`1:M 02 Jan 2024 15:04:05.123 * Ready to accept…`).
pub fn redis_marker(before_time: &str, after_time: &str) -> Option<Level> {
    let (pid, role) = before_time.trim_end().split_once(':')?;
    if pid.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
        || !matches!(role, "M" | "S" | "C" | "X")
    {
        return None;
    }
    match after_time.as_bytes() {
        [b' ', marker, b' ', ..] => match marker {
            b'*' => Some(Level::Info),
            b'#' => Some(Level::Warn),
            b'-' | b'.' => Some(Level::Debug),
            _ => None,
        },
        _ => None,
    }
}

/// What may stand between the time and the severity: a number (pid), punctuation (`-`,
/// `|`, `---`), or a short bracketed name (`[main]`, `[4242]`, `[12.345678]`).
fn is_skippable(token: &str) -> bool {
    let bytes = token.as_bytes();
    let number = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'#' | b':' | b'.'));
    let punctuation = bytes.iter().all(|b| b.is_ascii_punctuation());
    let bracketed = token.starts_with('[') && token.len() <= 48;
    number || punctuation || bracketed
}

/// A severity right after a syslog-style tag: `sshd[24200]: error: …`, `pppd[1]: warning: …`.
fn after_tag(text: &str) -> Option<Level> {
    let head = &text.as_bytes()[..text.len().min(96)];
    let colon = head.windows(2).position(|pair| pair == b": ")?;
    let tag = &text[..colon];
    // A tag is one token (`sshd[24200]`, `host sshd[1]` in a syslog line read as text).
    if tag.split_ascii_whitespace().count() > 2 {
        return None;
    }
    let first = text[colon + 2..].split_ascii_whitespace().next()?;
    first.ends_with(':').then(|| token_level(first)).flatten()
}

/// A keyword rule: its name, the words it looks for, the level it gives.
pub struct KeywordRule {
    pub name: &'static str,
    pub words: &'static [&'static str],
    pub level: Level,
}

/// The keyword rules, in the order they are tried on each word.
pub const KEYWORD_RULES: &[KeywordRule] = &[
    KeywordRule {
        name: "panic",
        words: &["panic", "panicked", "segfault", "oops"],
        level: Level::Fatal,
    },
    KeywordRule {
        name: "fatal",
        words: &["fatal", "critical"],
        level: Level::Fatal,
    },
    KeywordRule {
        name: "exception",
        words: &["exception", "traceback"],
        level: Level::Error,
    },
    KeywordRule {
        name: "error",
        words: &["error", "errors", "err"],
        level: Level::Error,
    },
    KeywordRule {
        name: "failed",
        words: &["failed", "failure", "failures", "fails", "failing", "fail"],
        level: Level::Error,
    },
    KeywordRule {
        name: "refused",
        words: &["refused", "denied", "unreachable", "aborted", "aborting"],
        level: Level::Error,
    },
    KeywordRule {
        name: "cannot",
        words: &["cannot", "can't", "couldn't", "unable"],
        level: Level::Error,
    },
    KeywordRule {
        name: "timeout",
        words: &["timeout", "timed-out"],
        level: Level::Error,
    },
    KeywordRule {
        name: "warning",
        words: &["warn", "warning", "warnings", "deprecated"],
        level: Level::Warn,
    },
];

/// Words that, just before a keyword, say there was none of it (`no errors`, `0 failures`,
/// `without error`, `non-fatal`).
const NEGATIONS: &[&str] = &["no", "0", "zero", "without", "non", "never"];

/// The first keyword in `text` that reports a failure or a warning, and its rule.
pub fn keyword(text: &str) -> Option<(Level, &'static str)> {
    let head = &text[..text.floor_char_boundary(KEYWORD_SEARCH_BYTES)];
    let mut previous = "";
    for (end, raw) in words(head) {
        // `failed.` ends a sentence; `error.log` is a name.
        let word = raw.trim_end_matches('.').trim_matches('-');
        if word.is_empty() {
            continue;
        }
        if let Some(rule) = rule_for(word, previous)
            && !negated(previous)
            && !counts_none(&head[end..])
        {
            return Some((rule.level, rule.name));
        }
        previous = word;
    }
    None
}

/// The words of `text` (letters, digits and `_-'.`) with where each ends.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '\'' | '.');
    let mut rest = text;
    let mut offset = 0;
    std::iter::from_fn(move || {
        let start = rest.find(is_word)?;
        let len = rest[start..]
            .find(|c| !is_word(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        offset += start + len;
        rest = &rest[start + len..];
        Some((offset, word))
    })
}

fn rule_for(word: &str, previous: &str) -> Option<&'static KeywordRule> {
    let rule = |name: &str| KEYWORD_RULES.iter().find(|rule| rule.name == name);
    // A Java or Python exception's class: `java.lang.IllegalStateException`, `OutOfMemoryError`.
    let class = word.rsplit('.').next().unwrap_or(word);
    let capitalized = class.starts_with(|c: char| c.is_ascii_uppercase());
    if capitalized
        && ((class.len() > 9 && class.ends_with("Exception"))
            || (class.len() > 5 && class.ends_with("Error")))
    {
        return rule("exception");
    }
    if word.len() > 10 || word.contains(['.', '_']) {
        return None;
    }
    let mut buffer = [0u8; 10];
    let lower = &mut buffer[..word.len()];
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    let lower = std::str::from_utf8(lower).ok()?;
    // Two-word phrases: `could not`, `timed out`.
    if lower == "not" && previous.eq_ignore_ascii_case("could") {
        return rule("cannot");
    }
    if lower == "out" && previous.eq_ignore_ascii_case("timed") {
        return rule("timeout");
    }
    KEYWORD_RULES
        .iter()
        .find(|rule| rule.words.contains(&lower))
}

fn negated(previous: &str) -> bool {
    NEGATIONS
        .iter()
        .any(|negation| previous.eq_ignore_ascii_case(negation))
}

/// A keyword that names a count of none: `errors=0`, `failed: 0`, `error=false`.
fn counts_none(after: &str) -> bool {
    let Some(value) = after.strip_prefix(['=', ':']) else {
        return false;
    };
    let value = value.trim_start();
    let token = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("");
    matches!(token, "0" | "false" | "none" | "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(text: &str) -> (Level, Option<&'static str>) {
        in_text(text).map_or((Level::Unknown, None), |found| (found.level, found.rule))
    }

    #[test]
    fn written_severities_in_their_usual_places() {
        for (text, expected) in [
            (" 148 INFO dfs.DataNode$PacketResponder: done", Level::Info),
            (
                " - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - x",
                Level::Info,
            ),
            (
                " 25746 INFO nova.osapi_compute.wsgi.server [req-1] x",
                Level::Info,
            ),
            (" [notice] workerEnv.init() ok", Level::Info),
            (" [core:error] [pid 9] AH00124", Level::Error),
            (" [4242] LOG:  checkpoint starting", Level::Info),
            (
                " 0 [Note] InnoDB: Buffer pool(s) load completed",
                Level::Info,
            ),
            (" 0 [Warning] Aborted connection 12", Level::Warn),
            ("<3>oom-kill:constraint=CONSTRAINT_NONE", Level::Error),
            (
                " I NETWORK  [listener] waiting for connections",
                Level::Info,
            ),
            (
                ", Info                  CBS    Loaded Servicing Stack",
                Level::Info,
            ),
            (" [INFO ][o.e.n.Node] started", Level::Info),
            (
                "sshd[24200]: error: Received disconnect from 1.2.3.4",
                Level::Error,
            ),
            ("[main] WARN  c.s.Cache - eviction", Level::Warn),
            (" RAS KERNEL FATAL data TLB error interrupt", Level::Fatal),
        ] {
            assert_eq!(level(text), (expected, None), "{text:?}");
        }
    }

    #[test]
    fn keywords_guess_and_say_which_rule_did() {
        for (text, expected, rule) in [
            (
                "kernel: usb 1-1: device descriptor read/64, error -71",
                Level::Error,
                "error",
            ),
            (
                "Failed password for root from 1.2.3.4 port 22 ssh2",
                Level::Error,
                "failed",
            ),
            (
                "connect to 10.0.0.1 port 5432: Connection refused",
                Level::Error,
                "refused",
            ),
            (
                "Could not resolve host: mirror.example.org",
                Level::Error,
                "cannot",
            ),
            ("request timed out after 30s", Level::Error, "timeout"),
            (
                "java.lang.IllegalStateException thrown in worker",
                Level::Error,
                "exception",
            ),
            (
                "the disk is full, warning sent to admin",
                Level::Warn,
                "warning",
            ),
            ("Kernel panic - not syncing: VFS", Level::Fatal, "panic"),
        ] {
            assert_eq!(level(text), (expected, Some(rule)), "{text:?}");
        }
    }

    #[test]
    fn words_that_are_not_failures_are_left_alone() {
        for text in [
            "backup finished with no errors",
            "processed 120 files, 0 failures",
            "wrote /var/log/error.log",
            "error_count=0 retries=0",
            "sync done errors=0 failed: 0",
            "a non-fatal condition was ignored",
            "session opened for user root by (uid=0)",
            "ErrorReporter started",
            "",
            "é".repeat(600).as_str(),
        ] {
            assert_eq!(level(text), (Level::Unknown, None), "{text:?}");
        }
    }
}
