//! Multiline: joins the lines of one event (a stack trace, a panic, a traceback) into one
//! record, per stream, so stdout and stderr never mix. An event ends at the next line that
//! starts one, after `timeout` without a new line, or at `max_lines` / `max_bytes`.
//!
//! Built-in rules (all of them in `auto`, the default):
//! - every language: an indented line continues the event (`\tat …`, `  File "…"`, `\tfrom …`,
//!   `    at fn (file.js:1:2)`, `\t/go/src/main.go:12 +0x1d`);
//! - Java: `Caused by: …` and exception headers (`java.lang.IllegalStateException: …`);
//! - Python: `Traceback (most recent call last):`, the exception line that ends it, and chained
//!   tracebacks ("During handling of the above exception…");
//! - Go: `panic:` / `fatal error:` / goroutine dumps, through blank lines, frames and `exit status`.

use super::container::CompleteLine;
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MultilineMode {
    /// Every line is an event.
    None,
    /// Every built-in rule.
    #[default]
    Auto,
    Java,
    Python,
    Go,
    Ruby,
    Nodejs,
    /// `start_pattern` and/or `continue_pattern`.
    Custom,
}

#[derive(Debug, Clone)]
pub struct MultilineSettings {
    pub mode: MultilineMode,
    /// A line matching this starts a new event (custom mode).
    pub start_pattern: Option<Regex>,
    /// A line matching this continues the current event (custom mode).
    pub continue_pattern: Option<Regex>,
    pub timeout: Duration,
    pub max_lines: usize,
    pub max_bytes: usize,
}

impl MultilineSettings {
    pub fn none() -> Self {
        Self {
            mode: MultilineMode::None,
            start_pattern: None,
            continue_pattern: None,
            timeout: Duration::from_secs(1),
            max_lines: 500,
            max_bytes: 256 * 1024,
        }
    }

    pub fn auto(max_bytes: usize) -> Self {
        Self {
            mode: MultilineMode::Auto,
            max_bytes,
            ..Self::none()
        }
    }
}

/// Which family of rules an event in progress is following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trace {
    Plain,
    PythonTraceback,
    PythonAfterException,
    PythonChained,
    GoDump,
}

#[derive(Debug)]
struct Pending {
    line: CompleteLine,
    lines: usize,
    trace: Trace,
    last_append: Instant,
}

#[derive(Debug)]
pub struct Aggregator {
    settings: MultilineSettings,
    pending: Vec<Pending>,
}

impl Aggregator {
    pub fn new(settings: MultilineSettings) -> Self {
        Self {
            settings,
            pending: Vec::new(),
        }
    }

    pub fn push(&mut self, line: CompleteLine, now: Instant, out: &mut Vec<CompleteLine>) {
        if self.settings.mode == MultilineMode::None {
            out.push(line);
            return;
        }
        let index = self
            .pending
            .iter()
            .position(|p| p.line.stream == line.stream);
        if let Some(index) = index {
            let pending = &mut self.pending[index];
            if let Some(trace) = continues(&self.settings, pending.trace, &line.bytes) {
                append(pending, line, trace, now, self.settings.max_bytes);
                if pending.lines >= self.settings.max_lines {
                    out.push(finish(self.pending.swap_remove(index)));
                }
                return;
            }
            out.push(finish(self.pending.swap_remove(index)));
        }
        let trace = starts(&line.bytes);
        self.pending.push(Pending {
            line,
            lines: 1,
            trace,
            last_append: now,
        });
    }

    /// Emits the events that waited `timeout` for another line.
    pub fn flush_expired(&mut self, now: Instant, out: &mut Vec<CompleteLine>) {
        let timeout = self.settings.timeout;
        let mut index = 0;
        while index < self.pending.len() {
            if now.duration_since(self.pending[index].last_append) >= timeout {
                out.push(finish(self.pending.swap_remove(index)));
            } else {
                index += 1;
            }
        }
    }

    /// End of input: every event in progress is emitted.
    pub fn finish(&mut self, out: &mut Vec<CompleteLine>) {
        self.pending.sort_by_key(|p| p.line.start_offset);
        out.extend(self.pending.drain(..).map(finish));
    }

    pub fn earliest_pending_start(&self) -> Option<u64> {
        self.pending.iter().map(|p| p.line.start_offset).min()
    }

    /// When the oldest event in progress times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .iter()
            .map(|p| p.last_append + self.settings.timeout)
            .min()
    }
}

fn append(pending: &mut Pending, line: CompleteLine, trace: Trace, now: Instant, max_bytes: usize) {
    let event = &mut pending.line;
    let room = max_bytes.saturating_sub(event.bytes.len() + 1);
    if line.bytes.len() <= room && !event.truncated {
        event.bytes.push(b'\n');
        event.bytes.extend_from_slice(&line.bytes);
    } else {
        if !event.truncated && room > 0 {
            event.bytes.push(b'\n');
            event.bytes.extend_from_slice(&line.bytes[..room]);
        }
        event.truncated = true;
    }
    event.truncated |= line.truncated;
    event.end_offset = line.end_offset;
    pending.lines += 1;
    pending.trace = trace;
    pending.last_append = now;
}

fn finish(mut pending: Pending) -> CompleteLine {
    // Blank lines absorbed while waiting for more of a trace are not part of the event.
    while pending.line.bytes.last() == Some(&b'\n') {
        pending.line.bytes.pop();
    }
    pending.line
}

/// The trace family a new event's first line opens.
fn starts(line: &[u8]) -> Trace {
    if is_go_dump_start(line) {
        Trace::GoDump
    } else if line == b"Traceback (most recent call last):" {
        Trace::PythonTraceback
    } else {
        Trace::Plain
    }
}

/// `Some(next state)` if `line` continues an event in state `trace`.
fn continues(settings: &MultilineSettings, trace: Trace, line: &[u8]) -> Option<Trace> {
    let mode = settings.mode;
    if mode == MultilineMode::Custom {
        let starts = settings.start_pattern.as_ref().map(|r| r.is_match(line));
        let continues = settings.continue_pattern.as_ref().map(|r| r.is_match(line));
        let joined = match (starts, continues) {
            (_, Some(true)) => true,
            (Some(true), _) => false,
            (Some(false), None) => true,
            _ => false,
        };
        return joined.then_some(Trace::Plain);
    }
    let any = |wanted: MultilineMode| mode == MultilineMode::Auto || mode == wanted;
    let indented = matches!(line.first(), Some(b' ' | b'\t'));

    if any(MultilineMode::Go) && trace == Trace::GoDump {
        return is_go_dump_line(line).then_some(Trace::GoDump);
    }
    if any(MultilineMode::Python) {
        match trace {
            Trace::PythonTraceback if indented => return Some(Trace::PythonTraceback),
            // The unindented line that ends a traceback: `ValueError: bad input`.
            Trace::PythonTraceback if !line.is_empty() => return Some(Trace::PythonAfterException),
            Trace::PythonAfterException | Trace::PythonChained if line.is_empty() => {
                return Some(trace);
            }
            Trace::PythonAfterException
                if line.starts_with(b"During handling of the above exception")
                    || line.starts_with(b"The above exception was the direct cause") =>
            {
                return Some(Trace::PythonChained);
            }
            Trace::PythonChained if line == b"Traceback (most recent call last):" => {
                return Some(Trace::PythonTraceback);
            }
            Trace::PythonAfterException | Trace::PythonChained => return None,
            _ => {}
        }
        if line == b"Traceback (most recent call last):" {
            return Some(Trace::PythonTraceback);
        }
    }
    if indented && !line.iter().all(u8::is_ascii_whitespace) {
        return Some(Trace::Plain);
    }
    if any(MultilineMode::Java)
        && (line.starts_with(b"Caused by: ") || is_java_exception_header(line))
    {
        return Some(Trace::Plain);
    }
    None
}

fn is_go_dump_start(line: &[u8]) -> bool {
    line.starts_with(b"panic: ")
        || line.starts_with(b"fatal error: ")
        || line.starts_with(b"SIGQUIT: ")
        || line.starts_with(b"SIGABRT: ")
        || (line.starts_with(b"goroutine ") && line.ends_with(b"]:"))
}

/// Lines of a Go panic or goroutine dump after its first line.
fn is_go_dump_line(line: &[u8]) -> bool {
    line.is_empty()
        || matches!(line.first(), Some(b'\t' | b' '))
        || line.starts_with(b"goroutine ")
        || line.starts_with(b"created by ")
        || line.starts_with(b"exit status ")
        || line.starts_with(b"[signal ")
        || line.starts_with(b"panic: ")
        || line.starts_with(b"[recovered]")
        || line.starts_with(b"rax ")
        || line.starts_with(b"PC=")
        || is_go_frame(line)
        || line.ends_with(b"...")
}

/// `main.main()`, `net/http.(*conn).serve(0xc000102000, {0x7a1e40, 0xc0000a2000})`: a function
/// name with no space before its argument list.
fn is_go_frame(line: &[u8]) -> bool {
    match line.iter().position(|b| *b == b'(') {
        Some(open) => open > 0 && line.ends_with(b")") && !line[..open].contains(&b' '),
        None => false,
    }
}

/// `java.lang.IllegalStateException: …`, `com.shop.PaymentError`: a dotted name whose last
/// part ends in Exception, Error or Throwable, then end of line or `:`.
fn is_java_exception_header(line: &[u8]) -> bool {
    let name_end = line
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$')))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let dotted = name.contains(&b'.') && name.first().is_some_and(u8::is_ascii_alphabetic);
    let thrown =
        name.ends_with(b"Exception") || name.ends_with(b"Error") || name.ends_with(b"Throwable");
    dotted && thrown && (name_end == line.len() || line[name_end] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(mode: MultilineMode, text: &str) -> Vec<String> {
        let settings = MultilineSettings {
            mode,
            ..MultilineSettings::auto(1 << 20)
        };
        run(settings, text)
    }

    fn run(settings: MultilineSettings, text: &str) -> Vec<String> {
        let mut aggregator = Aggregator::new(settings);
        let mut out = Vec::new();
        let now = Instant::now();
        for (index, line) in text.lines().enumerate() {
            let line = CompleteLine {
                bytes: line.as_bytes().to_vec(),
                stream: None,
                time_ns: None,
                truncated: false,
                start_offset: index as u64,
                end_offset: index as u64 + 1,
            };
            aggregator.push(line, now, &mut out);
        }
        aggregator.finish(&mut out);
        out.into_iter()
            .map(|l| String::from_utf8(l.bytes).unwrap())
            .collect()
    }

    #[test]
    fn java_exception_with_causes_is_one_event() {
        let text = "\
2024-05-01 10:00:00.123 ERROR 1 --- [main] com.shop.App : Payment failed
java.lang.IllegalStateException: card declined
\tat com.shop.Pay.charge(Pay.java:42)
\tat com.shop.App.main(App.java:10)
Caused by: java.io.IOException: timeout
\tat com.shop.Net.call(Net.java:7)
\t... 5 more
2024-05-01 10:00:01.000 INFO 1 --- [main] com.shop.App : next";
        let events = events(MultilineMode::Java, text);
        assert_eq!(events.len(), 2);
        assert!(events[0].ends_with("\t... 5 more"));
        assert_eq!(
            events[1],
            "2024-05-01 10:00:01.000 INFO 1 --- [main] com.shop.App : next"
        );
    }

    #[test]
    fn python_traceback_with_a_chained_exception_is_one_event() {
        let text = "\
ERROR:root:request failed
Traceback (most recent call last):
  File \"/app/main.py\", line 10, in handle
    value = int(raw)
ValueError: invalid literal for int() with base 10: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/app/main.py\", line 12, in handle
    raise RuntimeError(\"bad input\")
RuntimeError: bad input
INFO:root:next request";
        let events = events(MultilineMode::Python, text);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert!(events[0].ends_with("RuntimeError: bad input"));
        assert_eq!(events[1], "INFO:root:next request");
    }

    #[test]
    fn go_panic_with_goroutines_is_one_event() {
        let text = "\
panic: runtime error: index out of range [3] with length 3

goroutine 1 [running]:
main.handler(0xc000012345)
\t/app/main.go:12 +0x1d
main.main()
\t/app/main.go:20 +0x25

goroutine 7 [chan receive]:
main.worker()
\t/app/worker.go:8 +0x40
created by main.main in goroutine 1
\t/app/main.go:18 +0x30
exit status 2
{\"level\":\"info\",\"msg\":\"restarted\"}";
        let events = events(MultilineMode::Go, text);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert!(events[0].ends_with("exit status 2"));
    }

    #[test]
    fn ruby_and_node_stack_traces() {
        let ruby = "\
app.rb:10:in `charge': card declined (RuntimeError)
\tfrom app.rb:5:in `checkout'
\tfrom app.rb:1:in `<main>'
I, [2024-05-01T10:00:00] INFO -- : next";
        assert_eq!(events(MultilineMode::Ruby, ruby).len(), 2);
        let node = "\
Error: connect ECONNREFUSED 127.0.0.1:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)
    at process.processTicksAndRejections (node:internal/process/task_queues:82:21)
{\"level\":30,\"msg\":\"retrying\"}";
        assert_eq!(events(MultilineMode::Nodejs, node).len(), 2);
    }

    #[test]
    fn auto_handles_every_language_and_leaves_json_lines_alone() {
        let text = "\
{\"level\":\"info\",\"msg\":\"a\"}
{\"level\":\"info\",\"msg\":\"b\"}
Exception in thread \"main\" java.lang.NullPointerException
\tat com.shop.App.main(App.java:3)
{\"level\":\"info\",\"msg\":\"c\"}";
        assert_eq!(events(MultilineMode::Auto, text).len(), 4);
        assert_eq!(events(MultilineMode::None, text).len(), 5);
    }

    #[test]
    fn custom_start_pattern() {
        let settings = MultilineSettings {
            mode: MultilineMode::Custom,
            start_pattern: Some(Regex::new(r"^\[\d{4}-").unwrap()),
            ..MultilineSettings::auto(1 << 20)
        };
        let text = "[2024-05-01] first\nmore of first\n[2024-05-02] second";
        assert_eq!(
            run(settings, text),
            vec!["[2024-05-01] first\nmore of first", "[2024-05-02] second"]
        );
    }

    #[test]
    fn limits_and_timeout_end_an_event() {
        let settings = MultilineSettings {
            max_lines: 3,
            ..MultilineSettings::auto(1 << 20)
        };
        let text = "start\n at 1\n at 2\n at 3\n at 4";
        assert_eq!(run(settings, text).len(), 2);

        let settings = MultilineSettings {
            max_bytes: 12,
            ..MultilineSettings::auto(12)
        };
        let mut aggregator = Aggregator::new(settings);
        let mut out = Vec::new();
        let now = Instant::now();
        for (i, text) in ["start", "  at one", "  at two"].iter().enumerate() {
            let line = CompleteLine {
                bytes: text.as_bytes().to_vec(),
                stream: None,
                time_ns: None,
                truncated: false,
                start_offset: i as u64,
                end_offset: i as u64 + 1,
            };
            aggregator.push(line, now, &mut out);
        }
        assert!(out.is_empty());
        assert_eq!(
            aggregator.next_deadline(),
            Some(now + Duration::from_secs(1))
        );
        aggregator.flush_expired(now + Duration::from_millis(999), &mut out);
        assert!(out.is_empty());
        aggregator.flush_expired(now + Duration::from_secs(1), &mut out);
        assert_eq!(out[0].bytes, b"start\n  at o");
        assert!(out[0].truncated);
        assert_eq!(out[0].end_offset, 3);
    }

    #[test]
    fn streams_never_mix() {
        let mut aggregator = Aggregator::new(MultilineSettings::auto(1 << 20));
        let mut out = Vec::new();
        let now = Instant::now();
        let line = |text: &str, stream: &'static str, offset: u64| CompleteLine {
            bytes: text.as_bytes().to_vec(),
            stream: Some(stream),
            time_ns: None,
            truncated: false,
            start_offset: offset,
            end_offset: offset + 1,
        };
        aggregator.push(line("Error: boom", "stderr", 0), now, &mut out);
        aggregator.push(line("GET / 200", "stdout", 1), now, &mut out);
        aggregator.push(line("    at main (app.js:1:1)", "stderr", 2), now, &mut out);
        assert_eq!(aggregator.earliest_pending_start(), Some(0));
        aggregator.finish(&mut out);
        let texts: Vec<&[u8]> = out.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(
            texts,
            vec![&b"Error: boom\n    at main (app.js:1:1)"[..], b"GET / 200"]
        );
    }
}
