//! An exposition checked in segments, in parallel, with the verdict of one parser reading it
//! all. A segment begins where a family does (a `# HELP` or `# TYPE` line after a sample),
//! so every rule within a family holds inside one segment. The rules across families (a
//! family described twice, interleaved, a sample name claimed twice, nothing after
//! `# EOF`) need the families before: a segment's parser notes each such check that passed
//! with what it had ([`Undecided`]), and [`Joined::join`], taking the segments in order,
//! decides them against the families of all the segments before.

use super::parser::ParseError;
use rustc_hash::FxHashSet;

/// The checks against earlier families that a segment's parser passed with only its own
/// families to go by: each fails if a segment before has the name. A few per family.
#[derive(Debug, Default)]
pub struct Undecided {
    checks: Vec<Check>,
    /// The family open at the segment's end (the next segment must not describe it again).
    pub(super) last_family: Option<String>,
}

#[derive(Debug)]
struct Check {
    line: usize,
    name: String,
    /// Against the names claimed (else the families closed).
    claimed: bool,
    message: String,
}

impl Undecided {
    pub(super) fn note(&mut self, line: usize, name: &str, claimed: bool, message: String) {
        self.checks.push(Check {
            line,
            name: name.to_owned(),
            claimed,
            message,
        });
    }
}

/// What one segment leaves for those after it.
#[derive(Debug, Default)]
pub struct Segment {
    pub(super) closed: FxHashSet<String>,
    pub(super) claimed: FxHashSet<String>,
    /// It ended with `# EOF`.
    pub(super) eof: bool,
    pub(super) undecided: Undecided,
}

/// The segments joined so far: their families and claimed names (bounded by the families
/// of the input, as in one parser), and the family the last one left open.
#[derive(Debug, Default)]
pub struct Joined {
    closed: FxHashSet<String>,
    claimed: FxHashSet<String>,
    eof: bool,
    last_family: Option<String>,
    /// An error found closing the last segment's last family, on the next segment's first
    /// line: it stands unless that line describes the same family again, which one parser
    /// reports first.
    deferred: Option<ParseError>,
}

impl Joined {
    /// Joins the next segment, which holds lines `first_line..` (`lines` of them) and whose
    /// parser stopped at `error`, if it did: the first error of the input read so far.
    pub fn join(
        &mut self,
        segment: Segment,
        first_line: usize,
        lines: usize,
        error: Option<ParseError>,
    ) -> Result<(), ParseError> {
        let at = |line: usize, message: String| ParseError {
            line,
            column: 1,
            message,
        };
        let reopens = |check: &Check, last_family: Option<&str>| {
            check.line == first_line && !check.claimed && last_family == Some(check.name.as_str())
        };
        if let Some(deferred) = self.deferred.take() {
            let last_family = self.last_family.as_deref();
            return Err(
                match segment
                    .undecided
                    .checks
                    .iter()
                    .find(|c| reopens(c, last_family))
                {
                    Some(check) if lines > 0 => at(
                        check.line,
                        format!("a descriptor for `{}` after its samples", check.name),
                    ),
                    _ => deferred,
                },
            );
        }
        if self.eof && lines > 0 {
            return Err(at(first_line, "nothing may follow # EOF".into()));
        }
        // A check on a line up to the parser's error came before it (a parser stops at its
        // first error).
        let stop = error.as_ref().map_or(usize::MAX, |e| e.line);
        // One parser would have found the family still open, and said so before checking
        // anything else on that line.
        let last_family = self.last_family.as_deref();
        if let Some(check) = segment
            .undecided
            .checks
            .iter()
            .find(|c| reopens(c, last_family))
        {
            return Err(at(
                check.line,
                format!("a descriptor for `{}` after its samples", check.name),
            ));
        }
        let failed = segment.undecided.checks.into_iter().find(|check| {
            check.line <= stop
                && if check.claimed {
                    self.claimed.contains(&check.name)
                } else {
                    self.closed.contains(&check.name)
                }
        });
        let error = failed.map(|check| at(check.line, check.message)).or(error);
        if let Some(error) = error {
            let boundary = first_line + lines;
            if error.line == boundary && segment.undecided.last_family.is_some() {
                self.last_family = segment.undecided.last_family;
                self.deferred = Some(error);
                return Ok(());
            }
            return Err(error);
        }
        self.closed.extend(segment.closed);
        self.claimed.extend(segment.claimed);
        self.eof = segment.eof;
        self.last_family = segment.undecided.last_family;
        Ok(())
    }

    /// The end of the input: an error left for a next line that never came.
    pub fn finish(&mut self) -> Result<(), ParseError> {
        self.deferred.take().map_or(Ok(()), Err)
    }
}
