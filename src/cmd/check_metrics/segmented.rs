//! The input checked in segments on every core: a thread reads and cuts the input where
//! families begin, workers check the segments, and this thread joins their verdicts in order
//! ([`crate::metrics::exposition::segment`]): the verdict of one linter reading it all, as
//! fast as the cores allow (a 100 MB exposition is checked in well under a second).
//!
//! Memory is bounded: at most `IN_FLIGHT` segment buffers exist, each about
//! [`Sizes::segment`] and a read (at most [`Sizes::max_segment`], or one line of up to
//! `MAX_LINE_BYTES`).
//! A family longer than a segment is read on in continuation segments, one after the
//! other, by this thread.

use super::MAX_LINE_BYTES;
use crate::metrics::exposition::Format;
use crate::metrics::exposition::lint::{self, LintJoined, LintSegment, Linter};
use crate::metrics::exposition::parser::ParseError;
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// Appends the next bytes of the input to the buffer; `false` at the end of the input.
pub type Source = Box<dyn FnMut(&mut Vec<u8>) -> Result<bool, String> + Send>;

/// How segments are sized (smaller under test, to cut small inputs).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// A segment is cut at the first family boundary past this many bytes.
    pub segment: usize,
    /// With no boundary by this many bytes, the family goes on in a continuation segment.
    pub max_segment: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            segment: 1 << 20,
            max_segment: 4 << 20,
        }
    }
}

/// Segments between the reader and the verdict at one time.
const IN_FLIGHT: usize = 6;

/// What a source reads at a time: a buffer holds a segment and one read past its end.
pub const READ_BYTES: usize = 256 << 10;

pub type Verdict = Result<Vec<lint::Finding>, ParseError>;

/// Checks the input against each of `formats`; the format judged is `forced`, else
/// OpenMetrics if the last line was `# EOF`, else text. `Err` for an input that could not
/// be read (or is not UTF-8, or has a line too long).
pub fn check(
    source: Source,
    formats: &[Format],
    forced: Option<Format>,
    sizes: Sizes,
) -> Result<(Format, Verdict), String> {
    // A credit is a buffer for the next segment: they go round, so at most IN_FLIGHT
    // exist, and are allocated once.
    let (credit_tx, credit_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        credit_tx.send(Vec::new()).expect("room for every credit");
    }
    let (job_tx, job_rx) = sync_channel::<Work>(IN_FLIGHT);
    let (done_tx, done_rx) = sync_channel::<(usize, Outcome)>(IN_FLIGHT);
    // Detached: a reader blocked on stdin must not keep a verdict from being given.
    std::thread::spawn(move || cut(source, sizes, &credit_rx, &job_tx));
    let job_rx = Arc::new(Mutex::new(job_rx));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..workers {
        let jobs = Arc::clone(&job_rx);
        let done = done_tx.clone();
        let formats = formats.to_vec();
        std::thread::spawn(move || work(&jobs, &done, &formats));
    }
    drop(done_tx);
    join(&done_rx, &credit_tx, formats, forced)
}

/// A stretch of the input, from the start of a line to the start of another.
struct Job {
    index: usize,
    first_line: usize,
    bytes: Vec<u8>,
    /// It goes on with the family the job before ended in.
    continuation: bool,
    /// The job after goes on with the family this one ends in.
    continued: bool,
    last: bool,
}

enum Outcome {
    /// A segment checked to its end (and its buffer, to be used again).
    Done(Checked, Vec<u8>),
    /// A segment whose last family goes on in the next: its checks, to be fed on.
    Open(Checks, Vec<u8>),
    /// A continuation, for the thread that joins to feed to the checks before it.
    Continuation(Job),
    /// The input cannot be checked from here on.
    Fatal(String),
}

/// The reader's thread: reads the input and cuts it into jobs.
fn cut(mut source: Source, sizes: Sizes, credits: &Receiver<Vec<u8>>, jobs: &SyncSender<Work>) {
    let mut cutter = Cutter {
        pending: Vec::with_capacity(sizes.segment + READ_BYTES),
        sizes,
        index: 0,
        first_line: 1,
        continuation: false,
        credits,
        jobs,
    };
    // Where the search for a boundary goes on (the bytes before were searched).
    let mut searched = 0;
    loop {
        let more = match source(&mut cutter.pending) {
            Ok(more) => more,
            Err(error) => return cutter.fatal(error),
        };
        while cutter.pending.len() >= sizes.segment {
            let from = sizes.segment.max(searched);
            if let Some(at) = family_boundary(&cutter.pending, from) {
                searched = 0;
                if !cutter.send(at, false, false) {
                    return;
                }
                continue;
            }
            // A boundary's first 8 bytes may be at the end, the rest still to come.
            searched = cutter.pending.len().saturating_sub(8);
            if cutter.pending.len() < sizes.max_segment {
                break;
            }
            match memchr::memrchr(b'\n', &cutter.pending) {
                Some(end) => {
                    searched = 0;
                    if !cutter.send(end + 1, true, false) {
                        return;
                    }
                }
                None if cutter.pending.len() > MAX_LINE_BYTES => {
                    let line = cutter.first_line;
                    return cutter.fatal(format!(
                        "line {line}: longer than {} MiB",
                        MAX_LINE_BYTES >> 20
                    ));
                }
                None => break,
            }
        }
        if !more {
            let all = cutter.pending.len();
            cutter.send(all, false, true);
            return;
        }
    }
}

/// What goes to the workers.
enum Work {
    Job(Job),
    /// The input cannot be read on from segment `index`.
    Fatal {
        index: usize,
        error: String,
    },
}

struct Cutter<'a> {
    /// The input read and not yet sent, from the start of a line.
    pending: Vec<u8>,
    sizes: Sizes,
    index: usize,
    first_line: usize,
    /// The next job goes on with the family the last one ended in.
    continuation: bool,
    credits: &'a Receiver<Vec<u8>>,
    jobs: &'a SyncSender<Work>,
}

impl Cutter<'_> {
    /// Sends `pending[..at]` as the next job once a credit allows; `false` when the verdict
    /// needs no more.
    fn send(&mut self, at: usize, continued: bool, last: bool) -> bool {
        let Ok(mut rest) = self.credits.recv() else {
            return false;
        };
        rest.clear();
        rest.reserve(self.sizes.segment + READ_BYTES);
        rest.extend_from_slice(&self.pending[at..]);
        self.pending.truncate(at);
        let bytes = std::mem::replace(&mut self.pending, rest);
        let open_line = !bytes.is_empty() && !bytes.ends_with(b"\n");
        let lines = memchr::memchr_iter(b'\n', &bytes).count() + usize::from(open_line);
        let job = Job {
            index: self.index,
            first_line: self.first_line,
            bytes,
            continuation: self.continuation,
            continued,
            last,
        };
        self.index += 1;
        self.first_line += lines;
        self.continuation = continued;
        self.jobs.send(Work::Job(job)).is_ok()
    }

    fn fatal(&self, error: String) {
        if self.credits.recv().is_ok() {
            let _ = self.jobs.send(Work::Fatal {
                index: self.index,
                error,
            });
        }
    }
}

/// The start of a line, at or after `from`, where a family begins: a `# HELP` or `# TYPE`
/// line right after a sample line (after a comment, it might describe the family that
/// comment's family already is).
fn family_boundary(bytes: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(1).min(bytes.len());
    let finder = memchr::memmem::Finder::new(b"\n# ");
    for hit in finder.find_iter(&bytes[start..]) {
        let newline = start + hit;
        let line = newline + 1;
        let keyword = &bytes[line + 2..];
        if !(keyword.starts_with(b"HELP ") || keyword.starts_with(b"TYPE ")) {
            continue;
        }
        let before = memchr::memrchr(b'\n', &bytes[..newline]).map_or(0, |p| p + 1);
        match bytes.get(before..newline).and_then(|l| l.first()) {
            Some(b'#' | b' ' | b'\t') | None => continue,
            Some(_) => return Some(line),
        }
    }
    None
}

/// A worker: checks jobs until there are none.
fn work(jobs: &Mutex<Receiver<Work>>, done: &SyncSender<(usize, Outcome)>, formats: &[Format]) {
    loop {
        // The lock is held only while waiting for a job, not while checking it.
        let work = match jobs.lock().map(|receiver| receiver.recv()) {
            Ok(Ok(work)) => work,
            _ => return,
        };
        let (index, outcome) = match work {
            Work::Fatal { index, error } => (index, Outcome::Fatal(error)),
            Work::Job(job) if job.continuation => (job.index, Outcome::Continuation(job)),
            Work::Job(job) => {
                let mut checks = Checks::new(formats, job.first_line);
                let outcome = match checks.feed(&job.bytes, job.first_line) {
                    Err(error) => Outcome::Fatal(error),
                    Ok(()) if job.continued => Outcome::Open(checks, job.bytes),
                    Ok(()) => Outcome::Done(checks.finish(job.last), job.bytes),
                };
                (job.index, outcome)
            }
        };
        if done.send((index, outcome)).is_err() {
            return;
        }
    }
}

/// The verdict: the segments' outcomes joined in order.
fn join(
    done: &Receiver<(usize, Outcome)>,
    credits: &SyncSender<Vec<u8>>,
    formats: &[Format],
    forced: Option<Format>,
) -> Result<(Format, Verdict), String> {
    let mut joined: Vec<LintJoined> = formats.iter().map(|&f| LintJoined::new(f)).collect();
    let mut early = BTreeMap::new();
    let mut ended_with_eof = false;
    let mut open: Option<Checks> = None;
    let mut expected = 0;
    loop {
        let outcome = match early.remove(&expected) {
            Some(outcome) => outcome,
            None => match done.recv() {
                Ok((index, outcome)) if index != expected => {
                    early.insert(index, outcome);
                    continue;
                }
                Ok((_, outcome)) => outcome,
                Err(_) => return Err("the checker stopped before the end of the input".into()),
            },
        };
        expected += 1;
        // Each outcome gives its credit back; one of a failed input is not needed.
        let credit = |buffer: Vec<u8>| {
            let _ = credits.try_send(buffer);
        };
        let checked = match outcome {
            Outcome::Fatal(error) => return Err(error),
            Outcome::Open(checks, buffer) => {
                credit(buffer);
                open = Some(checks);
                continue;
            }
            Outcome::Continuation(job) => {
                let Some(mut checks) = open.take() else {
                    return Err("a continuation with nothing to continue".into());
                };
                checks.feed(&job.bytes, job.first_line)?;
                credit(job.bytes);
                if job.continued {
                    open = Some(checks);
                    continue;
                }
                checks.finish(job.last)
            }
            Outcome::Done(checked, buffer) => {
                credit(buffer);
                checked
            }
        };
        if checked.lines > 0 {
            ended_with_eof = checked.ended_with_eof;
        }
        for (joined, segment) in joined.iter_mut().zip(checked.segments) {
            joined.join(segment, checked.first_line, checked.lines);
        }
        if checked.last {
            break;
        }
    }
    let format = forced.unwrap_or(if ended_with_eof {
        Format::OpenMetrics
    } else {
        Format::Text
    });
    let position = formats
        .iter()
        .position(|f| *f == format)
        .ok_or("no check for the format judged")?;
    Ok((format, joined.swap_remove(position).finish()))
}

/// One linter per candidate format over one segment (and its continuations), fed the same
/// lines; one that fails stops being fed.
struct Checks {
    /// Each linter, and the error that stopped it (its notes up to there still count).
    linters: Vec<(Linter, Option<ParseError>)>,
    first_line: usize,
    lines: usize,
    ended_with_eof: bool,
}

/// A segment checked to its end.
struct Checked {
    segments: Vec<LintSegment>,
    first_line: usize,
    lines: usize,
    ended_with_eof: bool,
    last: bool,
}

impl Checks {
    fn new(formats: &[Format], first_line: usize) -> Self {
        Self {
            linters: formats
                .iter()
                .map(|&f| (Linter::segment(f, first_line), None))
                .collect(),
            first_line,
            lines: 0,
            ended_with_eof: false,
        }
    }

    /// The lines of `bytes`, which begin at line `first_line`.
    fn feed(&mut self, bytes: &[u8], first_line: usize) -> Result<(), String> {
        let text = std::str::from_utf8(bytes).map_err(|error| {
            let valid = &bytes[..error.valid_up_to()];
            let line_start = memchr::memrchr(b'\n', valid).map_or(0, |p| p + 1);
            let line = first_line + memchr::memchr_iter(b'\n', valid).count();
            format!("line {line}: not UTF-8 (byte {})", valid.len() - line_start)
        })?;
        if text.is_empty() {
            return Ok(());
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', bytes) {
            self.line(&text[start..end]);
            start = end + 1;
        }
        if start < text.len() {
            self.line(&text[start..]);
        }
        Ok(())
    }

    fn line(&mut self, line: &str) {
        self.lines += 1;
        self.ended_with_eof = line == "# EOF";
        for (linter, failed) in &mut self.linters {
            if failed.is_none()
                && let Err(error) = linter.line(line)
            {
                *failed = Some(error);
            }
        }
    }

    fn finish(self, last: bool) -> Checked {
        Checked {
            segments: self
                .linters
                .into_iter()
                .map(|(linter, failed)| linter.finish_segment(failed, last))
                .collect(),
            first_line: self.first_line,
            lines: self.lines,
            ended_with_eof: self.ended_with_eof,
            last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The verdict of one linter reading every line, as `check-metrics` gave it before it
    /// checked in segments: what the segments must agree with.
    fn one_linter(input: &[u8], formats: &[Format], forced: Option<Format>) -> (Format, Verdict) {
        let text = std::str::from_utf8(input).unwrap();
        let mut linters: Vec<_> = formats.iter().map(|&f| (f, Linter::new(f), None)).collect();
        let mut last = "";
        let body = text.strip_suffix('\n').unwrap_or(text);
        if !text.is_empty() {
            for line in body.split('\n') {
                last = line;
                for (_, linter, failed) in &mut linters {
                    if failed.is_none()
                        && let Err(error) = linter.line(line)
                    {
                        *failed = Some(error);
                    }
                }
            }
        }
        let format = forced.unwrap_or(if last == "# EOF" {
            Format::OpenMetrics
        } else {
            Format::Text
        });
        let (_, linter, failed) = linters.into_iter().find(|(f, ..)| *f == format).unwrap();
        (format, failed.map_or_else(|| linter.finish(), Err))
    }

    /// The input handed over `chunk` bytes at a time.
    fn source(input: &[u8], chunk: usize) -> Source {
        let mut rest = input.to_vec();
        Box::new(move |buffer: &mut Vec<u8>| {
            let take = chunk.min(rest.len());
            buffer.extend(rest.drain(..take));
            Ok(take > 0)
        })
    }

    fn segmented(
        input: &[u8],
        formats: &[Format],
        forced: Option<Format>,
        segment: usize,
        chunk: usize,
    ) -> (Format, Verdict) {
        let sizes = Sizes {
            segment,
            max_segment: segment * 3,
        };
        check(source(input, chunk), formats, forced, sizes).unwrap()
    }

    const FORMATS: [(&[Format], Option<Format>); 3] = [
        (&[Format::Text], Some(Format::Text)),
        (&[Format::OpenMetrics], Some(Format::OpenMetrics)),
        (&[Format::Text, Format::OpenMetrics], None),
    ];

    fn agree(input: &[u8], segment: usize, chunk: usize) {
        for (formats, forced) in FORMATS {
            assert_eq!(
                segmented(input, formats, forced, segment, chunk),
                one_linter(input, formats, forced),
                "segment {segment}, chunk {chunk}, {formats:?}:\n{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/data/exposition/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn real_expositions_get_one_linters_verdict_whatever_the_segments() {
        for name in ["node_exporter.txt", "checkout.om.txt", "broken.txt"] {
            let input = fixture(name);
            for segment in [1, 64, 1000, 1 << 20] {
                agree(&input, segment, 4096);
            }
            agree(&input, 100, 7);
        }
    }

    #[test]
    fn every_conformance_case_gets_one_linters_verdict_in_segments() {
        let all = fixture("openmetrics-conformance.txt");
        let all = String::from_utf8(all).unwrap();
        for case in all.split("\n=== ").skip(1) {
            let body = case.split_once('\n').map_or("", |(_, body)| body);
            let body = format!("{body}\n");
            agree(body.as_bytes(), 1, 3);
            agree(body.as_bytes(), 30, 64);
        }
    }

    #[test]
    fn a_family_longer_than_a_segment_goes_on_in_continuations() {
        let mut input = String::from("# TYPE big counter\n");
        for i in 0..500 {
            input.push_str(&format!("big{{i=\"{i}\"}} {i}\n"));
        }
        input.push_str("# TYPE small gauge\nsmall 1\nbig{i=\"3\"} 1\n");
        agree(input.as_bytes(), 100, 333);
        // The duplicate is found, and on its own line, though its family spans segments.
        let duplicate = input.replace("big{i=\"400\"}", "big{i=\"4\"}");
        let (_, verdict) = segmented(duplicate.as_bytes(), &[Format::Text], None, 100, 333);
        assert_eq!(verdict.unwrap_err().line, 402);
    }

    #[test]
    fn input_that_is_not_utf8_is_refused_with_its_line() {
        let input = b"# TYPE a gauge\na 1\n# TYPE b gauge\nb{x=\"\xff\"} 1\n";
        let sizes = Sizes {
            segment: 4,
            max_segment: 12,
        };
        let error = check(source(input, 5), &[Format::Text], None, sizes).unwrap_err();
        assert_eq!(error, "line 4: not UTF-8 (byte 5)");
    }

    /// Lines from a few families, right and wrong, to be put together at random.
    fn line() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "# HELP a A gauge.",
            "# TYPE a gauge",
            "a 1",
            "a{x=\"1\"} 2",
            "a{x=\"1\"} 2 1000",
            "# TYPE b counter",
            "# HELP b A counter.",
            "b_total 3",
            "b_created 1",
            "b_total{y=\"2\"} -1",
            "# TYPE c histogram",
            "c_bucket{le=\"1\"} 1",
            "c_bucket{le=\"+Inf\"} 2",
            "c_count 2",
            "c_sum 3",
            "# TYPE c_total gauge",
            "c_total 1",
            "# UNIT d_seconds seconds",
            "# TYPE d_seconds summary",
            "d_seconds{quantile=\"0.5\"} 1",
            "d_seconds_count 1",
            "d_seconds_sum 1",
            "# comment",
            "",
            "# EOF",
            "e{ 1",
            "fooBar{camelCase=\"1\"} 1",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn any_exposition_gets_one_linters_verdict_in_segments(
            lines in prop::collection::vec(line(), 0..40),
            segment in 1usize..120,
            chunk in 1usize..50,
            newline_at_end in any::<bool>(),
        ) {
            let mut input = lines.join("\n");
            if newline_at_end {
                input.push('\n');
            }
            agree(input.as_bytes(), segment, chunk);
        }
    }
}
