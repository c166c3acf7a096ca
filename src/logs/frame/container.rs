//! Container runtime log formats, decoded line by line, and the reassembly of lines the
//! runtime split into parts.
//!
//! - Kubernetes CRI (containerd, CRI-O): `<RFC 3339 time> <stdout|stderr> <P|F> <content>`,
//!   where `P` marks a part that continues in the next record of the same stream.
//! - Docker json-file: `{"log":"…\n","stream":"stdout","time":"…"}`, where a `log` that does
//!   not end in `\n` is a part (Docker splits lines at 16 KiB).

use crate::logs::timestamp;
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1};
use nom::character::complete::char;
use nom::combinator::{opt, rest};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContainerFormat {
    /// Decided per file from its first line.
    #[default]
    Auto,
    Cri,
    Docker,
    /// Lines as they are.
    Raw,
}

/// One record of a container log, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub stream: Option<&'static str>,
    pub content: Vec<u8>,
    /// The line continues in the next record of the same stream.
    pub partial: bool,
    pub time_ns: Option<i64>,
}

impl ContainerFormat {
    /// The format of a file whose first line is `line`.
    pub fn detect(line: &[u8]) -> ContainerFormat {
        if decode_docker(line).is_some() {
            ContainerFormat::Docker
        } else if decode_cri(line).is_some() {
            ContainerFormat::Cri
        } else {
            ContainerFormat::Raw
        }
    }

    /// Decodes one line; a line that is not in the format is kept whole as content.
    pub fn decode(self, line: Vec<u8>) -> (Decoded, bool) {
        let decoded = match self {
            ContainerFormat::Cri => decode_cri(&line),
            ContainerFormat::Docker => decode_docker(&line),
            ContainerFormat::Auto | ContainerFormat::Raw => None,
        };
        let valid =
            decoded.is_some() || matches!(self, ContainerFormat::Auto | ContainerFormat::Raw);
        let decoded = decoded.unwrap_or(Decoded {
            stream: None,
            content: line,
            partial: false,
            time_ns: None,
        });
        (decoded, valid)
    }
}

fn stream_name(name: &[u8]) -> Option<&'static str> {
    match name {
        b"stdout" => Some("stdout"),
        b"stderr" => Some("stderr"),
        _ => None,
    }
}

type CriParts<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);

fn cri_parts(input: &[u8]) -> IResult<&[u8], CriParts<'_>> {
    let (input, (time, _, stream, _, flag)) = (
        take_till1(|b| b == b' '),
        char(' '),
        alt((tag("stdout"), tag("stderr"))),
        char(' '),
        take_till1(|b| b == b' '),
    )
        .parse(input)?;
    let (input, content) = opt((char(' '), rest)).parse(input)?;
    Ok((
        input,
        (time, stream, flag, content.map_or(&b""[..], |(_, c)| c)),
    ))
}

/// A CRI line, or `None` if the line is not one.
pub fn decode_cri(line: &[u8]) -> Option<Decoded> {
    let (_, (time, stream, flag, content)) = cri_parts(line).ok()?;
    let time_ns = timestamp::parse_rfc3339(std::str::from_utf8(time).ok()?)?;
    // The tag is `P` or `F`, possibly followed by more flags after `:` in future runtimes.
    let partial = match flag.split(|b| *b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Decoded {
        stream: stream_name(stream),
        content: content.to_vec(),
        partial,
        time_ns: Some(time_ns),
    })
}

#[derive(Deserialize)]
struct DockerLine {
    log: String,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    time: Option<String>,
}

/// A Docker json-file line, or `None` if the line is not one.
pub fn decode_docker(line: &[u8]) -> Option<Decoded> {
    if !line.starts_with(b"{") {
        return None;
    }
    let parsed: DockerLine = serde_json::from_slice(line).ok()?;
    let mut content = parsed.log.into_bytes();
    let partial = content.last() != Some(&b'\n');
    if !partial {
        content.pop();
        if content.last() == Some(&b'\r') {
            content.pop();
        }
    }
    Some(Decoded {
        stream: parsed
            .stream
            .as_deref()
            .and_then(|s| stream_name(s.as_bytes())),
        content,
        partial,
        time_ns: parsed.time.as_deref().and_then(timestamp::parse_rfc3339),
    })
}

/// A whole line after reassembly, with the stream offsets it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteLine {
    pub bytes: Vec<u8>,
    pub stream: Option<&'static str>,
    pub time_ns: Option<i64>,
    pub truncated: bool,
    /// Offset of the first byte of the first record of this line.
    pub start_offset: u64,
    /// Offset just past the last record of this line.
    pub end_offset: u64,
}

/// Joins partial records per stream, so stdout and stderr parts never mix. A joined line is
/// capped at `max_bytes` (the rest is dropped and the line marked truncated).
#[derive(Debug)]
pub struct Reassembler {
    max_bytes: usize,
    pending: Vec<(Option<&'static str>, CompleteLine)>,
}

impl Reassembler {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            pending: Vec::new(),
        }
    }

    /// Adds one decoded record spanning `[start, end)`; a completed line goes to `out`.
    pub fn push(
        &mut self,
        record: Decoded,
        truncated: bool,
        start: u64,
        end: u64,
        out: &mut Vec<CompleteLine>,
    ) {
        let index = self.pending.iter().position(|(s, _)| *s == record.stream);
        let mut line = match index {
            Some(index) => {
                let (_, mut line) = self.pending.swap_remove(index);
                let room = self.max_bytes.saturating_sub(line.bytes.len());
                if record.content.len() > room {
                    line.bytes.extend_from_slice(&record.content[..room]);
                    line.truncated = true;
                } else {
                    line.bytes.extend_from_slice(&record.content);
                }
                line.truncated |= truncated;
                line.end_offset = end;
                line
            }
            None => CompleteLine {
                bytes: record.content,
                stream: record.stream,
                time_ns: record.time_ns,
                truncated,
                start_offset: start,
                end_offset: end,
            },
        };
        if line.bytes.len() > self.max_bytes {
            line.bytes.truncate(self.max_bytes);
            line.truncated = true;
        }
        if record.partial {
            self.pending.push((record.stream, line));
        } else {
            out.push(line);
        }
    }

    /// Offset of the oldest part still waiting for its end.
    pub fn earliest_pending_start(&self) -> Option<u64> {
        self.pending.iter().map(|(_, l)| l.start_offset).min()
    }

    /// End of input: the parts waiting are emitted as they are.
    pub fn finish(&mut self, out: &mut Vec<CompleteLine>) {
        self.pending.sort_by_key(|(_, l)| l.start_offset);
        out.extend(self.pending.drain(..).map(|(_, l)| l));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cri_lines_full_partial_and_empty() {
        let full = decode_cri(b"2024-05-01T10:00:00.123456789Z stdout F GET /healthz 200").unwrap();
        assert_eq!(full.stream, Some("stdout"));
        assert_eq!(full.content, b"GET /healthz 200");
        assert!(!full.partial);
        assert_eq!(full.time_ns, Some(1_714_557_600_123_456_789));

        let part = decode_cri(b"2024-05-01T10:00:00.1+02:00 stderr P half a li").unwrap();
        assert!(part.partial);
        assert_eq!(part.stream, Some("stderr"));

        let empty = decode_cri(b"2024-05-01T10:00:00Z stdout F").unwrap();
        assert_eq!(empty.content, b"");
        assert_eq!(
            decode_cri(b"2024-05-01T10:00:00Z stdout F ")
                .unwrap()
                .content,
            b""
        );

        assert!(decode_cri(b"2024-05-01T10:00:00Z stdin F x").is_none());
        assert!(decode_cri(b"not-a-time stdout F x").is_none());
        assert!(decode_cri(b"2024-05-01T10:00:00Z stdout X x").is_none());
    }

    #[test]
    fn docker_lines_full_and_partial() {
        let full = decode_docker(
            br#"{"log":"listening on :8080\n","stream":"stdout","time":"2024-05-01T10:00:00.5Z"}"#,
        )
        .unwrap();
        assert_eq!(full.content, b"listening on :8080");
        assert!(!full.partial);
        assert_eq!(full.time_ns, Some(1_714_557_600_500_000_000));
        let part =
            decode_docker(br#"{"log":"aaaa","stream":"stderr","time":"2024-05-01T10:00:00.5Z"}"#)
                .unwrap();
        assert!(part.partial);
        assert_eq!(part.stream, Some("stderr"));
        assert!(decode_docker(br#"{"msg":"not docker"}"#).is_none());
    }

    #[test]
    fn detection_by_first_line() {
        assert_eq!(
            ContainerFormat::detect(
                br#"{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#
            ),
            ContainerFormat::Docker
        );
        assert_eq!(
            ContainerFormat::detect(b"2024-05-01T10:00:00Z stdout F x"),
            ContainerFormat::Cri
        );
        assert_eq!(
            ContainerFormat::detect(br#"{"level":"info"}"#),
            ContainerFormat::Raw
        );
    }

    #[test]
    fn parts_are_joined_per_stream_without_mixing_streams() {
        let mut reassembler = Reassembler::new(1024);
        let mut out = Vec::new();
        let records: [&[u8]; 5] = [
            b"2024-05-01T10:00:00Z stdout P hello ",
            b"2024-05-01T10:00:00Z stderr F oops",
            b"2024-05-01T10:00:01Z stdout P big ",
            b"2024-05-01T10:00:02Z stdout F world",
            b"2024-05-01T10:00:03Z stderr F second",
        ];
        let mut offset = 0;
        for record in records {
            let end = offset + record.len() as u64 + 1;
            let (decoded, _) = ContainerFormat::Cri.decode(record.to_vec());
            reassembler.push(decoded, false, offset, end, &mut out);
            if out.is_empty() {
                assert_eq!(reassembler.earliest_pending_start(), Some(0));
            }
            offset = end;
        }
        let lines: Vec<(&[u8], Option<&str>)> =
            out.iter().map(|l| (l.bytes.as_slice(), l.stream)).collect();
        assert_eq!(
            lines,
            vec![
                (&b"oops"[..], Some("stderr")),
                (b"hello big world", Some("stdout")),
                (b"second", Some("stderr")),
            ]
        );
        assert_eq!(out[1].start_offset, 0);
        assert_eq!(
            out[1].time_ns,
            Some(1_714_557_600_000_000_000),
            "the first part's time"
        );
        assert_eq!(reassembler.earliest_pending_start(), None);
    }

    #[test]
    fn a_joined_line_is_capped() {
        let mut reassembler = Reassembler::new(8);
        let mut out = Vec::new();
        for _ in 0..1000 {
            let (decoded, _) =
                ContainerFormat::Cri.decode(b"2024-05-01T10:00:00Z stdout P 0123456789".to_vec());
            reassembler.push(decoded, false, 0, 1, &mut out);
        }
        let (decoded, _) =
            ContainerFormat::Cri.decode(b"2024-05-01T10:00:00Z stdout F end".to_vec());
        reassembler.push(decoded, false, 0, 1, &mut out);
        assert_eq!(out[0].bytes, b"01234567");
        assert!(out[0].truncated);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_cri(&bytes);
            let _ = decode_docker(&bytes);
            let _ = ContainerFormat::detect(&bytes);
        }

        #[test]
        fn cri_like_lines_never_panic(time in "[0-9T:.Z+-]{0,40}", stream in "(stdout|stderr|x)", flag in "[PF:x]{0,3}", content in ".{0,40}") {
            let line = format!("{time} {stream} {flag} {content}");
            let _ = decode_cri(line.as_bytes());
        }
    }
}
